import Foundation
import Tensors
import Encoders

/// AdamW over a model's trainable parameters, with torch semantics.
///
/// State (first and second moments) exists only for trainable parameters: frozen weights
/// cost no optimizer memory. Weight decay applies to parameters whose `decays` is set
/// (not biases or LayerNorm weights, as Hugging Face's Trainer groups them).
public final class AdamWOptimizer: @unchecked Sendable {
    /// Hyper-parameters.
    public let config: AdamWConfig
    /// Parameters updated, in order.
    public let parameters: [Parameter]
    /// First moments, one buffer per parameter.
    public let firstMoments: [FloatBuffer]
    /// Second moments, one buffer per parameter.
    public let secondMoments: [FloatBuffer]
    /// Steps taken so far.
    public private(set) var stepCount = 0

    /// Creates state for `parameters` (each must be trainable).
    public init(parameters: [Parameter], config: AdamWConfig) {
        precondition(parameters.allSatisfy(\.isTrainable), "AdamWOptimizer: frozen parameter given")
        self.parameters = parameters
        self.config = config
        firstMoments = parameters.map { FloatBuffer(count: $0.count) }
        secondMoments = parameters.map { FloatBuffer(count: $0.count) }
    }

    /// Floats of optimizer state.
    public var stateFloatCount: Int { 2 * parameters.reduce(0) { $0 + $1.count } }

    /// One update with learning rate `lr` from the accumulated gradients.
    public func step(learningRate lr: Float) {
        stepCount += 1
        for (i, p) in parameters.enumerated() {
            guard let g = p.gradient else { continue }
            AdamW.step(parameters: p.value.pointer, gradients: g.readPointer, firstMoment: firstMoments[i].pointer,
                       secondMoment: secondMoments[i].pointer, count: p.count, step: stepCount, learningRate: lr,
                       config: config, applyWeightDecay: p.decays)
        }
    }

    /// Restores the step counter (checkpoint resume; moments are restored by the caller).
    public func restore(stepCount: Int) { self.stepCount = stepCount }
}

/// Hugging Face's `get_linear_schedule_with_warmup`: linear warm-up from 0 over
/// `warmupSteps`, then linear decay to 0 at `totalSteps`.
public struct LinearSchedule: Sendable, Codable, Equatable {
    /// Peak learning rate.
    public var peak: Float
    /// Steps of warm-up.
    public var warmupSteps: Int
    /// Total optimizer steps.
    public var totalSteps: Int

    /// Schedule with `warmupSteps = ceil(warmupRatio · totalSteps)` (as HF's `get_warmup_steps`).
    public init(peak: Float, totalSteps: Int, warmupRatio: Double) {
        self.peak = peak
        self.totalSteps = totalSteps
        warmupSteps = Int((warmupRatio * Double(totalSteps)).rounded(.up))
    }

    /// Learning rate for the update with 0-based index `step`.
    public func learningRate(at step: Int) -> Float {
        if step < warmupSteps { return peak * Float(step) / Float(max(1, warmupSteps)) }
        return peak * max(0, Float(totalSteps - step) / Float(max(1, totalSteps - warmupSteps)))
    }
}

/// Global gradient-norm clipping, as `torch.nn.utils.clip_grad_norm_`.
public enum GradientClipping {
    /// L2 norm of all gradients together (accumulated in Double).
    public static func globalNorm(_ parameters: [Parameter]) -> Double {
        var sum = 0.0
        for p in parameters {
            guard let g = p.gradient else { continue }
            let ptr = g.readPointer
            var local: Float = 0
            for i in 0..<g.count { local += ptr[i] * ptr[i] }
            sum += Double(local)
        }
        return sum.squareRoot()
    }

    /// Scales gradients by `maxNorm / (norm + 1e-6)` when that is below 1; returns the
    /// norm before clipping.
    @discardableResult
    public static func clip(_ parameters: [Parameter], maxNorm: Double) -> Double {
        let norm = globalNorm(parameters)
        let coef = maxNorm / (norm + 1e-6)
        if coef < 1 {
            let c = Float(coef)
            for p in parameters {
                guard let g = p.gradient else { continue }
                for i in 0..<g.count { g.pointer[i] *= c }
            }
        }
        return norm
    }
}
