import Foundation

/// Losses as `torch.nn.functional` computes them with `reduction="mean"`.
public enum Loss {
    /// Mean cross-entropy of `rows` logit vectors against class labels; when `dLogits` is
    /// given, accumulates `∂loss/∂logits = (softmax − onehot) / rows`. Returns the loss
    /// (computed in Double with log-sum-exp).
    @discardableResult
    public static func crossEntropy(logits: UnsafePointer<Float>, labels: UnsafePointer<Int32>, rows: Int, classes: Int,
                                    dLogits: UnsafeMutablePointer<Float>? = nil) -> Float {
        var total = 0.0
        for r in 0..<rows {
            let x = logits + r * classes
            let label = Int(labels[r])
            precondition(label >= 0 && label < classes, "crossEntropy: label \(label) of row \(r) outside 0..<\(classes)")
            var m = -Float.infinity
            for j in 0..<classes { m = max(m, x[j]) }
            var sum = 0.0
            for j in 0..<classes { sum += exp(Double(x[j] - m)) }
            let logZ = Double(m) + log(sum)
            total += logZ - Double(x[label])
            if let dLogits {
                let g = dLogits + r * classes
                for j in 0..<classes {
                    let p = exp(Double(x[j]) - logZ)
                    g[j] += Float((p - (j == label ? 1 : 0)) / Double(rows))
                }
            }
        }
        return Float(total / Double(max(rows, 1)))
    }

    /// Mean squared error; when `dPredictions` is given, accumulates `2(pred − target)/count`.
    @discardableResult
    public static func meanSquaredError(predictions: UnsafePointer<Float>, targets: UnsafePointer<Float>, count: Int,
                                        dPredictions: UnsafeMutablePointer<Float>? = nil) -> Float {
        var total = 0.0
        for i in 0..<count {
            let d = Double(predictions[i]) - Double(targets[i])
            total += d * d
            if let dPredictions { dPredictions[i] += Float(2 * d / Double(count)) }
        }
        return Float(total / Double(max(count, 1)))
    }
}
