import Foundation

/// Hyper-parameters of AdamW (torch defaults).
public struct AdamWConfig: Sendable, Codable, Equatable {
    /// Exponential decay of the first moment.
    public var beta1: Double = 0.9
    /// Exponential decay of the second moment.
    public var beta2: Double = 0.999
    /// Added to the denominator's square root.
    public var eps: Float = 1e-8
    /// Decoupled weight decay (applied as `p -= lr·wd·p` before the Adam update).
    public var weightDecay: Double = 0.01

    /// Creates a configuration.
    public init(beta1: Double = 0.9, beta2: Double = 0.999, eps: Float = 1e-8, weightDecay: Double = 0.01) {
        self.beta1 = beta1
        self.beta2 = beta2
        self.eps = eps
        self.weightDecay = weightDecay
    }
}

/// AdamW with torch semantics (`torch.optim.AdamW`, non-amsgrad, non-fused path).
///
/// For step `t ≥ 1`: `p ← p − lr·wd·p`; `m ← β₁m + (1−β₁)g`; `v ← β₂v + (1−β₂)g²`;
/// `p ← p − (lr / (1−β₁ᵗ)) · m / (√v / √(1−β₂ᵗ) + eps)`.
public enum AdamW {
    /// Updates `count` parameters in place from their gradients and moment buffers.
    public static func step(
        parameters: UnsafeMutablePointer<Float>, gradients: UnsafePointer<Float>,
        firstMoment m: UnsafeMutablePointer<Float>, secondMoment v: UnsafeMutablePointer<Float>,
        count: Int, step t: Int, learningRate lr: Float, config: AdamWConfig, applyWeightDecay: Bool = true
    ) {
        precondition(t >= 1, "AdamW: step counts from 1")
        // Scalars are formed in Double and rounded once, as torch does with Python floats.
        let b1d = config.beta1, b2d = config.beta2, lrd = Double(lr)
        let b2 = Float(b2d)
        let oneMinusB1 = Float(1 - b1d), oneMinusB2 = Float(1 - b2d)
        let bc2Sqrt = Float((1 - pow(b2d, Double(t))).squareRoot())
        let stepSize = Float(lrd / (1 - pow(b1d, Double(t))))
        let decay: Float = applyWeightDecay ? Float(1 - lrd * config.weightDecay) : 1
        let eps = config.eps
        nonisolated(unsafe) let (parameters, gradients, m, v) = (parameters, gradients, m, v)
        Threads.parallelFor(count, minimumChunk: 65_536) { start, end in
            for i in start..<end {
                let g = gradients[i]
                var p = parameters[i] * decay
                let mi = m[i] + oneMinusB1 * (g - m[i])  // torch: exp_avg.lerp_(grad, 1 − β₁)
                let vi = b2 * v[i] + oneMinusB2 * g * g
                m[i] = mi
                v[i] = vi
                p -= stepSize * mi / (vi.squareRoot() / bc2Sqrt + eps)
                parameters[i] = p
            }
        }
    }
}
