import Foundation

/// Errors from computing a metric.
public enum MetricError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Predictions and labels differ in length.
    case lengthMismatch(predictions: Int, labels: Int)
    /// There is nothing to score.
    case empty
    /// A correlation needs at least two pairs.
    case tooFewValues(count: Int, minimum: Int)
    /// A class prediction or label outside `0 ..< numLabels` of the task.
    case classOutOfRange(index: Int, value: Int, numLabels: Int)
    /// A prediction or label of the wrong kind for the task (a score for a classification
    /// task, or a class for a regression task).
    case labelKindMismatch(index: Int, task: String)

    public var description: String {
        switch self {
        case .lengthMismatch(let p, let l): return "metric: \(p) predictions but \(l) labels"
        case .empty: return "metric: no predictions"
        case .tooFewValues(let count, let minimum): return "metric: \(count) values, need at least \(minimum)"
        case .classOutOfRange(let index, let value, let n):
            return "metric: class \(value) at position \(index) is outside 0..<\(n)"
        case .labelKindMismatch(let index, let task):
            return "metric: position \(index) has the wrong label kind for task \(task)"
        }
    }
}

/// GLUE metrics, computed in `Double` and equal to scikit-learn / SciPy within 1e-9
/// (checked against `Tests/Fixtures/glue/metrics.json`, written by
/// `scripts/reference/make_metric_fixtures.py`).
///
/// Degenerate cases return a number, never NaN, for finite input:
/// - Matthews correlation is 0 when a row or column of the confusion matrix is all zero
///   (for example a constant prediction), as scikit-learn returns.
/// - F1 is 0 when there are no true positives (including no positive prediction or label at
///   all), as scikit-learn's default `zero_division` returns (it also warns).
/// - Pearson and Spearman are 0 when either vector is constant. SciPy returns NaN with a
///   `ConstantInputWarning` there; we return 0 so model selection and logs keep a number
///   ("no linear relation measurable").
///
/// Non-finite inputs (a diverged model's NaN scores) propagate to a NaN result.
public enum Metrics {
    private static func check(_ predictions: Int, _ labels: Int) throws {
        guard predictions == labels else { throw MetricError.lengthMismatch(predictions: predictions, labels: labels) }
        guard predictions > 0 else { throw MetricError.empty }
    }

    /// Fraction of positions where `predictions[i] == labels[i]`.
    /// - Throws: ``MetricError/lengthMismatch(predictions:labels:)``, ``MetricError/empty``.
    public static func accuracy(predictions: [Int], labels: [Int]) throws -> Double {
        try check(predictions.count, labels.count)
        var correct = 0
        for i in predictions.indices where predictions[i] == labels[i] { correct += 1 }
        return Double(correct) / Double(predictions.count)
    }

    /// Binary F1 of the class `positive`: `2·TP / (2·TP + FP + FN)`, 0 when TP = 0.
    ///
    /// Any class other than `positive` counts as negative.
    /// - Throws: ``MetricError/lengthMismatch(predictions:labels:)``, ``MetricError/empty``.
    public static func f1(predictions: [Int], labels: [Int], positive: Int = 1) throws -> Double {
        try check(predictions.count, labels.count)
        var tp = 0, fp = 0, fn = 0
        for i in predictions.indices {
            let p = predictions[i] == positive, t = labels[i] == positive
            if p && t { tp += 1 } else if p { fp += 1 } else if t { fn += 1 }
        }
        guard tp > 0 else { return 0 }
        return Double(2 * tp) / Double(2 * tp + fp + fn)
    }

    /// Macro-averaged F1: the mean over classes of `2·TP / (2·TP + FP + FN)`, over the classes
    /// that occur in `labels` or `predictions` (scikit-learn's `f1_score(average="macro")`, a
    /// class with TP = 0 counting 0).
    /// - Throws: ``MetricError/lengthMismatch(predictions:labels:)``, ``MetricError/empty``.
    public static func macroF1(predictions: [Int], labels: [Int]) throws -> Double {
        try check(predictions.count, labels.count)
        var tp: [Int: Int] = [:], fp: [Int: Int] = [:], fn: [Int: Int] = [:]
        for i in predictions.indices {
            let p = predictions[i], t = labels[i]
            if p == t { tp[p, default: 0] += 1 } else { fp[p, default: 0] += 1; fn[t, default: 0] += 1 }
        }
        let classes = Set(predictions).union(labels).sorted()
        var sum = 0.0
        for k in classes {
            let t = tp[k] ?? 0
            if t > 0 { sum += Double(2 * t) / Double(2 * t + (fp[k] ?? 0) + (fn[k] ?? 0)) }
        }
        return sum / Double(classes.count)
    }

    /// Matthews correlation coefficient; for more than two classes Gorodkin's R_K, as
    /// scikit-learn's `matthews_corrcoef`:
    /// `(c·s − Σ_k p_k·t_k) / √((s² − Σ p_k²)(s² − Σ t_k²))` with `c` correct predictions,
    /// `s` samples, `p_k`/`t_k` predicted/true counts of class `k`. 0 when the denominator is 0.
    /// - Throws: ``MetricError/lengthMismatch(predictions:labels:)``, ``MetricError/empty``.
    public static func matthews(predictions: [Int], labels: [Int]) throws -> Double {
        try check(predictions.count, labels.count)
        var predictedCount: [Int: Int] = [:], trueCount: [Int: Int] = [:]
        var correct = 0
        for i in predictions.indices {
            predictedCount[predictions[i], default: 0] += 1
            trueCount[labels[i], default: 0] += 1
            if predictions[i] == labels[i] { correct += 1 }
        }
        let s = Double(predictions.count)
        var pt = 0.0, pp = 0.0, tt = 0.0
        for (k, p) in predictedCount {
            pp += Double(p) * Double(p)
            pt += Double(p) * Double(trueCount[k] ?? 0)
        }
        for t in trueCount.values { tt += Double(t) * Double(t) }
        let covPT = Double(correct) * s - pt
        let covPP = s * s - pp
        let covTT = s * s - tt
        let denominator = covPP * covTT
        guard denominator != 0 else { return 0 }
        return covPT / denominator.squareRoot()
    }

    /// Pearson correlation coefficient, clamped to [-1, 1] (as SciPy's `pearsonr`).
    /// Returns 0 when either vector is constant (SciPy: NaN; see ``Metrics``).
    /// - Throws: ``MetricError/lengthMismatch(predictions:labels:)``,
    ///   ``MetricError/tooFewValues(count:minimum:)`` for fewer than 2 pairs.
    public static func pearson(predictions: [Double], labels: [Double]) throws -> Double {
        try pearson(predictions, labels)
    }

    /// Pearson correlation of `Float` values, computed in `Double`; see
    /// the `Double` overload.
    public static func pearson(predictions: [Float], labels: [Float]) throws -> Double {
        try pearson(predictions.map { Double($0) }, labels.map { Double($0) })
    }

    /// Spearman rank correlation: Pearson of the ranks, ties given their average rank
    /// (SciPy's `spearmanr`). Returns 0 when either vector is constant (SciPy: NaN).
    /// - Throws: ``MetricError/lengthMismatch(predictions:labels:)``,
    ///   ``MetricError/tooFewValues(count:minimum:)`` for fewer than 2 pairs.
    public static func spearman(predictions x: [Double], labels y: [Double]) throws -> Double {
        try checkCorrelation(x.count, y.count)
        if x.contains(where: \.isNaN) || y.contains(where: \.isNaN) { return .nan }
        return try pearson(averageRanks(x), averageRanks(y))
    }

    /// Spearman rank correlation of `Float` values, computed in `Double`; see
    /// the `Double` overload.
    public static func spearman(predictions: [Float], labels: [Float]) throws -> Double {
        try spearman(predictions: predictions.map { Double($0) }, labels: labels.map { Double($0) })
    }

    /// 1-based ranks of `values`, ties sharing the mean of the ranks they span
    /// (`scipy.stats.rankdata(method="average")`). `values` must not contain NaN.
    public static func averageRanks(_ values: [Double]) -> [Double] {
        let order = values.indices.sorted { values[$0] < values[$1] }
        var ranks = [Double](repeating: 0, count: values.count)
        var start = 0
        while start < order.count {
            var end = start + 1
            while end < order.count, values[order[end]] == values[order[start]] { end += 1 }
            // positions start..<end hold equal values: ranks start+1 ... end, mean (start+1+end)/2
            let rank = Double(start + 1 + end) / 2
            for k in start ..< end { ranks[order[k]] = rank }
            start = end
        }
        return ranks
    }

    private static func checkCorrelation(_ predictions: Int, _ labels: Int) throws {
        guard predictions == labels else { throw MetricError.lengthMismatch(predictions: predictions, labels: labels) }
        guard predictions >= 2 else { throw MetricError.tooFewValues(count: predictions, minimum: 2) }
    }

    /// Two-pass Pearson: centre, normalise each vector by its norm, then the dot product
    /// (the same order of operations as SciPy).
    private static func pearson(_ x: [Double], _ y: [Double]) throws -> Double {
        try checkCorrelation(x.count, y.count)
        func isConstant(_ v: [Double]) -> Bool { v.allSatisfy { $0 == v[0] } }
        if isConstant(x) || isConstant(y) { return 0 }
        let n = Double(x.count)
        let meanX = x.reduce(0, +) / n, meanY = y.reduce(0, +) / n
        var sxx = 0.0, syy = 0.0
        for i in x.indices {
            let dx = x[i] - meanX, dy = y[i] - meanY
            sxx += dx * dx
            syy += dy * dy
        }
        let normX = sxx.squareRoot(), normY = syy.squareRoot()
        if normX == 0 || normY == 0 { return 0 }  // underflow of a non-constant tiny vector
        var r = 0.0
        for i in x.indices { r += ((x[i] - meanX) / normX) * ((y[i] - meanY) / normY) }
        if r.isNaN { return r }  // non-finite input; Swift's min/max would hide the NaN
        return max(-1, min(1, r))
    }
}
