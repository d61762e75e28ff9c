// A model's named tensors as views into one value slab, and the trainable ones' gradients as views into one gradient slab.
import Tensors

/// One named weight tensor: a view into its store's value slab, and into the gradient slab
/// while it is trained.
///
/// Frozen parameters have `gradient == nil`: no gradient memory, no optimizer state and no
/// weight-gradient GEMM in the backward pass.
public final class Parameter: @unchecked Sendable {
    /// Canonical (Hugging Face) name, e.g. `roberta.encoder.layer.0.attention.self.query.weight`.
    public let name: String
    /// Shape, PyTorch layout (Linear weights are `(out, in)`).
    public let shape: [Int]
    /// Number of elements.
    public let count: Int
    /// Whether AdamW's weight decay applies (false for biases and LayerNorm weights, as HF's Trainer).
    public let decays: Bool
    /// Where the values start in `ParameterStore.values`.
    public let valueOffset: Int
    /// Where the gradient starts in `ParameterStore.gradients`; nil while frozen.
    public private(set) var gradientOffset: Int?
    @usableFromInline let valueSlab: Slab
    @usableFromInline private(set) var gradientSlab: Slab?
    /// The store that holds it (weak: the store owns its parameters).
    public private(set) weak var store: ParameterStore?

    init(name: String, shape: [Int], decays: Bool, valueOffset: Int, valueSlab: Slab, store: ParameterStore) {
        self.name = name
        self.shape = shape
        self.count = shape.reduce(1, *)
        self.decays = decays
        self.valueOffset = valueOffset
        self.valueSlab = valueSlab
        self.store = store
    }

    /// Places the gradient at `offset` of `slab`, or freezes the parameter (nil).
    func setGradient(_ slab: Slab?, offset: Int?) {
        gradientSlab = slab
        gradientOffset = slab == nil ? nil : offset
    }

    /// The values (a view; take it again after the store grows).
    @inlinable public var value: FloatView { valueSlab.view(at: valueOffset, count: count) }
    /// The accumulated gradient, nil while frozen.
    @inlinable public var gradient: FloatView? {
        guard let gradientOffset, let gradientSlab else { return nil }
        return gradientSlab.view(at: gradientOffset, count: count)
    }
    /// Whether it receives gradients.
    public var isTrainable: Bool { gradientOffset != nil }

    /// Whether this 2-D weight's storage is transposed, `(in, out)` instead of the checkpoint's
    /// `(out, in)`; `shape` stays the logical one. See `EncoderModel.useInferenceLayout()`.
    public private(set) var isTransposed = false

    /// Transposes a 2-D parameter's storage in place and flips `isTransposed`.
    public func transposeStorage() {
        precondition(shape.count == 2, "transposeStorage: \(name) is not 2-D")
        let (rows, cols) = isTransposed ? (shape[1], shape[0]) : (shape[0], shape[1])
        let dst = value.pointer
        value.toArray().withUnsafeBufferPointer { src in
            for r in 0..<rows { for c in 0..<cols { dst[c * rows + r] = src[r * cols + c] } }
        }
        isTransposed.toggle()
    }
}

/// All parameters of a model, in a stable order, addressable by canonical name, stored in one
/// slab; the trainable ones' gradients in a second slab, in the same order.
///
/// Clipping, zeroing, the optimizer's moments and a data-parallel all-reduce each work on the
/// gradient slab as one buffer (`gradients`, `gradientCount`); `trainable[i]`'s gradient starts
/// at `trainable[i].gradientOffset`.
public final class ParameterStore: @unchecked Sendable {
    /// Parameters in creation order (the order of the checkpoint's module tree).
    public private(set) var all: [Parameter] = []
    private var byName: [String: Parameter] = [:]
    /// Every parameter's values.
    public let values = Slab()
    /// The trainable parameters' gradients; nil while nothing trains.
    public private(set) var gradients: Slab?
    /// Trainable parameters in order (their gradients are laid out in this order).
    public private(set) var trainable: [Parameter] = []

    /// Creates an empty store.
    public init() {}

    /// Adds a zero parameter; names must be unique. It starts frozen.
    @discardableResult
    public func add(_ name: String, shape: [Int], decays: Bool) -> Parameter {
        precondition(byName[name] == nil, "ParameterStore: duplicate parameter \(name)")
        let offset = values.reserve(shape.reduce(1, *))
        let p = Parameter(name: name, shape: shape, decays: decays, valueOffset: offset, valueSlab: values, store: self)
        all.append(p)
        byName[name] = p
        return p
    }

    /// The parameter named `name`, if any.
    public subscript(name: String) -> Parameter? { byName[name] }

    /// Total element count.
    public var totalCount: Int { all.reduce(0) { $0 + $1.count } }
    /// Trainable element count.
    public var trainableCount: Int { trainable.reduce(0) { $0 + $1.count } }
    /// Floats of the gradient slab in use (trainable elements plus alignment padding).
    public var gradientCount: Int { gradients?.used ?? 0 }

    /// Trains exactly the parameters `isTrained` selects: lays out one zero gradient slab for
    /// them in store order (the old slab, and every gradient in it, is freed first).
    public func train(where isTrained: (Parameter) -> Bool) {
        gradients = nil
        for p in all { p.setGradient(nil, offset: nil) }
        trainable = all.filter(isTrained)
        guard !trainable.isEmpty else { return }
        let slab = Slab(capacity: trainable.reduce(0) { $0 + ($1.count + 15) & ~15 })
        for p in trainable { p.setGradient(slab, offset: slab.reserve(p.count)) }
        gradients = slab
    }

    /// Zeroes the gradient slab.
    public func zeroGradients() { gradients?.zeroUsed() }
}

extension Parameter {
    /// Read-only pointer to the values.
    @inlinable public var pointer: UnsafePointer<Float> { value.readPointer }
    /// Gradient pointer, nil when frozen.
    @inlinable public var gradientPointer: UnsafeMutablePointer<Float>? { gradient?.pointer }
}
