import ArgumentParser
import Foundation
import Encoders
import GLUE
import Profiling
import SafeTensors
import Study
import Tensors
import Training
import Tokenizers

/// How much of the paper's study to run.
enum StudyBudget: String, ExpressibleByArgument, CaseIterable {
    /// A few steps per run, small dev subsets: checks the whole pipeline (CI).
    case smoke
    /// Capped epochs and training examples so all five tasks, both methods, fit in about an
    /// hour on 2 cores with all-MiniLM-L6-v2.
    case quick
    /// The paper's Table 7, unchanged.
    case paper
}

/// One run of the study plan.
struct PlannedRun: Codable {
    var task: String
    var method: FineTuningMethod
    var epochs: Int
    var batchSize: Int
    var learningRate: Float
    var weightDecay: Double
    var warmupRatio: Double
    var maxLength: Int
    var maxTrainExamples: Int?
    var maxDevExamples: Int?
    var seed: UInt64
    var maxGradNorm: Double
    var lora: LoRAConfig

    /// The plan entry in the reference runner's format (snake_case keys).
    var json: [String: JSONValue] {
        [
            "task": .string(task), "method": .string(method.rawValue), "epochs": .number(Double(epochs)),
            "batch_size": .number(Double(batchSize)), "learning_rate": .number(Double(learningRate)),
            "weight_decay": .number(weightDecay), "warmup_ratio": .number(warmupRatio), "max_length": .number(Double(maxLength)),
            "max_train_examples": maxTrainExamples.map { .number(Double($0)) } ?? .null,
            "max_dev_examples": maxDevExamples.map { .number(Double($0)) } ?? .null,
            "seed": .number(Double(seed)), "max_grad_norm": .number(maxGradNorm),
            "lora": .object(["r": .number(Double(lora.rank)), "alpha": .number(Double(lora.alpha)), "dropout": .number(Double(lora.dropout)),
                             "targets": .array(lora.targets.map { .string($0.modulePath.components(separatedBy: ".").last == "dense" ? $0.modulePath : $0.rawValue) })]),
        ]
    }

    var options: TrainingOptions {
        var o = TrainingOptions()
        o.method = method
        o.lora = lora
        o.epochs = epochs
        o.batchSize = batchSize
        o.learningRate = learningRate
        o.weightDecay = weightDecay
        o.warmupRatio = warmupRatio
        o.maxGradNorm = maxGradNorm
        o.seed = seed
        return o
    }
}

enum StudyPlan {
    /// Per-task caps of the quick budget (training examples), in the paper's task order.
    static let quickTrainCaps = ["SST-2": 8000, "MRPC": 3668, "CoLA": 8551, "RTE": 2490, "STS-B": 5749]

    static func runs(tasks: [GLUETask], budget: StudyBudget, seed: UInt64) -> [PlannedRun] {
        var out: [PlannedRun] = []
        for t in tasks {
            for method in [FineTuningMethod.full, .lora] {
                let p = PaperPresets.preset(task: t.name, method: method)
                    ?? PaperPresets.Preset(batchSize: 16, epochs: 3, learningRate: method == .lora ? 4e-4 : 2e-5, weightDecay: 0.01, warmupRatio: 0.06, maxLength: 512)
                var run = PlannedRun(task: t.name, method: method, epochs: p.epochs, batchSize: p.batchSize, learningRate: p.learningRate,
                                     weightDecay: p.weightDecay, warmupRatio: p.warmupRatio, maxLength: p.maxLength,
                                     maxTrainExamples: nil, maxDevExamples: nil, seed: seed, maxGradNorm: 1.0,
                                     lora: LoRAConfig(rank: 8, alpha: 8, targets: [.query, .value]))
                switch budget {
                case .paper: break
                case .quick:
                    run.maxLength = 128
                    run.maxTrainExamples = quickTrainCaps[t.name] ?? 4000
                    run.epochs = method == .full ? 2 : 4
                    run.batchSize = 16
                case .smoke:
                    run.maxLength = 64
                    run.maxTrainExamples = 48
                    run.maxDevExamples = 48
                    run.epochs = 1
                    run.batchSize = 16
                }
                out.append(run)
            }
        }
        return out
    }
}

/// `lora reproduce`: the paper's study (FFT and LoRA per task), resumable, then the report.
struct ReproduceCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reproduce",
        abstract: "Run the paper's study (full fine-tuning and LoRA on each task) and write report.md, results.json and plots.",
        discussion: """
        Finished runs (OUT/runs/TASK-METHOD/summary.json) are not run again; an interrupted run resumes \
        from its checkpoint. Budgets: smoke (a few steps per run), quick (capped epochs and examples, about \
        an hour for all five tasks with all-MiniLM-L6-v2 on 2 cores), paper (Table 7 as published).
        """
    )

    @Option(help: "Hugging Face model directory.") var model: String
    @Option(help: "GLUE data directory.") var data: String
    @Option(help: "Study directory.") var out: String
    @Option(help: "Comma-separated tasks.") var tasks: String = "sst2,mrpc,cola,rte,stsb"
    @Option(help: "smoke, quick or paper.") var budget: StudyBudget = .quick
    @Option(help: "Seed of every run.") var seed: UInt64 = 42
    @Option(help: "Results of the Python reference runner (scripts/reference/peft_glue_runner.py) for the LoRA(ref) row.") var reference: String?
    @Option(help: "Repetitions of each dev-set inference timing (median reported).") var inferenceRepeats: Int = 3
    @Option(help: "Threads (default: all cores).") var threads: Int?
    @Flag(help: "Print the plan as JSON (for the reference runner) and exit.") var printPlan = false
    @Flag(help: "Only regenerate the report from the run logs.") var reportOnly = false

    func run() throws {
        let taskList = try tasks.split(separator: ",").map { try CLI.task(String($0).trimmingCharacters(in: .whitespaces)) }
        let plan = StudyPlan.runs(tasks: taskList, budget: budget, seed: seed)
        if printPlan {
            let data = try JSONValue.encodeObject(["budget": .string(budget.rawValue), "runs": .array(plan.map { .object($0.json) })])
            print(String(decoding: data, as: UTF8.self))
            return
        }
        let outURL = URL(fileURLWithPath: out)
        let fm = FileManager.default
        try fm.createDirectory(at: outURL.appendingPathComponent("runs"), withIntermediateDirectories: true)
        Threads.configure(threads)
        if !reportOnly {
            let config = try EncoderConfig.load(from: URL(fileURLWithPath: model).appendingPathComponent("config.json"))
            let study: [String: JSONValue] = [
                "model": .string(URL(fileURLWithPath: model).standardizedFileURL.lastPathComponent),
                "model_family": .string(config.family.rawValue),
                "budget": .string(budget.rawValue),
                "machine": .string("\(System.coreCount) cores, \(Self.memoryDescription()), \(PowerSource.detect().description)"),
                "command": .string((["lora"] + CommandLine.arguments.dropFirst()).joined(separator: " ")),
                "tasks": .array(taskList.map { .string($0.name) }),
            ]
            try AtomicFile.write(JSONValue.encodeObject(study), to: outURL.appendingPathComponent("study.json"))
            let tokenizer = try CLI.tokenizer(model)
            for (i, run) in plan.enumerated() {
                let dir = outURL.appendingPathComponent("runs/\(run.task)-\(run.method.rawValue)")
                if fm.fileExists(atPath: dir.appendingPathComponent("inference.json").path) {
                    CLI.note("[\(i + 1)/\(plan.count)] \(run.task) \(run.method.rawValue): done, skipped")
                    continue
                }
                CLI.note("[\(i + 1)/\(plan.count)] \(run.task) \(run.method.rawValue): \(run.epochs) epochs, batch \(run.batchSize), lr \(run.learningRate)")
                try execute(run, directory: dir, tokenizer: tokenizer)
            }
        }
        try StudyReport.write(studyDirectory: outURL, referenceResults: reference.map { URL(fileURLWithPath: $0) })
        CLI.note("report: \(outURL.appendingPathComponent("report.md").path)")
    }

    static func memoryDescription() -> String {
        let pages = sysconf(Int32(_SC_PHYS_PAGES)), size = sysconf(Int32(_SC_PAGESIZE))
        return String(format: "%.0f GiB", Double(pages) * Double(size) / 1_073_741_824)
    }

    /// Trains one run (resuming if a checkpoint exists), then times dev-set inference.
    func execute(_ run: PlannedRun, directory dir: URL, tokenizer: Tokenizer) throws {
        let task = try CLI.task(run.task)
        let fm = FileManager.default
        let dataURL = URL(fileURLWithPath: data)
        let taskData = try TaskData.load(task: task, dataDirectory: dataURL, tokenizer: tokenizer, maxLength: run.maxLength,
                                         maxTrainExamples: run.maxTrainExamples, maxDevExamples: run.maxDevExamples)
        if !fm.fileExists(atPath: dir.appendingPathComponent("summary.json").path) {
            let m = try CLI.loadModel(model, task: task, seed: run.seed)
            let trainer = try Trainer(model: m, task: task, train: taskData.train, dev: taskData.dev, options: run.options,
                                      outputDirectory: dir, baseModelPath: URL(fileURLWithPath: model).standardizedFileURL.path)
            try fm.createDirectory(at: dir, withIntermediateDirectories: true)
            let profileURL = dir.appendingPathComponent("profile.jsonl")
            let profileLog = try SampleLog(url: profileURL)
            let sampler = ProfilingSampler(interval: 0.5) { profileLog.append($0) }
            sampler.start()
            let resume = fm.fileExists(atPath: dir.appendingPathComponent("checkpoint.safetensors").path)
            let summary: TrainingSummary
            do { summary = try trainer.run(resume: resume) } catch { sampler.stop(); throw error }
            sampler.stop()
            let profile = sampler.summary()
            let enc = JSONEncoder()
            enc.outputFormatting = [.prettyPrinted, .sortedKeys]
            try AtomicFile.write(enc.encode(profile), to: dir.appendingPathComponent("profile-summary.json"))
            let trainableBytes = Double(m.parameterCounts.trainable * 4)
            let memory: [String: JSONValue] = [
                "weights_bytes": .number(Double(m.parameterCounts.total * 4)),
                "gradients_bytes": .number(trainableBytes),
                "optimizer_bytes": .number(2 * trainableBytes),
                "activations_peak_bytes": .number(Double(m.activationPeakFloats * 4)),
                "peak_rss_bytes": .number(profile.peakRSSMiB * 1_048_576),
                "average_rss_bytes": .number(profile.averageRSSMiB * 1_048_576),
            ]
            try AtomicFile.write(JSONValue.encodeObject(memory), to: dir.appendingPathComponent("memory.json"))
            CLI.note(String(format: "%@ %@: best %@ %.4f in %.0f s", run.task, run.method.rawValue, summary.bestMetric, summary.bestScore ?? .nan, summary.trainSeconds))
        }
        // Inference on the dev set with the best weights, in batches of 32.
        var seconds: [String: JSONValue] = [:]
        func time(_ m: EncoderModel) throws -> JSONValue {
            _ = try Evaluation.evaluate(model: m, task: task, examples: taskData.dev, batchSize: 32)   // warm-up
            var xs: [JSONValue] = []
            for _ in 0..<max(1, inferenceRepeats) {
                let t0 = MonotonicClock.seconds()
                _ = try Evaluation.evaluate(model: m, task: task, examples: taskData.dev, batchSize: 32)
                xs.append(.number(MonotonicClock.seconds() - t0))
            }
            return .array(xs)
        }
        switch run.method {
        case .full:
            seconds["fft"] = try time(try CLI.loadModel(dir.appendingPathComponent("model").path, task: task))
        case .lora:
            let m = try CLI.loadModel(model, task: task, adapter: dir.appendingPathComponent("adapter").path)
            seconds["lora_unmerged"] = try time(m)
            m.mergeAdapters()
            seconds["lora_merged"] = try time(m)
        }
        let inference: [String: JSONValue] = ["dev_examples": .number(Double(taskData.dev.count)), "batch_size": .number(32),
                                              "repeats": .number(Double(inferenceRepeats)), "seconds": .object(seconds)]
        try AtomicFile.write(JSONValue.encodeObject(inference), to: dir.appendingPathComponent("inference.json"))
    }
}

/// Appends profiling samples to a JSON-lines file from the sampler thread.
final class SampleLog: @unchecked Sendable {
    private let handle: FileHandle
    private let lock = NSLock()
    private let encoder = JSONEncoder()

    init(url: URL) throws {
        _ = FileManager.default.createFile(atPath: url.path, contents: nil)  // a failure surfaces as FileHandle's error
        handle = try FileHandle(forWritingTo: url)
        encoder.outputFormatting = .sortedKeys
    }

    deinit { try? handle.close() }

    func append(_ sample: Sample) {
        lock.lock()
        defer { lock.unlock() }
        if var line = try? encoder.encode(sample) {
            line.append(0x0A)
            try? handle.write(contentsOf: line)
        }
    }
}
