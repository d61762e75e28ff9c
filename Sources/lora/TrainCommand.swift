import ArgumentParser
import Foundation
import Encoders
import GLUE
import Tensors
import Training
import InputValidation
import DataFiles
import Collectives

extension FineTuningMethod: ExpressibleByArgument {}

/// `lora train`: fine-tune a model on a GLUE task with LoRA or fully.
struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Fine-tune a BERT/RoBERTa model on a GLUE task, or on your own CSV/TSV/JSON Lines data, with LoRA or full fine-tuning.",
        discussion: """
        Data: --task and --data for a GLUE task, or --train-file and --dev-file for your own files \
        (CSV with a header, TSV with a header, or JSON Lines; columns chosen with --text-column, \
        --text-pair-column, --label-column). Classes are the sorted distinct labels of the training \
        file, written as id2label (model) or labels.json (adapter); --task-type regression, or labels \
        written as decimals, train a regression head. \
        Writes OUT/log.jsonl (every step and evaluation), OUT/summary.json and the best weights: \
        OUT/adapter (a PEFT adapter) for LoRA, OUT/model (a Hugging Face model) for full fine-tuning. \
        --preset paper applies the paper's Table 7 for SST-2, MRPC, CoLA, RTE and STS-B. \
        --resume continues a killed run from OUT/checkpoint.safetensors. \
        Under Open MPI's mpirun (mpirun -np N lora train …) the run is data-parallel: each process \
        computes its share of every batch of --batch-size, gradients are summed with MPI_Allreduce, \
        and process 0 writes every file; the weights are the single-process run's up to float rounding.
        """
    )

    @Option(help: "Hugging Face model directory (config.json, model.safetensors, tokenizer files).")
    var model: String

    @Option(help: "GLUE task.")
    var task: String?

    @Option(help: "GLUE data directory (holding SST-2/, MRPC/, …).")
    var data: String?

    @Option(help: "Your training data: a CSV, TSV or JSON Lines file (instead of --task/--data).")
    var trainFile: String?

    @Option(help: "Your dev data, evaluated during training (same columns as --train-file).")
    var devFile: String?

    @OptionGroup var dataFile: DataFileOptions

    @Option(help: "classification or regression (default: regression when every label is a number and one is written as a decimal).")
    var taskType: TaskType?

    @Option(help: "Metric that selects the best checkpoint: accuracy, f1_macro or matthews_correlation; pearson or spearman for regression (default: the first).")
    var metric: String?

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
    @Option(name: .customLong("loraplus-ratio"),
            help: "LoRA+: train the B matrices and biases at this multiple of --lr (PEFT's create_loraplus_optimizer; Hayou et al. suggest 16). Default: plain LoRA.")
    var loraPlusRatio: Double?
    @Option(name: .customLong("init-adapter"),
            help: "Start LoRA from this PEFT adapter directory (its A and B, and its head when the label count is the task's; otherwise the head is re-initialised and the log says so). Its rank, alpha and targets are used; --lora-dropout still applies.")
    var initAdapter: String?
    @Option(help: "Which weights OUT/adapter (or OUT/model) holds: 'best' (the best evaluation's) or 'last' (the last step's).")
    var keep: KeptWeights = .best
    @Option(help: "Maximum tokens per input (longest-first truncation).") var maxLength: Int?
    @Option(help: "Random seed (shuffling, dropout, new weights).") var seed: UInt64 = 42
    @Option(help: "Use only the first N training examples.") var maxTrainExamples: Int?
    @Option(help: "Use only the first N dev examples.") var maxDevExamples: Int?
    @Option(help: "Also evaluate every N steps.") var evalEvery: Int?
    @Option(help: "Write a resumable checkpoint every N steps (and at each epoch end).") var checkpointEvery: Int = 200
    @Option(help: "Stop once the dev primary metric reaches this value (iso-accuracy runs).") var stopAtScore: Double?
    @Option(help: "Threads (default: all cores; under mpirun, the cores shared among the host's processes).") var threads: Int?
    @Option(name: .customLong("allreduce-bucket-mib"),
            help: "Under mpirun, full fine-tuning: gradients are summed in buckets of this many MiB, started as the backward pass finishes them (0: one MPI_Allreduce after the backward pass).")
    var allreduceBucketMiB: Int = 8

    @Option(help: "Output directory.")
    var out: String

    @Flag(help: "Continue from OUT/checkpoint.safetensors.")
    var resume = false

    @Flag(help: "Write into --out even if it already holds files (a previous run's are overwritten).")
    var force = false

    /// Which data the run reads: a GLUE task, or the user's files.
    enum DataSource { case glue(GLUETask, directory: String), files(train: String, dev: String) }

    func dataSource() throws -> DataSource {
        switch (task, data, trainFile, devFile) {
        case let (task?, data?, nil, nil):
            guard !dataFile.isSet, taskType == nil, metric == nil else {
                throw ValidationError("--format, the column options, --task-type and --metric are for --train-file/--dev-file, not for a GLUE --task")
            }
            return .glue(try CLI.usageTask(task), directory: data)
        case let (nil, nil, train?, dev?):
            return .files(train: train, dev: dev)
        case (_, _, .some, nil), (_, _, nil, .some):
            throw ValidationError("--train-file and --dev-file go together (the dev file selects the best checkpoint)")
        case (.some, nil, _, _), (nil, .some, _, _):
            throw ValidationError("--task and --data go together")
        default:
            throw ValidationError("give either --task and --data (a GLUE task) or --train-file and --dev-file (your own data), not both")
        }
    }

    func validate() throws {
        let source = try dataSource()
        var glueTask: GLUETask?
        var inputs = [model]
        switch source {
        case .glue(let t, let directory):
            glueTask = t
            inputs.append(directory)
        case .files(let train, let dev):
            guard preset == nil else { throw ValidationError("--preset paper is for the paper's GLUE tasks (--task); set the hyper-parameters of your own data with --epochs, --lr, …") }
            inputs += [train, dev]
        }
        let (o, length) = try options(for: glueTask)
        if let initAdapter {
            guard method == .lora else { throw ValidationError("--init-adapter starts LoRA from an adapter: use it with --method lora") }
            inputs.append(initAdapter)
        }
        try CLI.usage {
            try o.validate()
            let rules = ValueRules(source: nil)
            try rules.within(length, 2...EncoderConfig.maxSequenceLength, key: "--max-length")
            if let maxTrainExamples { try rules.atLeast(maxTrainExamples, 1, key: "--max-train-examples") }
            if let maxDevExamples { try rules.atLeast(maxDevExamples, 1, key: "--max-dev-examples") }
        }
        try CLI.validateThreads(threads)
        try CLI.usage { try ValueRules(source: nil).within(allreduceBucketMiB, 0...4096, key: "--allreduce-bucket-mib") }
        if !CLI.isSecondaryProcess { try CLI.checkOutputDirectory(out, inputs: inputs, force: force || resume) }
    }

    func options(for t: GLUETask?) throws -> (TrainingOptions, maxLength: Int) {
        var o = TrainingOptions()
        o.method = method
        o.lora = try lora.config()
        var length = 128
        if let preset, let t {
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
        o.loraPlusRatio = loraPlusRatio
        o.initAdapter = initAdapter
        o.keep = keep == .best ? nil : keep
        return (o, length)
    }

    /// Reads the user's training and dev files: the task (classes or regression) and the examples.
    func readFiles(train: String, dev: String, maxLength: Int) throws -> TaskData {
        let tokenizer = try CLI.tokenizer(model)
        let trainReader = try dataFile.open(train)
        let training = try UserData.readTraining(trainReader, columns: dataFile.columns(), taskType: taskType, metric: metric,
                                                 tokenizer: tokenizer, maxLength: maxLength, limit: maxTrainExamples)
        let devExamples = try UserData.readLabelled(try dataFile.open(dev), columns: dataFile.columns(), scheme: training.scheme,
                                                    tokenizer: tokenizer, maxLength: maxLength, limit: maxDevExamples).examples
        switch training.scheme {
        case .classes(let names):
            let shown = names.prefix(10).joined(separator: ", ") + (names.count > 10 ? ", … (\(names.count) in all)" : "")
            CLI.note("\(train): \(training.columns); \(names.count) classes: \(shown); best checkpoint by \(training.task.primaryMetric.rawValue)")
        case .regression:
            CLI.note("\(train): \(training.columns); regression; best checkpoint by \(training.task.primaryMetric.rawValue)")
        }
        return TaskData(task: training.task, train: training.examples, dev: devExamples)
    }

    func run() throws {
        // Under mpirun: one process of a data-parallel job (Open MPI opened now, not before).
        let group = try MPIProcessGroup.current()
        CLI.silent = !group.isWriter  // the others' notes would repeat process 0's
        try CLI.runAsProcess(of: group, command: "train", stopsEveryProcess: { ($0 as? TrainingError)?.isRaisedByEveryProcess ?? false }) {
            try train(group: group)
        }
    }

    func train(group: ProcessGroup) throws {
        let source = try dataSource()
        var glueTask: GLUETask?
        if case .glue(let t, _) = source { glueTask = t }
        var (opts, length) = try options(for: glueTask)
        // The processes on one host share its cores.
        Threads.configure(threads ?? CLI.threadsPerProcess(group))
        if group.size > 1 {
            CLI.note("data-parallel: \(group.size) processes, \(Threads.count) thread(s) each; batches of \(opts.batchSize) shared between them")
        }
        // A GLUE task is known before its data: load (and check) the model first, as before;
        // a user's task is known once its training file has been read.
        func load(_ t: GLUETask) throws -> EncoderModel {
            let m = try CLI.loadModel(model, task: t, seed: seed)
            try CLI.usage { try m.config.validateMaxLength(length) }
            if !m.newlyInitialised.isEmpty {
                CLI.note("new head for \(t.name) (\(t.numLabels) outputs): \(m.newlyInitialised.joined(separator: ", "))")
            }
            return m
        }
        let taskData: TaskData
        let m: EncoderModel
        switch source {
        case .glue(let t, let directory):
            m = try load(t)
            taskData = try TaskData.load(task: t, dataDirectory: URL(fileURLWithPath: directory), tokenizer: CLI.tokenizer(model), maxLength: length,
                                         maxTrainExamples: maxTrainExamples, maxDevExamples: maxDevExamples)
        case .files(let train, let dev):
            taskData = try readFiles(train: train, dev: dev, maxLength: length)
            m = try load(taskData.task)
        }
        let t = taskData.task
        // Without --targets (or a preset's), the adapters go where the family puts them by default.
        if opts.method == .lora, lora.targets == nil, preset == nil { opts.lora.targets = m.config.family.defaultTargets }
        // A warm start takes the adapter's shape; only its dropout is the run's.
        if opts.method == .lora, let dir = initAdapter {
            let from = try PEFTAdapter.describe(URL(fileURLWithPath: dir), family: m.config.family).lora
            opts.lora = LoRAConfig(rank: from.rank, alpha: from.alpha, dropout: opts.lora.dropout, targets: from.targets, rsLoRA: from.rsLoRA)
            CLI.note("warm start: LoRA r \(from.rank), alpha \(from.alpha), targets \(from.targets.map(\.rawValue).joined(separator: ",")) from \(dir)")
        }
        CLI.note("\(t.name): \(taskData.train.count) train / \(taskData.dev.count) dev examples, max length \(length), method \(opts.method.rawValue), \(opts.epochs) epochs of batch \(opts.batchSize), lr \(opts.learningRate)")
        let trainer = try Trainer(model: m, task: t, train: taskData.train, dev: taskData.dev, options: opts,
                                  outputDirectory: URL(fileURLWithPath: out, isDirectory: true), baseModelPath: URL(fileURLWithPath: model).standardizedFileURL.path,
                                  group: group, bucketBytes: allreduceBucketMiB << 20)
        // A checkpoint resumes only the same run: same model (by content), data, length and caps.
        trainer.addInputIdentity(modelDirectory: URL(fileURLWithPath: model), maxLength: length,
                                 maxTrainExamples: maxTrainExamples, maxDevExamples: maxDevExamples)
        let counts = m.parameterCounts
        CLI.note("trainable parameters: \(CLI.grouped(counts.trainable)) of \(CLI.grouped(counts.total)); memory plan: \(trainer.memoryPlan.description)")
        if let hook = ProcessInfo.processInfo.environment[StudyRunCommand.killHookVariable] {
            // DIR:STEP, or DIR:STEP:PROCESS to kill one process of a data-parallel job.
            let parts = hook.split(separator: ":")
            if parts.count == 2 || (parts.count == 3 && Int(parts[2]) == group.rank),
               String(parts[0]) == URL(fileURLWithPath: out).lastPathComponent, let step = Int(parts[1]) {
                trainer.afterStep = { if $0 == step { kill(getpid(), SIGKILL) } }
            }
        }
        let summary = try trainer.run(resume: resume)
        guard group.isWriter else { return }
        print(String(format: "%@ %@: best %@ = %.4f at epoch %.2f (step %d); %d steps in %.1f s; weights in %@",
                     t.name, opts.method.rawValue, summary.bestMetric, summary.bestScore ?? .nan, summary.bestEpoch, summary.bestStep,
                     summary.steps, summary.trainSeconds, trainer.weightsURL.relativePath))
    }
}

extension KeptWeights: ExpressibleByArgument {}
