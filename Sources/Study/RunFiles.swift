import Foundation

/// The fine-tuning method of a run, as spelled in run directory names (`<TASK>-<method>`).
public enum StudyMethod: String, Codable, Sendable, CaseIterable, Comparable {
    /// Full fine-tuning (the paper's FFT): every parameter is trained.
    case full
    /// LoRA adapters (plus the classification head) on a frozen encoder.
    case lora
    /// LoRA+ (Hayou et al. 2024): LoRA with the B matrices and biases at 16× the learning rate.
    case loraPlus = "loraplus"
    /// LoRA initialised by PiSSA (the principal singular vectors of each adapted weight).
    case pissa

    /// The label used in report tables: `FFT`, `LoRA`, `LoRA+`, `PiSSA`.
    public var label: String {
        switch self {
        case .full: return "FFT"
        case .lora: return "LoRA"
        case .loraPlus: return "LoRA+"
        case .pissa: return "PiSSA"
        }
    }

    /// The paper's two methods; the others are this project's additions.
    public static let paperMethods: [StudyMethod] = [.full, .lora]

    /// FFT, LoRA, then the additions, as in the report's tables.
    public static func < (lhs: StudyMethod, rhs: StudyMethod) -> Bool {
        allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!
    }
}

/// `STUDY/study.json`: what was run, where and how. Every field may be absent.
public struct StudyManifest: Codable, Sendable, Equatable {
    /// The model's directory name, e.g. `roberta-base`.
    public var model: String?
    /// `bert` or `roberta`.
    public var modelFamily: String?
    /// `smoke`, `quick` or `paper` (the paper's Table 7 epochs).
    public var budget: String?
    /// A description of the machine the study ran on.
    public var machine: String?
    /// The command line that ran the study.
    public var command: String?
    /// The GLUE tasks the study covers, as named in run directories.
    public var tasks: [String]?
    /// The seeds of the plan.
    public var seeds: [UInt64]?
    /// The `lora` version (git commit) that ran the study.
    public var version: String?
    /// The plan: one row per task and method (the same for every seed).
    public var plan: [StudyPlanRow]?

    /// Creates a manifest from its fields.
    public init(model: String? = nil, modelFamily: String? = nil, budget: String? = nil,
                machine: String? = nil, command: String? = nil, tasks: [String]? = nil,
                seeds: [UInt64]? = nil, version: String? = nil, plan: [StudyPlanRow]? = nil) {
        self.model = model
        self.modelFamily = modelFamily
        self.budget = budget
        self.machine = machine
        self.command = command
        self.tasks = tasks
        self.seeds = seeds
        self.version = version
        self.plan = plan
    }

    enum CodingKeys: String, CodingKey {
        case model, budget, machine, command, tasks, seeds, version, plan
        case modelFamily = "model_family"
    }
}

/// One row of a study's plan in `study.json` (the reference runner's plan format).
public struct StudyPlanRow: Codable, Sendable, Equatable {
    /// The LoRA shape of the row.
    public struct LoRA: Codable, Sendable, Equatable {
        public var r: Double?
        public var alpha: Double?
        public var targets: [String]?
    }
    public var task: String
    public var method: String
    public var epochs: Double?
    public var batchSize: Double?
    public var learningRate: Double?
    public var weightDecay: Double?
    public var warmupRatio: Double?
    public var maxLength: Double?
    public var maxTrainExamples: Double?
    public var maxDevExamples: Double?
    public var evalsPerEpoch: Double?
    public var lora: LoRA?

    enum CodingKeys: String, CodingKey {
        case task, method, epochs, lora
        case batchSize = "batch_size"
        case learningRate = "learning_rate"
        case weightDecay = "weight_decay"
        case warmupRatio = "warmup_ratio"
        case maxLength = "max_length"
        case maxTrainExamples = "max_train_examples"
        case maxDevExamples = "max_dev_examples"
        case evalsPerEpoch = "evals_per_epoch"
    }
}

/// The hyper-parameters recorded in a run's `summary.json` (`options`), read leniently:
/// a field that is absent or of an unexpected type is `nil`.
public struct RunOptions: Codable, Sendable, Equatable {
    /// Planned epochs.
    public var epochs: Int?
    /// Training batch size.
    public var batchSize: Int?
    /// Peak learning rate.
    public var learningRate: Double?
    /// AdamW weight decay.
    public var weightDecay: Double?
    /// Warm-up share of the steps.
    public var warmupRatio: Double?
    /// Random seed.
    public var seed: UInt64?
    /// Stop once the primary metric reaches this value.
    public var stopAtScore: Double?
    /// LoRA rank (LoRA runs).
    public var loraRank: Int?
    /// LoRA α (LoRA runs).
    public var loraAlpha: Double?
    /// LoRA target layers (LoRA runs), e.g. `["query", "value"]`.
    public var loraTargets: [String]?

    /// Creates options from their fields.
    public init(epochs: Int? = nil, batchSize: Int? = nil, learningRate: Double? = nil,
                weightDecay: Double? = nil, warmupRatio: Double? = nil, seed: UInt64? = nil,
                stopAtScore: Double? = nil, loraRank: Int? = nil, loraAlpha: Double? = nil,
                loraTargets: [String]? = nil) {
        self.epochs = epochs
        self.batchSize = batchSize
        self.learningRate = learningRate
        self.weightDecay = weightDecay
        self.warmupRatio = warmupRatio
        self.seed = seed
        self.stopAtScore = stopAtScore
        self.loraRank = loraRank
        self.loraAlpha = loraAlpha
        self.loraTargets = loraTargets
    }

    private enum SummaryKeys: String, CodingKey {
        case epochs, batchSize, learningRate, weightDecay, warmupRatio, seed, stopAtScore, lora
        case loraRank, loraAlpha, loraTargets
    }

    private enum LoRAKeys: String, CodingKey {
        case rank, alpha, targets
    }

    /// Reads either the trainer's layout (`lora: {rank, alpha, targets}`) or this type's own
    /// flat layout; never fails on a field of an unexpected type.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: SummaryKeys.self)
        func number(_ key: SummaryKeys) -> Double? { (try? c.decodeIfPresent(Double.self, forKey: key)) ?? nil }
        epochs = number(.epochs).map { Int($0) }
        batchSize = number(.batchSize).map { Int($0) }
        learningRate = number(.learningRate)
        weightDecay = number(.weightDecay)
        warmupRatio = number(.warmupRatio)
        seed = (try? c.decodeIfPresent(UInt64.self, forKey: .seed)) ?? nil
        stopAtScore = number(.stopAtScore)
        loraRank = number(.loraRank).map { Int($0) }
        loraAlpha = number(.loraAlpha)
        loraTargets = (try? c.decodeIfPresent([String].self, forKey: .loraTargets)) ?? nil
        if let lora = try? c.nestedContainer(keyedBy: LoRAKeys.self, forKey: .lora) {
            loraRank = ((try? lora.decodeIfPresent(Double.self, forKey: .rank)) ?? nil).map { Int($0) }
            loraAlpha = (try? lora.decodeIfPresent(Double.self, forKey: .alpha)) ?? nil
            loraTargets = (try? lora.decodeIfPresent([String].self, forKey: .targets)) ?? nil
        }
    }

    /// Writes the flat layout (`loraRank`, `loraAlpha`, `loraTargets`).
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: SummaryKeys.self)
        try c.encodeIfPresent(epochs, forKey: .epochs)
        try c.encodeIfPresent(batchSize, forKey: .batchSize)
        try c.encodeIfPresent(learningRate, forKey: .learningRate)
        try c.encodeIfPresent(weightDecay, forKey: .weightDecay)
        try c.encodeIfPresent(warmupRatio, forKey: .warmupRatio)
        try c.encodeIfPresent(seed, forKey: .seed)
        try c.encodeIfPresent(stopAtScore, forKey: .stopAtScore)
        try c.encodeIfPresent(loraRank, forKey: .loraRank)
        try c.encodeIfPresent(loraAlpha, forKey: .loraAlpha)
        try c.encodeIfPresent(loraTargets, forKey: .loraTargets)
    }
}

/// A run's `summary.json`, written by the trainer when the run ends. Every field may be
/// absent (`bestScore` is `null` when no evaluation ran).
public struct RunSummary: Codable, Sendable, Equatable {
    /// GLUE task name.
    public var task: String?
    /// `full` or `lora`.
    public var method: String?
    /// Parameters updated by the optimizer (LoRA: adapters and head).
    public var trainableParameters: Int?
    /// All parameters of the model (frozen ones included; adapters included for LoRA).
    public var totalParameters: Int?
    /// Parameters of the LoRA matrices alone (0 for full fine-tuning).
    public var adapterParameters: Int?
    /// Training examples.
    public var trainExamples: Int?
    /// Dev (validation) examples.
    public var devExamples: Int?
    /// Optimizer steps taken.
    public var steps: Int?
    /// Epochs completed (fractional when stopped mid-epoch).
    public var epochsCompleted: Double?
    /// Best primary-metric score on dev, raw scale (0.85 = 85 %).
    public var bestScore: Double?
    /// Name of the primary metric, e.g. `accuracy`.
    public var bestMetric: String?
    /// Epoch position of the best evaluation.
    public var bestEpoch: Double?
    /// Step of the best evaluation.
    public var bestStep: Int?
    /// Every metric of the last evaluation.
    public var finalMetrics: [String: Double]?
    /// Seconds spent in training steps (evaluation excluded).
    public var trainSeconds: Double?
    /// Seconds spent evaluating.
    public var evalSeconds: Double?
    /// Wall-clock seconds of the run.
    public var wallSeconds: Double?
    /// Whether the run stopped before its planned epochs.
    public var stoppedEarly: Bool?
    /// Training seconds at which `stopAtScore` was reached, if it was.
    public var reachedScoreAtSeconds: Double?
    /// Where the best weights were saved.
    public var weightsPath: String?
    /// The run's hyper-parameters.
    public var options: RunOptions?

    /// Creates a summary from its fields (all optional).
    public init(task: String? = nil, method: String? = nil, trainableParameters: Int? = nil,
                totalParameters: Int? = nil, adapterParameters: Int? = nil, trainExamples: Int? = nil,
                devExamples: Int? = nil, steps: Int? = nil, epochsCompleted: Double? = nil,
                bestScore: Double? = nil, bestMetric: String? = nil, bestEpoch: Double? = nil,
                bestStep: Int? = nil, finalMetrics: [String: Double]? = nil, trainSeconds: Double? = nil,
                evalSeconds: Double? = nil, wallSeconds: Double? = nil, stoppedEarly: Bool? = nil,
                reachedScoreAtSeconds: Double? = nil, weightsPath: String? = nil, options: RunOptions? = nil) {
        self.task = task
        self.method = method
        self.trainableParameters = trainableParameters
        self.totalParameters = totalParameters
        self.adapterParameters = adapterParameters
        self.trainExamples = trainExamples
        self.devExamples = devExamples
        self.steps = steps
        self.epochsCompleted = epochsCompleted
        self.bestScore = bestScore
        self.bestMetric = bestMetric
        self.bestEpoch = bestEpoch
        self.bestStep = bestStep
        self.finalMetrics = finalMetrics
        self.trainSeconds = trainSeconds
        self.evalSeconds = evalSeconds
        self.wallSeconds = wallSeconds
        self.stoppedEarly = stoppedEarly
        self.reachedScoreAtSeconds = reachedScoreAtSeconds
        self.weightsPath = weightsPath
        self.options = options
    }

    private enum CodingKeys: String, CodingKey {
        case task, method, trainableParameters, totalParameters, adapterParameters, trainExamples
        case devExamples, steps, epochsCompleted, bestScore, bestMetric, bestEpoch, bestStep
        case finalMetrics, trainSeconds, evalSeconds, wallSeconds, stoppedEarly
        case reachedScoreAtSeconds, weightsPath, options
    }

    /// Decodes counts written either as integers or as whole floating-point numbers.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        func count(_ key: CodingKeys) throws -> Int? { try c.decodeCount(key) }
        task = try c.decodeIfPresent(String.self, forKey: .task)
        method = try c.decodeIfPresent(String.self, forKey: .method)
        trainableParameters = try count(.trainableParameters)
        totalParameters = try count(.totalParameters)
        adapterParameters = try count(.adapterParameters)
        trainExamples = try count(.trainExamples)
        devExamples = try count(.devExamples)
        steps = try count(.steps)
        epochsCompleted = try c.decodeIfPresent(Double.self, forKey: .epochsCompleted)
        bestScore = try c.decodeIfPresent(Double.self, forKey: .bestScore)
        bestMetric = try c.decodeIfPresent(String.self, forKey: .bestMetric)
        bestEpoch = try c.decodeIfPresent(Double.self, forKey: .bestEpoch)
        bestStep = try count(.bestStep)
        // Undefined metrics may be written as null; they are left out.
        finalMetrics = try c.decodeIfPresent([String: Double?].self, forKey: .finalMetrics)?.compactMapValues { $0 }
        trainSeconds = try c.decodeIfPresent(Double.self, forKey: .trainSeconds)
        evalSeconds = try c.decodeIfPresent(Double.self, forKey: .evalSeconds)
        wallSeconds = try c.decodeIfPresent(Double.self, forKey: .wallSeconds)
        stoppedEarly = try c.decodeIfPresent(Bool.self, forKey: .stoppedEarly)
        reachedScoreAtSeconds = try c.decodeIfPresent(Double.self, forKey: .reachedScoreAtSeconds)
        weightsPath = try c.decodeIfPresent(String.self, forKey: .weightsPath)
        options = try? c.decodeIfPresent(RunOptions.self, forKey: .options)
    }
}

/// A run's `memory.json`: where the training memory goes, in bytes.
public struct MemoryBreakdown: Codable, Sendable, Equatable {
    /// All model weights (frozen and trainable).
    public var weightsBytes: Double?
    /// Gradient buffers (trainable parameters only).
    public var gradientsBytes: Double?
    /// Optimizer state (AdamW: two moments per trainable parameter).
    public var optimizerBytes: Double?
    /// Peak of the activation arena.
    public var activationsPeakBytes: Double?
    /// Peak resident set size of the process during training.
    public var peakRSSBytes: Double?
    /// Time-averaged resident set size during training.
    public var averageRSSBytes: Double?

    /// Creates a breakdown from its fields.
    public init(weightsBytes: Double? = nil, gradientsBytes: Double? = nil, optimizerBytes: Double? = nil,
                activationsPeakBytes: Double? = nil, peakRSSBytes: Double? = nil, averageRSSBytes: Double? = nil) {
        self.weightsBytes = weightsBytes
        self.gradientsBytes = gradientsBytes
        self.optimizerBytes = optimizerBytes
        self.activationsPeakBytes = activationsPeakBytes
        self.peakRSSBytes = peakRSSBytes
        self.averageRSSBytes = averageRSSBytes
    }

    enum CodingKeys: String, CodingKey {
        case weightsBytes = "weights_bytes"
        case gradientsBytes = "gradients_bytes"
        case optimizerBytes = "optimizer_bytes"
        case activationsPeakBytes = "activations_peak_bytes"
        case peakRSSBytes = "peak_rss_bytes"
        case averageRSSBytes = "average_rss_bytes"
    }
}

/// A run's `inference.json`: wall seconds of full passes over the dev set.
///
/// Full fine-tuning runs time the plain model (`fft`); LoRA runs time the merged model
/// (`lora_merged`, the deployment path) and the unmerged one (`lora_unmerged`, adapter
/// computed beside each frozen layer).
public struct InferenceTimings: Codable, Sendable, Equatable {
    /// Dev examples per pass.
    public var devExamples: Int?
    /// Evaluation batch size.
    public var batchSize: Int?
    /// Timed passes per configuration.
    public var repeats: Int?
    /// Seconds of each pass, by configuration (`fft`, `lora_merged`, `lora_unmerged`).
    public var seconds: [String: [Double]]

    /// Creates timings from their fields.
    public init(devExamples: Int? = nil, batchSize: Int? = nil, repeats: Int? = nil, seconds: [String: [Double]] = [:]) {
        self.devExamples = devExamples
        self.batchSize = batchSize
        self.repeats = repeats
        self.seconds = seconds
    }

    enum CodingKeys: String, CodingKey {
        case devExamples = "dev_examples"
        case batchSize = "batch_size"
        case repeats, seconds
    }

    /// Decodes counts written either as integers or as whole floating-point numbers; a
    /// missing `seconds` is empty.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        devExamples = try c.decodeCount(.devExamples)
        batchSize = try c.decodeCount(.batchSize)
        repeats = try c.decodeCount(.repeats)
        seconds = try c.decodeIfPresent([String: [Double]].self, forKey: .seconds) ?? [:]
    }

    /// The median of a configuration's passes (`fft`, `lora_merged`, `lora_unmerged`), or
    /// `nil` if it has none.
    public func median(_ configuration: String) -> Double? {
        guard let values = seconds[configuration], !values.isEmpty else { return nil }
        return Self.median(values)
    }

    /// The median of `values` (mean of the middle two for an even count); `nil` if empty.
    public static func median(_ values: [Double]) -> Double? {
        guard !values.isEmpty else { return nil }
        let sorted = values.sorted()
        let mid = sorted.count / 2
        return sorted.count % 2 == 1 ? sorted[mid] : 0.5 * (sorted[mid - 1] + sorted[mid])
    }
}

/// A run's `failed.json`: how its child process last failed.
public struct RunFailure: Codable, Sendable, Equatable {
    /// Exit status, or the signal number when `signalled`.
    public var exitStatus: Int?
    /// Whether a signal ended the process.
    public var signalled: Bool?
    /// "exit status 1" or "signal 9 (SIGKILL)".
    public var outcome: String?
    /// The last lines of its stderr.
    public var stderrTail: [String]?

    /// Creates a failure record.
    public init(exitStatus: Int? = nil, signalled: Bool? = nil, outcome: String? = nil, stderrTail: [String]? = nil) {
        self.exitStatus = exitStatus
        self.signalled = signalled
        self.outcome = outcome
        self.stderrTail = stderrTail
    }

    enum CodingKeys: String, CodingKey {
        case exitStatus = "exit_status"
        case signalled, outcome
        case stderrTail = "stderr_tail"
    }
}

/// `latency/<TASK>.json`: one task's FFT, merged and unmerged LoRA timings, measured in one
/// fresh process with the configurations interleaved round by round (`lora study-latency`).
public struct LatencyMeasurement: Codable, Sendable, Equatable {
    /// One configuration's timings.
    public struct Configuration: Codable, Sendable, Equatable {
        /// Wall seconds of each timed dev-set pass, round by round.
        public var devPassSeconds: [Double]
        /// Median single-example (batch 1) latency over the dev set, s.
        public var singleExampleP50Seconds: Double?
        /// 95th percentile of the single-example latency, s.
        public var singleExampleP95Seconds: Double?

        /// Creates a configuration's timings.
        public init(devPassSeconds: [Double], singleExampleP50Seconds: Double? = nil, singleExampleP95Seconds: Double? = nil) {
            self.devPassSeconds = devPassSeconds
            self.singleExampleP50Seconds = singleExampleP50Seconds
            self.singleExampleP95Seconds = singleExampleP95Seconds
        }

        enum CodingKeys: String, CodingKey {
            case devPassSeconds = "dev_pass_seconds"
            case singleExampleP50Seconds = "single_example_p50_seconds"
            case singleExampleP95Seconds = "single_example_p95_seconds"
        }
    }

    /// GLUE task name.
    public var task: String?
    /// Dev examples per pass.
    public var devExamples: Int?
    /// Batch size of the dev passes.
    public var batchSize: Int?
    /// Timed rounds.
    public var rounds: Int?
    /// The run directories the FFT and LoRA models come from.
    public var fftRun: String?
    public var loraRun: String?
    /// Largest |logit| difference between the merged and unmerged LoRA models on the first batch.
    public var mergedVsUnmergedMaxAbsLogitDifference: Double?
    /// `fft`, `lora_merged`, `lora_unmerged`.
    public var configurations: [String: Configuration]

    /// Creates a measurement.
    public init(task: String? = nil, devExamples: Int? = nil, batchSize: Int? = nil, rounds: Int? = nil, fftRun: String? = nil,
                loraRun: String? = nil, mergedVsUnmergedMaxAbsLogitDifference: Double? = nil, configurations: [String: Configuration] = [:]) {
        self.task = task
        self.devExamples = devExamples
        self.batchSize = batchSize
        self.rounds = rounds
        self.fftRun = fftRun
        self.loraRun = loraRun
        self.mergedVsUnmergedMaxAbsLogitDifference = mergedVsUnmergedMaxAbsLogitDifference
        self.configurations = configurations
    }

    enum CodingKeys: String, CodingKey {
        case task, rounds, configurations
        case devExamples = "dev_examples"
        case batchSize = "batch_size"
        case fftRun = "fft_run"
        case loraRun = "lora_run"
        case mergedVsUnmergedMaxAbsLogitDifference = "merged_vs_unmerged_max_abs_logit_difference"
    }

    /// Decodes counts written either as integers or as whole floating-point numbers.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        func count(_ key: CodingKeys) throws -> Int? { try c.decodeCount(key) }
        task = try c.decodeIfPresent(String.self, forKey: .task)
        devExamples = try count(.devExamples)
        batchSize = try count(.batchSize)
        rounds = try count(.rounds)
        fftRun = try c.decodeIfPresent(String.self, forKey: .fftRun)
        loraRun = try c.decodeIfPresent(String.self, forKey: .loraRun)
        mergedVsUnmergedMaxAbsLogitDifference = try c.decodeIfPresent(Double.self, forKey: .mergedVsUnmergedMaxAbsLogitDifference)
        configurations = try c.decodeIfPresent([String: Configuration].self, forKey: .configurations) ?? [:]
    }
}

/// Results of the reference implementation (the Python PEFT runner), for the LoRA(ref) row.
///
/// File layout: `{"runs": [{"task": "MRPC", "method": "lora", "best_score": 0.85,
/// "metric": "accuracy", "train_seconds": 123.4, "epochs": 3}]}`.
public struct ReferenceResults: Codable, Sendable, Equatable {
    /// One reference run.
    public struct Run: Codable, Sendable, Equatable {
        /// GLUE task name.
        public var task: String
        /// `lora` or `full`.
        public var method: String
        /// Best dev score, raw scale (0.85); a value above 1.5 is read as already ×100.
        public var bestScore: Double?
        /// The metric of `bestScore`.
        public var metric: String?
        /// Training seconds.
        public var trainSeconds: Double?
        /// Epochs trained.
        public var epochs: Double?
        /// The run's seed.
        public var seed: UInt64?

        /// Creates a reference run from its fields.
        public init(task: String, method: String, bestScore: Double? = nil, metric: String? = nil,
                    trainSeconds: Double? = nil, epochs: Double? = nil, seed: UInt64? = nil) {
            self.task = task
            self.method = method
            self.bestScore = bestScore
            self.metric = metric
            self.trainSeconds = trainSeconds
            self.epochs = epochs
            self.seed = seed
        }

        enum CodingKeys: String, CodingKey {
            case task, method, metric, epochs, seed
            case bestScore = "best_score"
            case trainSeconds = "train_seconds"
        }
    }

    /// The reference runs.
    public var runs: [Run]

    /// Creates reference results from runs.
    public init(runs: [Run]) {
        self.runs = runs
    }

    /// Reads a reference results file.
    ///
    /// - Throws: ``StudyError/malformedJSON(path:line:reason:)``, or
    ///   ``StudyError/unreadable(path:reason:)`` also when the file does not exist (a
    ///   reference file that was asked for must be there).
    public static func load(from url: URL) throws -> ReferenceResults {
        guard let results = try JSONFiles.decode(ReferenceResults.self, at: url) else {
            throw StudyError.unreadable(path: url.path, reason: "no such file")
        }
        return results
    }

    /// The reference runs of `task` and `method` (task names compared without case or
    /// punctuation, so `sst2` matches `SST-2`), in seed order; with `seeds`, only those seeds.
    public func runs(task: String, method: StudyMethod, seeds: Set<UInt64>? = nil) -> [Run] {
        let key = PaperFigures.taskKey(task)
        return runs.filter { PaperFigures.taskKey($0.task) == key && $0.method.lowercased() == method.rawValue }
            .filter { run in seeds.map { run.seed.map($0.contains) ?? false } ?? true }
            .sorted { ($0.seed ?? 0) < ($1.seed ?? 0) }
    }

    /// The first reference run of `task` and `method`, if any.
    public func run(task: String, method: StudyMethod) -> Run? {
        runs(task: task, method: method).first
    }
}

extension KeyedDecodingContainer {
    /// A count written as an integer or as a whole floating-point number (`12` or `12.0`), or
    /// `nil` when the key is absent.
    func decodeCount(_ key: Key) throws -> Int? {
        try decodeIfPresent(Double.self, forKey: key).map { Int($0.rounded()) }
    }
}
