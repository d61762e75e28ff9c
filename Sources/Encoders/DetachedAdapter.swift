// LoRA adapters held beside one shared base model, and the mixed-adapter forward pass over them.
import Foundation
import Tensors

/// A LoRA adapter and its head kept apart from the base model, so that one base serves many
/// adapters (`lora serve`): the base's GEMMs run once over a batch that mixes adapters, and
/// each adapter adds `s·(x·Aᵀ)·Bᵀ` to its own rows and applies its own head.
///
/// Memory: one slab holding every `A` `(r, in)`, `B` `(out, r)` and head tensor the adapter
/// file has; nothing of the base is copied.
public final class DetachedAdapter: @unchecked Sendable {
    /// LoRA settings (rank, α, targets).
    public let lora: LoRAConfig
    /// The update's scale `s` (α/r or α/√r).
    public let scale: Float
    /// Head outputs: 1 for a regression head, else the class count.
    public let labelCount: Int
    /// Class names (`labels.json`), nil when the adapter has none or is a regression head.
    public let labelNames: [String]?
    /// Floats held (A, B and head).
    public let floatCount: Int
    public var isRegression: Bool { labelCount == 1 }

    private let slab: UnsafeMutablePointer<Float>
    /// Per layer, per `LoRATarget.slot`: offsets of `A` and `B` in `slab`, or nil.
    private let deltas: [[(a: Int, b: Int)?]]
    /// Offsets of the head tensors the adapter holds (nil: the base model's).
    private let denseWeight, denseBias: Int?
    private let outWeight: Int
    private let outBias: Int?

    /// Takes the tensors `PEFTAdapter.read` checked against `model`.
    ///
    /// - Throws: `EncoderError.invalidInput` when the adapter has no trained output head (its
    ///   answers would come from a random layer).
    public init(_ weights: PEFTAdapter.Weights, for model: EncoderModel, source: String) throws {
        let head = model.config.family.head
        guard let labels = weights.headLabelCount, let out = weights.head[head.out + ".weight"] else {
            throw EncoderError.invalidInput("\(source): the adapter has no trained classification head (\(head.out).weight); "
                + "train it with `lora train --method lora`, which saves the head beside A and B")
        }
        if model.headOut.bias != nil, weights.head[head.out + ".bias"] == nil {
            throw EncoderError.invalidInput("\(source): the adapter's head has \(head.out).weight but no \(head.out).bias")
        }
        lora = weights.lora
        scale = weights.lora.scale
        labelCount = labels
        labelNames = weights.labelNames
        floatCount = weights.floatCount
        let slab = UnsafeMutablePointer<Float>.allocate(capacity: max(1, floatCount))
        var used = 0
        func store(_ values: [Float]) -> Int {
            (slab + used).update(from: values, count: values.count)
            defer { used += values.count }
            return used
        }
        var deltas: [[(a: Int, b: Int)?]] = []
        for perTarget in weights.layers {
            var slots = [(a: Int, b: Int)?](repeating: nil, count: LoRATarget.allCases.count)
            for target in LoRATarget.allCases { if let ab = perTarget[target] { slots[target.slot] = (store(ab.a), store(ab.b)) } }
            deltas.append(slots)
        }
        let dw = weights.head[head.dense + ".weight"].map { store($0.values) }
        let db = weights.head[head.dense + ".bias"].map { store($0.values) }
        let ow = store(out.values)
        let ob = weights.head[head.out + ".bias"].map { store($0.values) }
        self.slab = slab
        self.deltas = deltas
        denseWeight = dw
        denseBias = db
        outWeight = ow
        outBias = ob
        precondition(used == floatCount, "DetachedAdapter: \(used) floats stored of \(floatCount)")
    }

    deinit { slab.deallocate() }

    /// `A` `(r, in)` and `B` `(out, r)` on the Linear of `slot` in layer `layer`, nil when the
    /// adapter does not target it.
    @inline(__always) func delta(layer: Int, slot: Int) -> (a: UnsafePointer<Float>, b: UnsafePointer<Float>)? {
        guard let d = deltas[layer][slot] else { return nil }
        return (UnsafePointer(slab + d.a), UnsafePointer(slab + d.b))
    }

    /// The head Linears' weights and biases, the base model's where the adapter has none.
    func headTensors(_ model: EncoderModel) -> (denseW: UnsafePointer<Float>, denseB: UnsafePointer<Float>?,
                                                 outW: UnsafePointer<Float>, outB: UnsafePointer<Float>?) {
        (denseWeight.map { UnsafePointer(slab + $0) } ?? model.headDense.weight.pointer,
         denseWeight != nil ? denseBias.map { UnsafePointer(slab + $0) } : model.headDense.bias?.pointer,
         UnsafePointer(slab + outWeight), outBias.map { UnsafePointer(slab + $0) })
    }
}

/// The adapters of a mixed batch during its forward pass: which sequences (and so which
/// packed token rows) each adapter owns, and where every encoder Linear sits.
final class MixedRows {
    struct Group {
        let adapter: DetachedAdapter
        let sequences: Range<Int>
        let tokens: Range<Int>
    }
    let groups: [Group]
    let tokenCount, sequenceCount: Int
    /// Layer and slot of every encoder Linear's weight.
    let positions: [ObjectIdentifier: (layer: Int, slot: Int)]

    init(groups: [Group], tokenCount: Int, sequenceCount: Int, positions: [ObjectIdentifier: (layer: Int, slot: Int)]) {
        self.groups = groups
        self.tokenCount = tokenCount
        self.sequenceCount = sequenceCount
        self.positions = positions
    }
}

extension EncoderModel {
    /// Adds each group's low-rank update to its rows of `out` (`rows` is the batch's token
    /// count, or its sequence count for a Linear over first-token rows).
    func addMixedDeltas(_ mixed: MixedRows, _ lin: LinearLayer, out: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>, rows: Int) {
        guard let at = mixed.positions[ObjectIdentifier(lin.weight)] else { return }
        let tokenRows = rows == mixed.tokenCount
        precondition(tokenRows || rows == mixed.sequenceCount, "mixed batch: \(rows) rows are neither tokens nor sequences")
        let inF = lin.inFeatures, outF = lin.outFeatures
        for g in mixed.groups {
            guard let d = g.adapter.delta(layer: at.layer, slot: at.slot) else { continue }
            let range = tokenRows ? g.tokens : g.sequences
            let n = range.count, r = g.adapter.lora.rank
            guard n > 0 else { continue }
            let h = arena.allocate(n * r)
            Gemm.multiply(m: n, n: r, k: inF, a: input + range.lowerBound * inF, lda: inF, b: d.a, ldb: inF, transposeB: true, c: h, ldc: r)
            Gemm.multiply(m: n, n: outF, k: r, a: h, lda: r, b: d.b, ldb: r, transposeB: true,
                          c: out + range.lowerBound * outF, ldc: outF, alpha: g.adapter.scale, beta: 1)
        }
    }

    /// Logits of a batch whose sequences belong to several adapters: `groups` gives each
    /// adapter and how many consecutive sequences of `batch` are its, in order. The base
    /// Linears run once over all rows; each adapter's `s·B·A` and head apply to its own.
    /// Returns one logit row per sequence (`adapter.labelCount` values each).
    ///
    /// - Throws: `EncoderError.invalidInput` for a bad batch, group counts that do not add up
    ///   to the batch, or a model that carries unmerged adapters of its own.
    public func predictMixed(_ batch: EncoderBatch, groups: [(adapter: DetachedAdapter, count: Int)]) throws -> [[Float]] {
        guard groups.reduce(0, { $0 + $1.count }) == batch.count, groups.allSatisfy({ $0.count >= 0 }) else {
            throw EncoderError.invalidInput("mixed batch: groups cover \(groups.reduce(0) { $0 + $1.count }) sequences of \(batch.count)")
        }
        guard !adapters.contains(where: { !$0.isMerged }) else {
            throw EncoderError.invalidInput("mixed batch: the base model carries unmerged adapters of its own")
        }
        var rows: [MixedRows.Group] = []
        var first = 0
        for g in groups {
            let range = first..<(first + g.count)
            rows.append(MixedRows.Group(adapter: g.adapter, sequences: range,
                                        tokens: batch.sequences.offsets[range.lowerBound]..<batch.sequences.offsets[range.upperBound]))
            first = range.upperBound
        }
        mixedRows = MixedRows(groups: rows, tokenCount: batch.tokenCount, sequenceCount: batch.count, positions: linearPositions)
        defer { mixedRows = nil }
        var dropout = DropoutStream(keys: [])
        let state = try forward(batch, training: false, backward: false, firstTokensOnly: firstTokenLastLayer, dropout: &dropout)
        // `denseIn` holds the pooled `(B, C)` rows the head reads (no dropout in evaluation).
        let c = config.hiddenSize
        var out: [[Float]] = []
        out.reserveCapacity(batch.count)
        for g in rows where !g.sequences.isEmpty {
            let n = g.sequences.count, k = g.adapter.labelCount
            let head = g.adapter.headTensors(self)
            let pooled = state.denseIn + g.sequences.lowerBound * c
            let dense = arena.allocate(n * c), act = arena.allocate(n * c), logits = arena.allocate(n * k)
            Linear.forward(out: dense, input: pooled, weight: head.denseW, bias: head.denseB, rows: n, inFeatures: c, outFeatures: c)
            switch config.family.head.activation {
            case .tanh: Tanh.forward(out: act, input: dense, count: n * c)
            case .gelu: GELU.forward(out: act, input: dense, count: n * c)
            case .relu: ReLU.forward(out: act, input: dense, count: n * c)
            }
            var normed = UnsafePointer(act)
            if let norm = headNorm {
                let o = arena.allocate(n * c), mean = arena.allocate(n), rstd = arena.allocate(n)
                LayerNorm.forward(out: o, mean: mean, rstd: rstd, input: act, weight: norm.weight.pointer, bias: norm.bias?.pointer,
                                  rows: n, cols: c, eps: config.layerNormEps)
                normed = UnsafePointer(o)
            }
            Linear.forward(out: logits, input: normed, weight: head.outW, bias: head.outB, rows: n, inFeatures: c, outFeatures: k)
            for i in 0..<n { out.append(Array(UnsafeBufferPointer(start: logits + i * k, count: k))) }
        }
        return out
    }

    /// Layer and `LoRATarget.slot` of every encoder Linear, by its weight's identity.
    var linearPositions: [ObjectIdentifier: (layer: Int, slot: Int)] {
        var out: [ObjectIdentifier: (layer: Int, slot: Int)] = [:]
        for (l, layer) in layers.enumerated() {
            for (slot, lin) in layer.slots.enumerated() { if let lin { out[ObjectIdentifier(lin.weight)] = (l, slot) } }
        }
        return out
    }
}
