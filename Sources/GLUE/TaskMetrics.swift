import Foundation

/// A GLUE metric. Raw values are the keys used in logs (the names Hugging Face's `evaluate`
/// uses, except `spearman` for its `spearmanr`).
public enum Metric: String, Sendable, Hashable, CaseIterable, Codable, CustomStringConvertible {
    /// Fraction of correct class predictions.
    case accuracy
    /// Binary F1 of class 1.
    case f1
    /// Unweighted mean of the per-class F1 (scikit-learn's `average="macro"`).
    case macroF1 = "f1_macro"
    /// Matthews correlation coefficient.
    case matthews = "matthews_correlation"
    /// Pearson correlation.
    case pearson
    /// Spearman rank correlation.
    case spearman

    public var description: String { rawValue }
}

/// The metrics of one evaluation of a task.
public struct MetricReport: Sendable, Hashable {
    /// Canonical name of the task evaluated.
    public let task: String
    /// The metric used for model selection and reported in the paper.
    public let primary: Metric
    /// Every metric of the task, by metric.
    public let values: [Metric: Double]

    /// Creates a report. `values` must contain `primary`.
    public init(task: String, primary: Metric, values: [Metric: Double]) {
        precondition(values[primary] != nil, "MetricReport: primary metric \(primary) missing")
        self.task = task
        self.primary = primary
        self.values = values
    }

    /// The value of ``primary``.
    public var primaryValue: Double { values[primary] ?? .nan }

    /// The value of `metric`, or `nil` if the task does not report it.
    public subscript(metric: Metric) -> Double? { values[metric] }

    /// Values keyed by ``Metric/rawValue`` (`"accuracy"`, `"f1"`, ...), for logs.
    public var dictionary: [String: Double] {
        Dictionary(uniqueKeysWithValues: values.map { ($0.key.rawValue, $0.value) })
    }
}

extension GLUETask {
    /// Computes this task's metrics (``metrics``) from class predictions.
    ///
    /// - Parameters:
    ///   - predictions: Predicted class per example (for example the argmax of the logits).
    ///   - labels: Gold class per example.
    /// - Throws: ``MetricError``: length mismatch, empty input, a class outside
    ///   `0 ..< numLabels`, or `.labelKindMismatch` when the task is regression.
    public func evaluate(predictedClasses predictions: [Int], labels: [Int]) throws -> MetricReport {
        guard !isRegression else { throw MetricError.labelKindMismatch(index: 0, task: name) }
        guard predictions.count == labels.count else {
            throw MetricError.lengthMismatch(predictions: predictions.count, labels: labels.count)
        }
        for (i, value) in predictions.enumerated() where !(0 ..< numLabels).contains(value) {
            throw MetricError.classOutOfRange(index: i, value: value, numLabels: numLabels)
        }
        for (i, value) in labels.enumerated() where !(0 ..< numLabels).contains(value) {
            throw MetricError.classOutOfRange(index: i, value: value, numLabels: numLabels)
        }
        var values: [Metric: Double] = [:]
        for metric in metrics {
            switch metric {
            case .accuracy: values[metric] = try Metrics.accuracy(predictions: predictions, labels: labels)
            case .f1: values[metric] = try Metrics.f1(predictions: predictions, labels: labels, positive: 1)
            case .macroF1: values[metric] = try Metrics.macroF1(predictions: predictions, labels: labels)
            case .matthews: values[metric] = try Metrics.matthews(predictions: predictions, labels: labels)
            case .pearson, .spearman: throw MetricError.labelKindMismatch(index: 0, task: name)
            }
        }
        return MetricReport(task: name, primary: primaryMetric, values: values)
    }

    /// Computes this task's metrics from regression predictions (STS-B).
    ///
    /// - Throws: ``MetricError``: length mismatch, fewer than two values, or
    ///   `.labelKindMismatch` when the task is classification.
    public func evaluate(predictedScores predictions: [Float], labels: [Float]) throws -> MetricReport {
        guard isRegression else { throw MetricError.labelKindMismatch(index: 0, task: name) }
        var values: [Metric: Double] = [:]
        for metric in metrics {
            switch metric {
            case .pearson: values[metric] = try Metrics.pearson(predictions: predictions, labels: labels)
            case .spearman: values[metric] = try Metrics.spearman(predictions: predictions, labels: labels)
            case .accuracy, .f1, .macroF1, .matthews: throw MetricError.labelKindMismatch(index: 0, task: name)
            }
        }
        return MetricReport(task: name, primary: primaryMetric, values: values)
    }

    /// Computes this task's metrics from predictions and gold labels of the matching kind
    /// (class indices for classification, scores for regression).
    ///
    /// - Throws: ``MetricError``, including `.labelKindMismatch(index:task:)` at the first
    ///   element of the wrong kind.
    public func evaluate(predictions: [Label], labels: [Label]) throws -> MetricReport {
        guard predictions.count == labels.count else {
            throw MetricError.lengthMismatch(predictions: predictions.count, labels: labels.count)
        }
        if isRegression {
            var p: [Float] = [], l: [Float] = []
            p.reserveCapacity(predictions.count)
            l.reserveCapacity(labels.count)
            for i in predictions.indices {
                guard let a = predictions[i].score, let b = labels[i].score else {
                    throw MetricError.labelKindMismatch(index: i, task: name)
                }
                p.append(a)
                l.append(b)
            }
            return try evaluate(predictedScores: p, labels: l)
        }
        var p: [Int] = [], l: [Int] = []
        p.reserveCapacity(predictions.count)
        l.reserveCapacity(labels.count)
        for i in predictions.indices {
            guard let a = predictions[i].classIndex, let b = labels[i].classIndex else {
                throw MetricError.labelKindMismatch(index: i, task: name)
            }
            p.append(a)
            l.append(b)
        }
        return try evaluate(predictedClasses: p, labels: l)
    }
}
