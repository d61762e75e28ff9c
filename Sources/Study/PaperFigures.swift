/// The figures published in "Tiny Reproduction: LoRA" (RoBERTa-base on one RTX 3080 Ti GPU),
/// Tables 1–6, for side-by-side display. These are the paper's numbers, never our measurements.
///
/// Every per-task array follows ``tasks``: SST-2, MRPC, CoLA, RTE, STS-B.
public enum PaperFigures {
    /// The paper's five GLUE tasks, in its column order.
    public static let tasks = ["SST-2", "MRPC", "CoLA", "RTE", "STS-B"]

    /// Label for every published row: where the numbers come from.
    public static let provenance = "published, RoBERTa-base, GPU"

    /// Table 1: trainable parameters of full fine-tuning, in millions.
    public static let fftTrainableMillions = 124.6
    /// Table 1: trainable parameters of LoRA (r = 8 on query and value), in millions, as the
    /// paper reports them (the adapters; the classification head is not counted).
    public static let loraTrainableMillions = 0.3

    /// Table 2, FFT row: dev scores ×100 (accuracy; MCC for CoLA; Pearson for STS-B).
    public static let fftScores = [94.4, 90.2, 62.1, 75.5, 90.7]
    /// Table 2, LoRA(paper) row: the original LoRA paper's numbers (MRPC, RTE and STS-B
    /// started from an MNLI-adapted checkpoint there).
    public static let loraPaperScores = [95.1, 89.7, 63.4, 86.6, 91.5]
    /// Table 2, LoRA(ref) row: the official `loralib` run by the reproduction.
    public static let loraReferenceScores = [94.3, 88.5, 63.4, 77.6, 90.2]
    /// Table 2, LoRA(my) row: the reproduction's own implementation.
    public static let loraReproductionScores = [94.4, 88.2, 62.6, 76.5, 89.9]

    /// Table 3: inference seconds on each dev set, FFT model.
    public static let fftInferenceSeconds = [0.62, 0.47, 0.36, 0.67, 1.10]
    /// Table 3: inference seconds on each dev set, LoRA (merged).
    public static let loraInferenceSeconds = [0.63, 0.46, 0.36, 0.65, 1.09]

    /// Table 4: average GPU memory during training, MB, FFT.
    public static let fftAverageMemoryMB = [3161.7, 3539.0, 3437.4, 10564.1, 3702.3]
    /// Table 4: average GPU memory during training, MB, LoRA.
    public static let loraAverageMemoryMB = [1809.6, 2072.5, 1981.5, 6684.0, 2704.8]

    /// Tables 5–6 for one method: iso-accuracy power, time, epochs and energy per task.
    public struct Efficiency: Sendable, Equatable {
        /// Average GPU power, W.
        public var powerWatts: [Double]
        /// Training seconds to the threshold.
        public var trainSeconds: [Double]
        /// Epochs to the threshold.
        public var epochs: [Double]
        /// Energy to the threshold, kJ.
        public var energyKilojoules: [Double]
    }

    /// Table 5: full fine-tuning efficiency.
    public static let fftEfficiency = Efficiency(
        powerWatts: [327.9, 290.7, 299.6, 321.0, 316.3], trainSeconds: [644.9, 53.8, 112.5, 194.2, 64.8],
        epochs: [4, 3, 8, 10, 3], energyKilojoules: [191.0, 14.2, 30.5, 56.5, 18.6])
    /// Table 6: LoRA efficiency.
    public static let loraEfficiency = Efficiency(
        powerWatts: [334.7, 325.8, 325.2, 325.0, 327.0], trainSeconds: [756.0, 60.6, 433.2, 128.1, 95.6],
        epochs: [8, 6, 56, 9, 7], energyKilojoules: [227.9, 18.0, 127.5, 37.8, 28.4])

    /// A task name reduced to lower-case letters and digits (`SST-2`, `sst2` → `sst2`).
    public static func taskKey(_ task: String) -> String {
        String(task.lowercased().unicodeScalars.filter { CharacterSetLite.isAlphanumeric($0) }.map(Character.init))
    }

    /// The index of `task` among the paper's tasks, or `nil` for another task.
    public static func taskIndex(_ task: String) -> Int? {
        let key = taskKey(task)
        return tasks.firstIndex { taskKey($0) == key }
    }

    /// The paper's value for `task` from a per-task array, or `nil` for another task.
    public static func value(_ values: [Double], task: String) -> Double? {
        taskIndex(task).map { values[$0] }
    }

    /// The metric the paper reports for `task`: Matthews correlation for CoLA, Pearson for
    /// STS-B, accuracy otherwise.
    public static func metric(task: String) -> String {
        switch taskKey(task) {
        case "cola": return "matthews_correlation"
        case "stsb": return "pearson"
        default: return "accuracy"
        }
    }

    /// A short display name of a metric: `accuracy` → `Acc`, `matthews_correlation` → `MCC`.
    public static func metricShortName(_ metric: String) -> String {
        switch metric {
        case "accuracy": return "Acc"
        case "matthews_correlation": return "MCC"
        case "pearson": return "Pearson"
        case "spearman": return "Spearman"
        case "f1": return "F1"
        default: return metric
        }
    }
}

/// ASCII letters and digits, without Foundation's `CharacterSet`.
enum CharacterSetLite {
    static func isAlphanumeric(_ s: Unicode.Scalar) -> Bool {
        ("a" ... "z").contains(s) || ("A" ... "Z").contains(s) || ("0" ... "9").contains(s)
    }
}
