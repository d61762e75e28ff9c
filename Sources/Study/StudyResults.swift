import Foundation

/// Every figure of a study's report, machine-readable (written as `results.json`).
///
/// Scores are on the raw scale (0.85 = 85 %; the report shows them ×100), times in seconds,
/// memory in MiB, energy in joules, power in watts. A figure that could not be determined is
/// absent (`nil`).
public struct StudyResults: Codable, Sendable, Equatable {
    /// When the report was generated, ISO 8601 (UTC).
    public var generated: String
    /// The study directory.
    public var studyDirectory: String
    /// `study.json`, if present.
    public var manifest: StudyManifest?
    /// The reference results file given, if any.
    public var referenceResults: String?
    /// Assumed watts per busy core of the energy ESTIMATE (used only where power is not measured).
    public var assumedWattsPerBusyCore: Double
    /// Margin below the lower best score that defines the iso-accuracy threshold.
    public var isoAccuracyMargin: Double
    /// Task columns, in report order.
    public var tasks: [String]
    /// Trainable-parameter counts (Table 1).
    public var parameters: ParameterResults
    /// Per-task results (Tables 2–6).
    public var taskResults: [TaskResult]
    /// Per-run figures.
    public var runs: [RunResult]
    /// Plot files, relative to the study directory.
    public var plots: [String]
    /// Things worth knowing about the inputs (skipped directories, incomplete lines, …).
    public var warnings: [String]
    /// The paper's claims checked against this study's numbers.
    public var claims: [Claim] = []
    /// The goals of the methods beyond the paper (LoRA+, PiSSA) against FFT, checked as the
    /// claims are (ids `<method>_scores`, `<method>_time_energy`); empty without such runs.
    public var additionGoals: [Claim]? = nil

    /// The result of `task`, if it is one of the columns.
    public func task(_ task: String) -> TaskResult? {
        taskResults.first { $0.task == task }
    }

    /// The figures of the median run of `task` and `method` (the run Tables 3–6 use), if any.
    public func run(task: String, method: StudyMethod) -> RunResult? {
        runs.first { $0.task == task && $0.method == method && $0.isMedian } ?? runs.first { $0.task == task && $0.method == method }
    }

    /// Every run of `task` and `method`, in seed order.
    public func runs(task: String, method: StudyMethod) -> [RunResult] {
        runs.filter { $0.task == task && $0.method == method }
    }
}

/// One of the paper's claims, checked against the study's numbers.
public struct Claim: Codable, Sendable, Equatable {
    /// `parameters`, `scores`, `inference_latency`, `memory` or `energy`.
    public var id: String
    /// What the paper claims, in words.
    public var statement: String
    /// true: holds; false: does not hold; nil: not measured (or not enough runs to say).
    public var holds: Bool?
    /// The numbers behind the verdict, in words.
    public var detail: String
    /// The numbers behind the verdict, by name.
    public var figures: [String: Double]

    enum CodingKeys: String, CodingKey { case id, statement, holds, detail, figures, verdict }

    /// Creates a claim's verdict.
    public init(id: String, statement: String, holds: Bool?, detail: String, figures: [String: Double]) {
        self.id = id
        self.statement = statement
        self.holds = holds
        self.detail = detail
        self.figures = figures
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        id = try c.decode(String.self, forKey: .id)
        statement = try c.decode(String.self, forKey: .statement)
        holds = try c.decodeIfPresent(Bool.self, forKey: .holds)
        detail = try c.decode(String.self, forKey: .detail)
        figures = try c.decode([String: Double].self, forKey: .figures)
    }

    /// Writes `holds` as null when not measured (never leaves it out), and the verdict.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(statement, forKey: .statement)
        if let holds { try c.encode(holds, forKey: .holds) } else { try c.encodeNil(forKey: .holds) }
        try c.encode(detail, forKey: .detail)
        try c.encode(figures, forKey: .figures)
        try c.encode(verdict, forKey: .verdict)
    }

    /// "holds", "does not hold" or "not measured".
    public var verdict: String {
        switch holds {
        case true?: return "holds"
        case false?: return "does not hold"
        case nil: return "not measured"
        }
    }
}

/// One seed's Table 2 score.
public struct SeedScore: Codable, Sendable, Equatable {
    /// The seed (nil for a run directory without one).
    public var seed: UInt64?
    /// Best dev score on the table's metric, raw scale.
    public var score: Double
}

/// Table 3 from `latency/<TASK>.json`: one configuration's timings.
public struct LatencyFigures: Codable, Sendable, Equatable {
    /// Median, fastest and slowest dev-set pass, s.
    public var devPassMedianSeconds: Double
    public var devPassMinSeconds: Double
    public var devPassMaxSeconds: Double
    /// Single-example latency over the dev set, s.
    public var singleP50Seconds: Double?
    public var singleP95Seconds: Double?
}

/// Table 3 of one task: FFT, merged and unmerged LoRA timed in one process, interleaved.
public struct LatencyResult: Codable, Sendable, Equatable {
    public var fft: LatencyFigures?
    public var loraMerged: LatencyFigures?
    public var loraUnmerged: LatencyFigures?
    /// Median over rounds of the paired difference merged / FFT − 1, percent.
    public var mergedVsFFTPercent: Double?
    /// The smallest and largest paired difference over the rounds, percent: for n rounds a
    /// distribution-free interval for the median difference with coverage 1 − 2^(1−n).
    public var mergedVsFFTIntervalPercent: [Double]?
    /// The interval's coverage.
    public var intervalCoverage: Double?
    /// Median over rounds of unmerged / merged − 1, percent.
    public var unmergedOverheadPercent: Double?
    /// Rounds, dev examples, batch size.
    public var rounds: Int?
    public var devExamples: Int?
    public var batchSize: Int?
    /// The runs the models came from.
    public var fftRun: String?
    public var loraRun: String?
    /// Largest |logit| difference merged vs unmerged (a correctness check of the merge).
    public var mergedVsUnmergedMaxAbsLogitDifference: Double?
}

/// Table 1: trainable parameters, from the runs' summaries or logs.
public struct ParameterResults: Codable, Sendable, Equatable {
    /// Trainable parameters of full fine-tuning (first task in report order that has them).
    public var fftTrainable: Int?
    /// All parameters of the full fine-tuning model.
    public var fftTotal: Int?
    /// Trainable parameters of LoRA: adapters plus the classification head.
    public var loraTrainable: Int?
    /// Parameters of the LoRA matrices alone (what the paper's 0.3 M counts).
    public var loraAdapter: Int?
    /// All parameters of the LoRA model (frozen encoder, head and adapters).
    public var loraTotal: Int?
    /// Smallest and largest FFT trainable counts across tasks (heads differ: STS-B has one output).
    public var fftTrainableRange: [Int]?
    /// Smallest and largest LoRA trainable counts across tasks.
    public var loraTrainableRange: [Int]?
}

/// Everything about one task across methods.
public struct TaskResult: Codable, Sendable, Equatable {
    /// GLUE task name.
    public var task: String
    /// The metric Table 2 reports (the paper's: MCC for CoLA, Pearson for STS-B, else accuracy).
    public var metric: String
    /// Best FFT dev score on `metric`, raw scale.
    public var fftScore: Double?
    /// Best LoRA dev score on `metric`, raw scale.
    public var loraScore: Double?
    /// The reference runner's LoRA score, raw scale.
    public var loraReferenceScore: Double?
    /// The reference runner's FFT score, raw scale.
    public var fftReferenceScore: Double?
    /// Best FFT score on its primary metric (the one the threshold uses), raw scale.
    public var fftBestPrimary: Double?
    /// Best LoRA score on its primary metric, raw scale.
    public var loraBestPrimary: Double?
    /// The iso-accuracy threshold, raw scale; `nil` unless both methods have a best score.
    public var threshold: Double?
    /// The paper's published figures for this task, if it is one of its five.
    public var published: PublishedTask?
    /// Every seed's FFT and LoRA Table 2 score (`fftScore`, `loraScore` are their medians).
    public var fftSeedScores: [SeedScore] = []
    public var loraSeedScores: [SeedScore] = []
    /// The seeds the reference runner's LoRA(ref) median holds.
    public var loraReferenceSeeds: [UInt64] = []
    /// The seeds of the median runs (Tables 3–6).
    public var fftMedianSeed: UInt64?
    public var loraMedianSeed: UInt64?
    /// Table 3 as measured in one process, interleaved.
    public var latency: LatencyResult?
    /// Why LoRA's training memory is not below FFT's here, from the data (nil when it is).
    public var memoryNote: String?
    /// The methods beyond the paper's two (LoRA+, PiSSA), each against FFT.
    public var additions: [MethodComparison]? = nil
}

/// A method beyond the paper's two against FFT on one task: its scores, and both methods'
/// cost to the threshold min(best FFT, best method) − margin (the paper's protocol, with the
/// method in LoRA's place).
public struct MethodComparison: Codable, Sendable, Equatable {
    public var method: StudyMethod
    /// Every seed's Table 2 score and their median, raw scale.
    public var seedScores: [SeedScore] = []
    public var score: Double?
    /// The seed of the median run, and its best score on the primary metric.
    public var medianSeed: UInt64?
    public var bestPrimary: Double?
    /// The threshold against FFT, raw scale.
    public var threshold: Double?
    /// The method's median run, and FFT's median run, to that threshold.
    public var reach: IsoAccuracyResult?
    public var fftReach: IsoAccuracyResult?

    public init(method: StudyMethod) { self.method = method }
}

/// The paper's published figures for one task (RoBERTa-base on a GPU; not our measurements).
public struct PublishedTask: Codable, Sendable, Equatable {
    /// Table 2, ×100.
    public var fftScore: Double
    /// Table 2, ×100.
    public var loraPaperScore: Double
    /// Table 2, ×100.
    public var loraReferenceScore: Double
    /// Table 2, ×100.
    public var loraReproductionScore: Double
    /// Table 3, seconds.
    public var fftInferenceSeconds: Double
    /// Table 3, seconds.
    public var loraInferenceSeconds: Double
    /// Table 4, MB of GPU memory.
    public var fftAverageMemoryMB: Double
    /// Table 4, MB of GPU memory.
    public var loraAverageMemoryMB: Double
    /// Table 5: average GPU power, W.
    public var fftPowerWatts: Double
    /// Table 5: training seconds to the threshold.
    public var fftTrainSeconds: Double
    /// Table 5: epochs to the threshold.
    public var fftEpochs: Double
    /// Table 5: energy to the threshold, kJ.
    public var fftEnergyKilojoules: Double
    /// Table 6: average GPU power, W.
    public var loraPowerWatts: Double
    /// Table 6: training seconds to the threshold.
    public var loraTrainSeconds: Double
    /// Table 6: epochs to the threshold.
    public var loraEpochs: Double
    /// Table 6: energy to the threshold, kJ.
    public var loraEnergyKilojoules: Double

    /// The published figures of `task`, or `nil` if the paper did not run it.
    public init?(task: String) {
        guard let i = PaperFigures.taskIndex(task) else { return nil }
        fftScore = PaperFigures.fftScores[i]
        loraPaperScore = PaperFigures.loraPaperScores[i]
        loraReferenceScore = PaperFigures.loraReferenceScores[i]
        loraReproductionScore = PaperFigures.loraReproductionScores[i]
        fftInferenceSeconds = PaperFigures.fftInferenceSeconds[i]
        loraInferenceSeconds = PaperFigures.loraInferenceSeconds[i]
        fftAverageMemoryMB = PaperFigures.fftAverageMemoryMB[i]
        loraAverageMemoryMB = PaperFigures.loraAverageMemoryMB[i]
        let f = PaperFigures.fftEfficiency, l = PaperFigures.loraEfficiency
        fftPowerWatts = f.powerWatts[i]
        fftTrainSeconds = f.trainSeconds[i]
        fftEpochs = f.epochs[i]
        fftEnergyKilojoules = f.energyKilojoules[i]
        loraPowerWatts = l.powerWatts[i]
        loraTrainSeconds = l.trainSeconds[i]
        loraEpochs = l.epochs[i]
        loraEnergyKilojoules = l.energyKilojoules[i]
    }
}

/// The figures of one run.
public struct RunResult: Codable, Sendable, Equatable {
    /// GLUE task name.
    public var task: String
    /// `full` or `lora`.
    public var method: StudyMethod
    /// `finished` (end record or summary), `running` (log without end), `failed` (error
    /// record, no end), or `no log`.
    public var status: String
    /// Parameters the optimizer updates.
    public var trainableParameters: Int?
    /// All parameters of the model.
    public var totalParameters: Int?
    /// LoRA matrices' parameters (LoRA runs).
    public var adapterParameters: Int?
    /// Training examples.
    public var trainExamples: Int?
    /// Dev examples.
    public var devExamples: Int?
    /// Primary metric name.
    public var metric: String?
    /// Best primary score, raw scale.
    public var bestScore: Double?
    /// Best score on the paper's metric for the task (Table 2), raw scale.
    public var tableScore: Double?
    /// Epoch position of the best evaluation.
    public var bestEpoch: Double?
    /// Step of the best evaluation.
    public var bestStep: Int?
    /// Number of logged evaluations.
    public var evaluations: Int
    /// Optimizer steps taken.
    public var steps: Int?
    /// Epochs completed.
    public var epochsCompleted: Double?
    /// Planned epochs.
    public var plannedEpochs: Int?
    /// Seconds in training steps.
    public var trainSeconds: Double?
    /// Seconds evaluating.
    public var evalSeconds: Double?
    /// Wall-clock seconds.
    public var wallSeconds: Double?
    /// Training tokens per training second.
    public var tokensPerSecond: Double?
    /// Whether the run stopped before its planned epochs.
    public var stoppedEarly: Bool?
    /// Messages of error records.
    public var errors: [String]
    /// Hyper-parameters as run.
    public var options: RunOptions?
    /// Table 3 figures.
    public var inference: InferenceResult?
    /// Table 4 figures.
    public var memory: MemoryResult?
    /// Whole-run power, energy and CPU figures.
    public var power: PowerResult?
    /// Tables 5–6 figures; `nil` without a threshold.
    public var isoAccuracy: IsoAccuracyResult?
    /// The run's seed.
    public var seed: UInt64?
    /// Whether this is its task and method's median run (the one Tables 3–6 use).
    public var isMedian: Bool = false
    /// Whether the best score came in the last evaluation and rose by more than 1 point over
    /// the one before (the dev curve had not levelled off).
    public var stillImproving: Bool = false
    /// How the run's process last failed, if it did (`failed.json`).
    public var failure: RunFailure?
    /// The run directory's name.
    public var directory: String?
}

/// Table 3: medians of the timed passes over the dev set, seconds.
public struct InferenceResult: Codable, Sendable, Equatable {
    /// Plain (fully fine-tuned) model.
    public var fftMedianSeconds: Double?
    /// LoRA merged into the weights.
    public var loraMergedMedianSeconds: Double?
    /// LoRA computed beside the frozen weights.
    public var loraUnmergedMedianSeconds: Double?
    /// Dev examples per pass.
    public var devExamples: Int?
    /// Batch size.
    public var batchSize: Int?
    /// Timed passes.
    public var repeats: Int?
}

/// Table 4: memory during training, MiB.
public struct MemoryResult: Codable, Sendable, Equatable {
    /// Time-averaged resident set size.
    public var averageRSSMiB: Double?
    /// Peak resident set size.
    public var peakRSSMiB: Double?
    /// Model weights.
    public var weightsMiB: Double?
    /// Gradient buffers.
    public var gradientsMiB: Double?
    /// Optimizer state.
    public var optimizerMiB: Double?
    /// Peak activations.
    public var activationsPeakMiB: Double?
    /// Where the RSS figures come from: `memory.json`, `profile-summary.json` or `profile.jsonl`.
    public var rssSource: String?
}

/// Whole-run power, energy and CPU figures.
public struct PowerResult: Codable, Sendable, Equatable {
    /// `rapl`, `nvml`, `not measured`, or `unknown` (no profile summary).
    public var source: String
    /// What the source covers, or why power is not measured.
    public var detail: String?
    /// Whether power was measured.
    public var measured: Bool
    /// Measured average power, W.
    public var averageWatts: Double?
    /// Measured energy of the whole profile, J.
    public var totalEnergyJoules: Double?
    /// Process CPU seconds of the whole profile.
    public var cpuSeconds: Double?
    /// Average CPU utilisation, cores busy.
    public var averageCPUUtilisation: Double?
    /// Profile duration, s.
    public var profileSeconds: Double?
    /// ESTIMATE of the whole run's energy, J: `cpuSeconds × assumedWattsPerBusyCore`.
    public var estimatedEnergyJoules: Double?
}

/// Tables 5–6: what one run needed to reach the task's iso-accuracy threshold.
public struct IsoAccuracyResult: Codable, Sendable, Equatable {
    /// The threshold, raw scale.
    public var threshold: Double
    /// Whether some evaluation reached it.
    public var reached: Bool
    /// The first evaluation that reached it.
    public var reach: IsoAccuracy.Reach?
    /// The profiler-clock time used to look up energy and CPU seconds (see
    /// ``IsoAccuracy/profileSeconds(of:startTime:resumed:)``).
    public var profileSeconds: Double?
    /// Whether power was measured.
    public var powerMeasured: Bool
    /// Measured energy up to the reach, J.
    public var energyJoules: Double?
    /// Measured average power up to the reach, W: `energyJoules / profileSeconds`.
    public var averageWatts: Double?
    /// Process CPU seconds up to the reach.
    public var cpuSeconds: Double?
    /// ESTIMATE of the energy up to the reach, J: `cpuSeconds × assumedWattsPerBusyCore`.
    public var estimatedEnergyJoules: Double?
    /// The estimate's formula with its numbers.
    public var estimateFormula: String?
}
