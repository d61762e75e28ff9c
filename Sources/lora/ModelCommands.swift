import ArgumentParser
import Foundation
import Encoders
import GLUE
import Tensors
import Training
import InputValidation
import DataFiles

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

    func validate() throws {
        if let numLabels { try CLI.usage { try ValueRules(source: nil).within(numLabels, 1...100_000, key: "--num-labels") } }
    }

    func run() throws {
        let m = try CLI.loadModel(model, task: nil, labelCount: numLabels)
        let total = m.parameterCounts.total
        switch method {
        case .full: m.setFullFineTuning()
        case .lora:
            let config = try lora.config(family: m.config.family)
            try CLI.usage { try config.validate(for: m.config, source: nil) }
            var rng = RandomGenerator(seed: 0)
            try m.attachLoRA(config, rng: &rng)
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
    @OptionGroup var fp32: FP32GemmOptions

    static let configuration = CommandConfiguration(
        commandName: "predict",
        abstract: "Predict the inputs of a data file (--file) or of stdin, one per line (a tab separates a pair).",
        discussion: """
        --file F reads a CSV, TSV or JSON Lines file and writes one row per input: JSON Lines \
        {"id": …, "label": NAME, "probabilities": […]} ({"score": …} for regression), or CSV when --output ends in .csv \
        (columns id, label, probability_NAME…). From stdin it prints {"logits": [...], "label": ...} per line; \
        with --ids, each line holds space-separated token ids instead of text (a tab separates the type ids).
        """
    )

    @Option(help: "Hugging Face model directory; its tokenizer files are used.")
    var model: String

    @Option(help: "A PEFT LoRA adapter directory to apply on top of the model.")
    var adapter: String?

    @Option(name: .customLong("max-length"), help: "Truncate inputs to this many tokens (default: 512, or less when the model's position embeddings cover less).")
    var maxLengthOption: Int?

    @Flag(help: "Input lines are token ids, not text.")
    var ids = false

    @Flag(help: "Run the encoder's Linears in int8: weights per output channel, activations per row at run time, int32 products (as ONNX Runtime's quantize_dynamic). Embeddings, LayerNorms, attention and the head stay fp32.")
    var int8 = false

    @Option(help: "A CSV, TSV or JSON Lines file to predict (default: lines of stdin).")
    var file: String?

    @Option(help: "Where --file's predictions go: OUT.jsonl or OUT.csv (default: stdout, as JSON Lines).")
    var output: String?

    @Option(help: "A column of --file carried through to each prediction as its id.")
    var idColumn: String?

    @OptionGroup var dataFile: DataFileOptions

    @Option(help: "Lines per batch.")
    var batchSize: Int = 32

    func validate() throws {
        try CLI.usage {
            let rules = ValueRules(source: nil)
            try rules.within(batchSize, 1...65_536, key: "--batch-size")
            // Token ids carry their own special tokens; text needs room for them (checked
            // against the tokenizer once it is loaded).
            if let maxLengthOption {
                try rules.within(maxLengthOption, ids ? 1...EncoderConfig.maxSequenceLength : 2...EncoderConfig.maxSequenceLength, key: "--max-length")
            }
        }
        if file == nil, output != nil || idColumn != nil || dataFile.isSet {
            throw ValidationError("--output, --id-column, --format and the column options need --file")
        }
        if file != nil, ids { throw ValidationError("--ids reads token ids from stdin; it does not go with --file") }
        if let output, let file {
            let target = URL(fileURLWithPath: output).standardizedFileURL.resolvingSymlinksInPath().path
            if target == URL(fileURLWithPath: file).standardizedFileURL.resolvingSymlinksInPath().path {
                throw ValidationError("--output \(output) is the input file; write to another file")
            }
        }
    }

    func run() throws {
        Threads.configure()
        let m = try CLI.loadModel(model, task: nil, adapter: adapter)
        let maxLength = maxLengthOption ?? min(512, m.config.maxInputLength)
        if !ids { try CLI.usage { try m.config.validateMaxLength(maxLength) } }
        let randomHead = !m.newlyInitialised.isEmpty
        if randomHead {
            CLI.note("warning: \(adapter ?? model) has no trained classification head (initialised at random: "
                + "\(m.newlyInitialised.joined(separator: ", "))); its predictions mean nothing, and each output line says \"random_head\": true")
        }
        try fp32.apply()
        CLI.prepareForInference(m, int8: int8)
        if let file {
            let tokenizer = try CLI.tokenizer(model)
            let rows = try UserData.readUnlabelled(try dataFile.open(file), columns: dataFile.columns(id: idColumn),
                                                   tokenizer: tokenizer, maxLength: maxLength)
            CLI.note("\(file): \(rows.columns); \(rows.encodings.count) rows")
            return try FilePrediction.run(model: m, rows: rows, batchSize: batchSize, output: output, source: file, randomHead: randomHead)
        }
        let tok = ids ? nil : try CLI.tokenizer(model)
        if let tok {
            try CLI.usage {
                try TaskData.checkMaxLength(maxLength, tokenizer: tok, pair: false)
            }
        }
        let marker = randomHead ? ", \"random_head\": true" : ""
        let k = m.config.labelCount
        var pending: [(ids: [Int32], types: [Int32])] = []
        var lineNumber = 0
        func flush() throws {
            guard !pending.isEmpty else { return }
            let logits = try m.predict(EncoderBatch(sequences: pending.map(\.ids), typeIds: pending.map(\.types)))
            for i in 0..<pending.count {
                let row = Array(logits[(i * k)..<((i + 1) * k)])
                if let bad = row.first(where: { !$0.isFinite }) {
                    throw EncoderError.invalidInput("stdin line \(lineNumber - pending.count + i + 1): the model gave a non-finite logit (\(bad)); its weights or the input are broken")
                }
                let values = row.map { String(format: "%.6g", $0) }.joined(separator: ", ")
                if m.config.isRegression {
                    print("{\"logits\": [\(values)], \"score\": \(String(format: "%.6g", row[0]))\(marker)}")
                } else {
                    let best = row.indices.max { row[$0] < row[$1] } ?? 0
                    let name = m.config.labelNames?[best]
                    print("{\"logits\": [\(values)], \"label\": \(best)" + (name.map { ", \"label_name\": \(JSONValue.quoted($0))" } ?? "") + marker + "}")
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
    @OptionGroup var fp32: FP32GemmOptions

    static let configuration = CommandConfiguration(
        commandName: "eval", abstract: "Print a model's metrics on a GLUE task's dev set, or on a labelled CSV/TSV/JSON Lines file.",
        discussion: "With --file, labels are matched to the model's class names (id2label, or the adapter's labels.json); a label that is no name but an integer k is class k.")

    @Option(help: "Hugging Face model directory.")
    var model: String

    @Option(help: "A PEFT LoRA adapter directory.")
    var adapter: String?

    @Option(help: "GLUE task (SST-2, MRPC, CoLA, RTE, STS-B, QQP, MNLI, MNLI-MM, QNLI, WNLI).")
    var task: String?

    @Option(help: "GLUE data directory (holding SST-2/, MRPC/, …).")
    var data: String?

    @Option(help: "A labelled CSV, TSV or JSON Lines file to evaluate on (instead of --task/--data).")
    var file: String?

    @OptionGroup var dataFile: DataFileOptions

    @Option(help: "Primary metric for --file (default: accuracy, or pearson for regression).")
    var metric: String?

    @Option(name: .customLong("max-length"), help: "Truncate inputs to this many tokens (default: 512, or less when the model's position embeddings cover less).")
    var maxLengthOption: Int?

    @Option(help: "Evaluate only the first N dev examples.")
    var maxExamples: Int?

    @Flag(help: "Print one JSON object.")
    var json = false

    @Flag(help: "Evaluate even when the model has no trained head for the task (its scores are those of a random head).")
    var allowRandomHead = false

    @Flag(help: "Run the encoder's Linears in int8: weights per output channel, activations per row at run time, int32 products (as ONNX Runtime's quantize_dynamic). Embeddings, LayerNorms, attention and the head stay fp32.")
    var int8 = false

    func validate() throws {
        try CLI.usage {
            let rules = ValueRules(source: nil)
            if let maxLengthOption { try rules.within(maxLengthOption, 2...EncoderConfig.maxSequenceLength, key: "--max-length") }
            if let maxExamples { try rules.atLeast(maxExamples, 1, key: "--max-examples") }
        }
        switch (task, data, file) {
        case let (task?, .some, nil):
            guard !dataFile.isSet, metric == nil else { throw ValidationError("--format, the column options and --metric are for --file") }
            _ = try CLI.usageTask(task)
        case (nil, nil, .some): break
        default: throw ValidationError("give either --task and --data (a GLUE task's dev set) or --file (a labelled data file)")
        }
    }

    func run() throws {
        Threads.configure()
        if let file { return try evaluateFile(file) }
        let t = try CLI.task(task ?? "")
        let m = try CLI.loadModel(model, task: t, adapter: adapter)
        let maxLength = try checkLengthAndHead(m, headFor: t.name)
        try fp32.apply()
        CLI.prepareForInference(m, int8: int8)
        let data = try TaskData.load(task: t, dataDirectory: URL(fileURLWithPath: self.data ?? ""), tokenizer: CLI.tokenizer(model),
                                     maxLength: maxLength, maxDevExamples: maxExamples, splits: [.dev])
        let report = try Evaluation.evaluate(model: m, task: t, examples: data.dev)
        show(report, task: t, count: data.dev.count, what: "dev")
    }

    /// `--file`: the model's own classes (or regression) give the task; labels are read with them.
    func evaluateFile(_ path: String) throws {
        let m = try CLI.loadModel(model, task: nil, adapter: adapter)
        let maxLength = try checkLengthAndHead(m, headFor: nil)
        let scheme = GLUETask.scheme(labelNames: m.config.labelNames, labelCount: m.config.labelCount)
        let t = try CLI.usageValue { try GLUETask.user(name: GLUETask.userTaskName(path: path), scheme: scheme, primary: metric) }
        try fp32.apply()
        CLI.prepareForInference(m, int8: int8)
        let read = try UserData.readLabelled(try dataFile.open(path), columns: dataFile.columns(), scheme: scheme, tokenizer: CLI.tokenizer(model),
                                             maxLength: maxLength, limit: maxExamples, indexFallback: true)
        CLI.note("\(path): \(read.columns)")
        let report = try Evaluation.evaluate(model: m, task: t, examples: read.examples)
        show(report, task: t, count: read.examples.count, what: path)
    }

    /// The maximum input length (`--max-length`, else 512 or the model's limit), checked
    /// against the model; a random head refused unless `--allow-random-head` (then a warning).
    func checkLengthAndHead(_ m: EncoderModel, headFor task: String?) throws -> Int {
        let maxLength = maxLengthOption ?? min(512, m.config.maxInputLength)
        try CLI.usage { try m.config.validateMaxLength(maxLength) }
        if !m.newlyInitialised.isEmpty {
            let what = "\(adapter ?? model) has no trained head\(task.map { " for \($0)" } ?? "") (initialised at random: \(m.newlyInitialised.joined(separator: ", ")))"
            guard allowRandomHead else {
                throw ValidationError(what + "; its scores would be those of a random head. Pass --allow-random-head to evaluate it anyway")
            }
            CLI.note("warning: " + what + "; scores are those of a random head")
        }
        return maxLength
    }

    func show(_ report: MetricReport, task t: GLUETask, count: Int, what: String) {
        if json {
            let fields = report.dictionary.sorted { $0.key < $1.key }.map { "\"\($0.key)\": \($0.value)" }.joined(separator: ", ")
            print("{\"task\": \"\(t.name)\", \"examples\": \(count), \"primary\": \"\(report.primary.rawValue)\", \(fields)}")
        } else {
            print("\(t.name) \(what) (\(count) examples)")
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

    @Flag(help: "Write into --out even if it already holds files.")
    var force = false

    func validate() throws {
        try CLI.checkOutputDirectory(out, inputs: [model, adapter], force: force)
    }

    func run() throws {
        let m = try CLI.loadMerged(model, adapter: adapter, writing: "merged model")
        let outURL = URL(fileURLWithPath: out)
        try m.saveModel(to: outURL)
        try EncoderModel.copyTokenizerFiles(from: URL(fileURLWithPath: model), to: outURL)
        CLI.note("merged \(m.adapters.count) adapters into \(out)")
    }
}

/// `lora quantize`: writes the int8 model (`QuantizedCheckpoint`), so loading does not quantise again.
struct QuantizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "quantize",
        abstract: "Quantise a model's encoder Linears to int8 (per output channel) and write the int8 model directory.",
        discussion: "With --adapter, the adapter is merged first. predict, eval, bench infer and serve load the result as an int8 model; its format is described in the README (safetensors I8 weights with F32 <name>_scale tensors).")

    @Option(help: "Model directory (fp32).")
    var model: String

    @Option(help: "A PEFT LoRA adapter to merge before quantising.")
    var adapter: String?

    @Option(help: "Output model directory.")
    var out: String

    @Flag(help: "Write into --out even if it already holds files.")
    var force = false

    func validate() throws {
        try CLI.checkOutputDirectory(out, inputs: [model] + (adapter.map { [$0] } ?? []), force: force)
    }

    func run() throws {
        let m = try CLI.loadMerged(model, adapter: adapter, writing: "int8 model")
        guard !m.isQuantized else { throw ValidationError("\(model) is already an int8 model") }
        m.quantizeLinears()
        let outURL = URL(fileURLWithPath: out)
        try m.saveQuantizedModel(to: outURL)
        try EncoderModel.copyTokenizerFiles(from: URL(fileURLWithPath: model), to: outURL)
        CLI.note("quantised the encoder Linears of \(model) to int8 into \(out)")
    }
}
