// A task made from a user's data file: its label scheme, its metrics and the one that selects checkpoints.
import Foundation
import GLUE
import InputValidation

extension GLUETask {
    /// Metrics reported for a user's classification data, in this order.
    public static let userClassificationMetrics: [Metric] = [.accuracy, .macroF1, .matthews]
    /// Metrics reported for a user's regression data.
    public static let userRegressionMetrics: [Metric] = [.pearson, .spearman]

    /// The task of a user's data set: classes named by the training file's labels (the model's
    /// `id2label`) or regression, the metrics above, and `primary` (`--metric`) selecting the
    /// best checkpoint (default: accuracy, or Pearson for regression).
    ///
    /// - Parameter name: shown in logs and summaries (the training file's name without its
    ///   extension).
    /// - Throws: ``InvalidValue`` for `--metric` naming a metric of the other kind or none.
    public static func user(name: String, scheme: LabelScheme, primary: String?) throws -> GLUETask {
        let metrics: [Metric]
        let kind: TaskKind
        switch scheme {
        case .classes(let names):
            metrics = userClassificationMetrics
            kind = .classification(labelTokens: names, labelNames: names)
        case .regression:
            metrics = userRegressionMetrics
            kind = .regression(range: -Float.greatestFiniteMagnitude ... Float.greatestFiniteMagnitude)
        }
        var chosen = metrics[0]
        if let primary {
            let aliases: [String: Metric] = ["mcc": .matthews, "matthews": .matthews, "macro_f1": .macroF1, "f1": .macroF1]
            guard let metric = Metric(rawValue: primary) ?? aliases[primary], metrics.contains(metric) else {
                throw InvalidValue(source: nil, key: "--metric", value: primary,
                                   allowed: "one of \(metrics.map(\.rawValue).joined(separator: ", ")) for \(scheme == .regression ? "regression" : "classification")")
            }
            chosen = metric
        }
        return GLUETask(name: name, directoryName: "", kind: kind, splits: [:], metrics: metrics, primaryMetric: chosen)
    }

    /// The name of the task of a data file: the file's name without its extension, or its
    /// directory's name for a generic one (`tickets/train.csv` → `tickets`).
    public static func userTaskName(path: String) -> String {
        let url = URL(fileURLWithPath: path)
        let stem = url.deletingPathExtension().lastPathComponent
        let generic: Set<String> = ["train", "training", "dev", "validation", "valid", "test", "eval", "data", "predict", "unlabelled", "unlabeled"]
        guard generic.contains(stem.lowercased()) else { return stem }
        let parent = url.deletingLastPathComponent().lastPathComponent
        return parent.isEmpty || parent == "/" || parent == "." ? stem : parent
    }

    /// The scheme of a model's head: its class names (`id2label`), or regression for one output.
    public static func scheme(labelNames: [String]?, labelCount: Int) -> LabelScheme {
        if labelCount == 1 { return .regression }
        return .classes(labelNames ?? (0..<labelCount).map { "LABEL_\($0)" })
    }
}
