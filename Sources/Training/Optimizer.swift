import Foundation
import Tensors
import Encoders

/// AdamW over a model's trainable parameters, with torch semantics.
///
/// State (first and second moments) exists only for trainable parameters: frozen weights
/// cost no optimizer memory. Each moment is one slab laid out as the store's gradient slab, so
/// a step is one pass over the gradients. Weight decay applies to parameters whose `decays` is
/// set (not biases or LayerNorm weights, as Hugging Face's Trainer groups them).
public final class AdamWOptimizer: @unchecked Sendable {
    /// Hyper-parameters.
    public let config: AdamWConfig
    /// Parameters updated, in order (the store's trainable parameters when it was made).
    public let parameters: [Parameter]
    let store: ParameterStore
    let gradientSlab: Slab?
    let firstMomentSlab: Slab, secondMomentSlab: Slab
    /// Steps taken so far.
    public private(set) var stepCount = 0
    /// Per parameter (in `parameters` order), the factor on the step's learning rate; nil: 1
    /// for all (see `useLoRAPlus(ratio:)`).
    public private(set) var learningRateScales: [Double]?

    /// Creates zero state for the trainable parameters of `store`.
    public init(store: ParameterStore, config: AdamWConfig) {
        self.config = config
        parameters = store.trainable
        gradientSlab = store.gradients
        let floats = store.gradientCount
        firstMomentSlab = Slab(capacity: floats)
        secondMomentSlab = Slab(capacity: floats)
        _ = firstMomentSlab.reserve(floats)
        _ = secondMomentSlab.reserve(floats)
        self.store = store
    }

    /// Creates zero state for `parameters`, which must be exactly `store.trainable` of their
    /// store, in order.
    public convenience init(parameters: [Parameter], config: AdamWConfig) {
        guard let store = parameters.first?.store else {
            self.init(store: ParameterStore(), config: config)
            return
        }
        precondition(store.trainable.map(ObjectIdentifier.init) == parameters.map(ObjectIdentifier.init),
                     "AdamWOptimizer: the parameters must be their store's trainable ones, in order")
        self.init(store: store, config: config)
    }

    /// The first moment of `parameters[i]`.
    public func firstMoment(_ i: Int) -> FloatView { firstMomentSlab.view(at: parameters[i].gradientOffset!, count: parameters[i].count) }
    /// The second moment of `parameters[i]`.
    public func secondMoment(_ i: Int) -> FloatView { secondMomentSlab.view(at: parameters[i].gradientOffset!, count: parameters[i].count) }
    /// First moments, one view per parameter.
    public var firstMoments: [FloatView] { parameters.indices.map(firstMoment) }
    /// Second moments, one view per parameter.
    public var secondMoments: [FloatView] { parameters.indices.map(secondMoment) }

    /// Floats of optimizer state.
    public var stateFloatCount: Int { 2 * parameters.reduce(0) { $0 + $1.count } }

    /// LoRA+ (Hayou et al. 2024, PEFT's `create_loraplus_optimizer`): the B matrices and
    /// every other trainable one-dimensional parameter (biases, LayerNorm weights) step at
    /// `ratio`·lr, the rest (A matrices, the head's weight matrices) at lr. Weight decay is
    /// unchanged (none on biases and LayerNorm parameters, as before).
    public func useLoRAPlus(ratio: Double) {
        learningRateScales = parameters.map { p in
            p.name.hasSuffix(".lora_B.weight") || p.shape.count == 1 ? ratio : 1
        }
    }

    /// One update with learning rate `lr` from the accumulated gradients: one pass over the
    /// gradient slab and the two moment slabs, parameter by parameter (each has its own decay
    /// and learning-rate factor).
    public func step(learningRate lr: Float) {
        precondition(store.gradients === gradientSlab, "AdamWOptimizer: the store's trainable set changed after the optimizer was made")
        guard let gradientSlab else { return }
        stepCount += 1
        let g = gradientSlab.base, m = firstMomentSlab.base, v = secondMomentSlab.base
        for (i, p) in parameters.enumerated() {
            let offset = p.gradientOffset!
            let rate = learningRateScales.map { Float(Double(lr) * $0[i]) } ?? lr
            AdamW.step(parameters: p.value.pointer, gradients: g + offset, firstMoment: m + offset,
                       secondMoment: v + offset, count: p.count, step: stepCount, learningRate: rate,
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

/// Global gradient-norm clipping, as `torch.nn.utils.clip_grad_norm_`, over a store's
/// gradient slab.
public enum GradientClipping {
    /// L2 norm of all gradients together: one pass over the slab, each parameter's squares
    /// summed in Float and the parameters' sums in Double.
    public static func globalNorm(_ store: ParameterStore) -> Double {
        guard let slab = store.gradients else { return 0 }
        let g = slab.base
        var sum = 0.0
        for p in store.trainable {
            let ptr = g + p.gradientOffset!
            var local: Float = 0
            for i in 0..<p.count { local += ptr[i] * ptr[i] }
            sum += Double(local)
        }
        return sum.squareRoot()
    }

    /// Scales the gradient slab by `maxNorm / (norm + 1e-6)` when that is below 1; returns the
    /// norm before clipping.
    @discardableResult
    public static func clip(_ store: ParameterStore, maxNorm: Double) -> Double {
        let norm = globalNorm(store)
        let coef = maxNorm / (norm + 1e-6)
        if coef < 1, let slab = store.gradients {
            let c = Float(coef), g = slab.base
            for i in 0..<slab.used { g[i] *= c }
        }
        return norm
    }
}
