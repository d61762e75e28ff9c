import ArgumentParser
import Foundation
import Encoders
import GLUE
import Tensors
import Training

/// `lora params`: trainable and total parameter counts for a method.
struct ParamsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "params",
        abstract: "Print trainable and total parameters for full fine-tuning or LoRA, and the reduction."
    )

    @Option(help: "Hugging Face model directory (config.json + model.safetensors).")
    var model: String

    @Option(help: "lora or full.")
    var method: FineTuningMethod = .lora

    @Option(help: "Outputs of the classification head (default: the checkpoint's num_labels).")
    var numLabels: Int?

    @OptionGroup var lora: LoRAOptions

    @Flag(help: "Print one JSON object.")
    var json = false

    func run() throws {
        let m = try CLI.loadModel(model, task: nil, labelCount: numLabels)
        let total = m.parameterCounts.total
        switch method {
        case .full: m.setFullFineTuning()
        case .lora:
            var rng = RandomGenerator(seed: 0)
            m.attachLoRA(try lora.config(), rng: &rng)
        }
        let counts = m.parameterCounts
        let adapter = m.adapters.reduce(0) { $0 + $1.a.count + $1.b.count }
        let head = m.headParameterNames.compactMap { m.parameters[$0]?.count }.reduce(0, +)
        let reduction = 1 - Double(counts.trainable) / Double(total)
        if json {
            print("{\"method\": \"\(method.rawValue)\", \"trainable\": \(counts.trainable), \"adapter\": \(adapter), \"head\": \(head), \"base_total\": \(total), \"total_with_adapters\": \(counts.total), \"reduction\": \(String(format: "%.6f", reduction))}")
        } else {
            print("method:              \(method.rawValue)")
            print("trainable:           \(CLI.grouped(counts.trainable))" + (method == .lora ? "  (adapters \(CLI.grouped(adapter)) + head \(CLI.grouped(head)))" : ""))
            print("base model total:    \(CLI.grouped(total))")
            if method == .lora { print("total with adapters: \(CLI.grouped(counts.total))") }
            print(String(format: "reduction:           %.2f%% fewer trainable parameters than full fine-tuning", reduction * 100))
        }
    }
}

/// `lora predict`: logits for each line of standard input.
struct PredictCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "predict",
        abstract: "Read one input per line from stdin (a tab separates a pair) and print {\"logits\": [...], \"label\": ...} per line.",
        discussion: "With --ids, each line holds space-separated token ids instead of text (a tab separates the type ids)."
    )

    @Option(help: "Hugging Face model directory; its tokenizer files are used.")
    var model: String

    @Option(help: "A PEFT LoRA adapter directory to apply on top of the model.")
    var adapter: String?

    @Option(help: "Truncate inputs to this many tokens.")
    var maxLength: Int = 512

    @Flag(help: "Input lines are token ids, not text.")
    var ids = false

    @Option(help: "Lines per batch.")
    var batchSize: Int = 32

    func run() throws {
        let m = try CLI.loadModel(model, task: nil, adapter: adapter)
        m.mergeAdapters()
        m.useInferenceLayout()
        let tok = ids ? nil : try CLI.tokenizer(model)
        let k = m.config.labelCount
        var pending: [(ids: [Int32], types: [Int32])] = []
        var lineNumber = 0
        func flush() throws {
            guard !pending.isEmpty else { return }
            let logits = try m.predict(EncoderBatch(sequences: pending.map(\.ids), typeIds: pending.map(\.types)))
            for i in 0..<pending.count {
                let row = Array(logits[(i * k)..<((i + 1) * k)])
                let values = row.map { String(format: "%.6g", $0) }.joined(separator: ", ")
                if m.config.isRegression {
                    print("{\"logits\": [\(values)], \"score\": \(String(format: "%.6g", row[0]))}")
                } else {
                    let best = row.indices.max { row[$0] < row[$1] } ?? 0
                    let name = m.config.labelNames?[best].replacingOccurrences(of: "\"", with: "\\\"")
                    print("{\"logits\": [\(values)], \"label\": \(best)" + (name.map { ", \"label_name\": \"\($0)\"" } ?? "") + "}")
                }
            }
            pending.removeAll()
        }
        while let line = readLine(strippingNewline: true) {
            lineNumber += 1
            let parts = line.split(separator: "\t", maxSplits: 1, omittingEmptySubsequences: false)
            if let tok {
                let e = tok.encode(String(parts[0]), pair: parts.count > 1 ? String(parts[1]) : nil, maxLength: maxLength)
                pending.append((e.ids, e.typeIds))
            } else {
                func parse(_ s: Substring) throws -> [Int32] {
                    try s.split(separator: " ").map {
                        guard let v = Int32($0) else { throw ValidationError("stdin line \(lineNumber): '\($0)' is not a token id") }
                        return v
                    }
                }
                let idList = try parse(parts[0])
                guard !idList.isEmpty else { throw ValidationError("stdin line \(lineNumber): no token ids") }
                let types = parts.count > 1 ? try parse(parts[1]) : [Int32](repeating: 0, count: idList.count)
                guard types.count == idList.count else { throw ValidationError("stdin line \(lineNumber): \(types.count) type ids for \(idList.count) ids") }
                pending.append((Array(idList.prefix(maxLength)), Array(types.prefix(maxLength))))
            }
            if pending.count == batchSize { try flush() }
        }
        try flush()
    }
}

/// `lora eval`: metrics of a model (optionally with an adapter) on a task's dev set.
struct EvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "eval", abstract: "Print a model's metrics on a GLUE task's dev set.")

    @Option(help: "Hugging Face model directory.")
    var model: String

    @Option(help: "A PEFT LoRA adapter directory.")
    var adapter: String?

    @Option(help: "GLUE task (SST-2, MRPC, CoLA, RTE, STS-B, QQP, MNLI, MNLI-MM, QNLI, WNLI).")
    var task: String

    @Option(help: "GLUE data directory (holding SST-2/, MRPC/, …).")
    var data: String

    @Option(help: "Truncate inputs to this many tokens.")
    var maxLength: Int = 512

    @Option(help: "Evaluate only the first N dev examples.")
    var maxExamples: Int?

    @Flag(help: "Print one JSON object.")
    var json = false

    func run() throws {
        let t = try CLI.task(task)
        Threads.configure()
        let m = try CLI.loadModel(model, task: t, adapter: adapter)
        if !m.newlyInitialised.isEmpty && adapter == nil {
            CLI.note("warning: the model has no trained head for \(t.name) (initialised: \(m.newlyInitialised.joined(separator: ", "))); scores are those of a random head")
        }
        m.mergeAdapters()
        m.useInferenceLayout()
        let data = try TaskData.load(task: t, dataDirectory: URL(fileURLWithPath: self.data), tokenizer: CLI.tokenizer(model),
                                     maxLength: maxLength, maxDevExamples: maxExamples, splits: [.dev])
        let report = try Evaluation.evaluate(model: m, task: t, examples: data.dev)
        if json {
            let fields = report.dictionary.sorted { $0.key < $1.key }.map { "\"\($0.key)\": \($0.value)" }.joined(separator: ", ")
            print("{\"task\": \"\(t.name)\", \"examples\": \(data.dev.count), \"primary\": \"\(report.primary.rawValue)\", \(fields)}")
        } else {
            print("\(t.name) dev (\(data.dev.count) examples)")
            for (k, v) in report.dictionary.sorted(by: { $0.key < $1.key }) {
                print("  \(k.padding(toLength: 22, withPad: " ", startingAt: 0)) \(String(format: "%.4f", v))" + (k == report.primary.rawValue ? "  (primary)" : ""))
            }
        }
    }
}

/// `lora merge`: folds a LoRA adapter into its base model and writes a plain model directory.
struct MergeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "merge", abstract: "Merge a PEFT LoRA adapter into its base model and write a Hugging Face model directory.")

    @Option(help: "Base model directory.")
    var model: String

    @Option(help: "PEFT LoRA adapter directory.")
    var adapter: String

    @Option(help: "Output model directory.")
    var out: String

    func run() throws {
        let m = try CLI.loadModel(model, task: nil, adapter: adapter)
        m.mergeAdapters()
        let outURL = URL(fileURLWithPath: out)
        try m.saveModel(to: outURL)
        try EncoderModel.copyTokenizerFiles(from: URL(fileURLWithPath: model), to: outURL)
        CLI.note("merged \(m.adapters.count) adapters into \(out)")
    }
}
