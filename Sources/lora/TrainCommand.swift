import ArgumentParser
import Foundation
import Encoders
import GLUE
import Tensors
import Training
import InputValidation

extension FineTuningMethod: ExpressibleByArgument {}

/// `lora train`: fine-tune a model on a GLUE task with LoRA or fully.
struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Fine-tune a BERT/RoBERTa model on a GLUE task with LoRA or full fine-tuning.",
        discussion: """
        Writes OUT/log.jsonl (every step and evaluation), OUT/summary.json and the best weights: \
        OUT/adapter (a PEFT adapter) for LoRA, OUT/model (a Hugging Face model) for full fine-tuning. \
        --preset paper applies the paper's Table 7 for SST-2, MRPC, CoLA, RTE and STS-B. \
        --resume continues a killed run from OUT/checkpoint.safetensors.
        """
    )

    @Option(help: "Hugging Face model directory (config.json, model.safetensors, tokenizer files).")
    var model: String

    @Option(help: "GLUE task.")
    var task: String

    @Option(help: "GLUE data directory (holding SST-2/, MRPC/, …).")
    var data: String

    @Option(help: "lora or full.")
    var method: FineTuningMethod = .lora

    @OptionGroup var lora: LoRAOptions

    @Option(help: "Apply a preset: 'paper' (the paper's Table 7). Explicit options given after it still override.")
    var preset: String?

    @Option(help: "Epochs.") var epochs: Int?
    @Option(help: "Sequences per batch.") var batchSize: Int?
    @Option(help: "Peak learning rate.") var lr: Float?
    @Option(help: "AdamW weight decay (not applied to biases and LayerNorm).") var weightDecay: Double?
    @Option(help: "Share of steps used for linear warm-up.") var warmupRatio: Double?
    @Option(help: "Gradient-norm clipping threshold.") var maxGradNorm: Double = 1.0
    @Option(help: "Maximum tokens per input (longest-first truncation).") var maxLength: Int?
    @Option(help: "Random seed (shuffling, dropout, new weights).") var seed: UInt64 = 42
    @Option(help: "Use only the first N training examples.") var maxTrainExamples: Int?
    @Option(help: "Use only the first N dev examples.") var maxDevExamples: Int?
    @Option(help: "Also evaluate every N steps.") var evalEvery: Int?
    @Option(help: "Write a resumable checkpoint every N steps (and at each epoch end).") var checkpointEvery: Int = 200
    @Option(help: "Stop once the dev primary metric reaches this value (iso-accuracy runs).") var stopAtScore: Double?
    @Option(help: "Threads (default: all cores).") var threads: Int?

    @Option(help: "Output directory.")
    var out: String

    @Flag(help: "Continue from OUT/checkpoint.safetensors.")
    var resume = false

    @Flag(help: "Write into --out even if it already holds files (a previous run's are overwritten).")
    var force = false

    func validate() throws {
        let t = try CLI.usageTask(task)
        let (o, length) = try options(for: t)
        try CLI.usage {
            try o.validate()
            let rules = ValueRules(source: nil)
            try rules.within(length, 2...EncoderConfig.maxSequenceLength, key: "--max-length")
            if let maxTrainExamples { try rules.atLeast(maxTrainExamples, 1, key: "--max-train-examples") }
            if let maxDevExamples { try rules.atLeast(maxDevExamples, 1, key: "--max-dev-examples") }
        }
        try CLI.validateThreads(threads)
        try CLI.checkOutputDirectory(out, inputs: [model, data], force: force || resume)
    }

    func options(for t: GLUETask) throws -> (TrainingOptions, maxLength: Int) {
        var o = TrainingOptions()
        o.method = method
        o.lora = try lora.config()
        var length = 128
        if let preset {
            guard preset == "paper" else { throw ValidationError("unknown preset '\(preset)'; known: paper") }
            guard let p = PaperPresets.preset(task: t.name, method: method) else {
                throw ValidationError("the paper has no preset for \(t.name); it covers \(PaperPresets.tasks.joined(separator: ", "))")
            }
            PaperPresets.apply(p, to: &o)
            length = p.maxLength
        }
        if let epochs { o.epochs = epochs }
        if let batchSize { o.batchSize = batchSize }
        if let lr { o.learningRate = lr }
        if let weightDecay { o.weightDecay = weightDecay }
        if let warmupRatio { o.warmupRatio = warmupRatio }
        if let maxLength { length = maxLength }
        o.maxGradNorm = maxGradNorm
        o.seed = seed
        o.evalEvery = evalEvery
        o.checkpointEvery = checkpointEvery
        o.stopAtScore = stopAtScore
        return (o, length)
    }

    func run() throws {
        let t = try CLI.task(task)
        let (opts, length) = try options(for: t)
        Threads.configure(threads)
        let dataURL = URL(fileURLWithPath: data)
        let m = try CLI.loadModel(model, task: t, seed: seed)
        try CLI.usage { try m.config.validateMaxLength(length) }
        if !m.newlyInitialised.isEmpty {
            CLI.note("new head for \(t.name) (\(t.numLabels) outputs): \(m.newlyInitialised.joined(separator: ", "))")
        }
        let taskData = try TaskData.load(task: t, dataDirectory: dataURL, tokenizer: CLI.tokenizer(model), maxLength: length,
                                         maxTrainExamples: maxTrainExamples, maxDevExamples: maxDevExamples)
        CLI.note("\(t.name): \(taskData.train.count) train / \(taskData.dev.count) dev examples, max length \(length), method \(opts.method.rawValue), \(opts.epochs) epochs of batch \(opts.batchSize), lr \(opts.learningRate)")
        let trainer = try Trainer(model: m, task: t, train: taskData.train, dev: taskData.dev, options: opts,
                                  outputDirectory: URL(fileURLWithPath: out, isDirectory: true), baseModelPath: URL(fileURLWithPath: model).standardizedFileURL.path)
        // A checkpoint resumes only the same run: same model (by content), data, length and caps.
        trainer.addInputIdentity(modelDirectory: URL(fileURLWithPath: model), maxLength: length,
                                 maxTrainExamples: maxTrainExamples, maxDevExamples: maxDevExamples)
        let counts = m.parameterCounts
        CLI.note("trainable parameters: \(CLI.grouped(counts.trainable)) of \(CLI.grouped(counts.total)); memory plan: \(trainer.memoryPlan.description)")
        if let hook = ProcessInfo.processInfo.environment[StudyRunCommand.killHookVariable] {
            let parts = hook.split(separator: ":")
            if parts.count == 2, String(parts[0]) == URL(fileURLWithPath: out).lastPathComponent, let step = Int(parts[1]) {
                trainer.afterStep = { if $0 == step { kill(getpid(), SIGKILL) } }
            }
        }
        let summary = try trainer.run(resume: resume)
        print(String(format: "%@ %@: best %@ = %.4f at epoch %.2f (step %d); %d steps in %.1f s; weights in %@",
                     t.name, opts.method.rawValue, summary.bestMetric, summary.bestScore ?? .nan, summary.bestEpoch, summary.bestStep,
                     summary.steps, summary.trainSeconds, trainer.weightsURL.relativePath))
    }
}
