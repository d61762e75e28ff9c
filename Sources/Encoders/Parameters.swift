import Tensors

/// One named weight tensor, with a gradient buffer only when it is trained.
///
/// Frozen parameters have `gradient == nil`: no gradient memory, no optimizer state and no
/// weight-gradient GEMM in the backward pass.
public final class Parameter: @unchecked Sendable {
    /// Canonical (Hugging Face) name, e.g. `roberta.encoder.layer.0.attention.self.query.weight`.
    public let name: String
    /// Shape, PyTorch layout (Linear weights are `(out, in)`).
    public let shape: [Int]
    /// The values.
    public let value: FloatBuffer
    /// Accumulated gradient, present only while the parameter is trainable.
    public private(set) var gradient: FloatBuffer?
    /// Whether AdamW's weight decay applies (false for biases and LayerNorm weights, as HF's Trainer).
    public let decays: Bool

    /// Creates a zero-filled parameter.
    public init(name: String, shape: [Int], decays: Bool) {
        self.name = name
        self.shape = shape
        self.value = FloatBuffer(count: shape.reduce(1, *))
        self.decays = decays
    }

    /// Number of elements.
    public var count: Int { value.count }
    /// Whether it receives gradients.
    public var isTrainable: Bool { gradient != nil }

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

    /// Makes the parameter trainable (allocating its gradient) or frozen (freeing it).
    public func setTrainable(_ trainable: Bool) {
        if trainable { if gradient == nil { gradient = FloatBuffer(count: count) } } else { gradient = nil }
    }
}

/// All parameters of a model, in a stable order, addressable by canonical name.
public final class ParameterStore: @unchecked Sendable {
    /// Parameters in creation order (the order of the checkpoint's module tree).
    public private(set) var all: [Parameter] = []
    private var byName: [String: Parameter] = [:]

    /// Creates an empty store.
    public init() {}

    /// Adds a parameter; names must be unique.
    @discardableResult
    public func add(_ name: String, shape: [Int], decays: Bool) -> Parameter {
        precondition(byName[name] == nil, "ParameterStore: duplicate parameter \(name)")
        let p = Parameter(name: name, shape: shape, decays: decays)
        all.append(p)
        byName[name] = p
        return p
    }

    /// The parameter named `name`, if any.
    public subscript(name: String) -> Parameter? { byName[name] }

    /// Trainable parameters in order.
    public var trainable: [Parameter] { all.filter(\.isTrainable) }
    /// Total element count.
    public var totalCount: Int { all.reduce(0) { $0 + $1.count } }
    /// Trainable element count.
    public var trainableCount: Int { all.reduce(0) { $0 + ($1.isTrainable ? $1.count : 0) } }

    /// Zeroes every gradient buffer.
    public func zeroGradients() { for p in all { p.gradient?.zero() } }
}

extension Parameter {
    /// Read-only pointer to the values.
    @inlinable public var pointer: UnsafePointer<Float> { value.readPointer }
    /// Gradient pointer, nil when frozen.
    @inlinable public var gradientPointer: UnsafeMutablePointer<Float>? { gradient?.pointer }
}
