// Data-parallel training's pieces: each process's share of a batch, the gradient all-reduce (bucketed and overlapped), and the weights' agreement check.
import Foundation
import Collectives
import Encoders
import Tensors

/// How a global batch, or the dev set, is split between the processes of a group.
public enum DataShard {
    /// Process `rank`'s contiguous share of `range` among `size`: the first `count % size`
    /// processes take one more. Empty when the range is shorter than the group.
    public static func share(of range: Range<Int>, rank: Int, size: Int) -> Range<Int> {
        let n = range.count, base = n / size, extra = n % size
        let start = range.lowerBound + rank * base + min(rank, extra)
        return start ..< start + base + (rank < extra ? 1 : 0)
    }
}

/// Sums the gradient slab over the processes of a group after each backward pass.
///
/// LoRA's gradients (0.3 MB for MiniLM, 3.5 MB for RoBERTa-base with its head) go in one
/// `MPI_Allreduce`. With `overlap`, as each layer's gradients become final in the backward pass
/// (`EncoderModel.afterLayerBackward`), the part of the slab that is final is started as an
/// `MPI_Iallreduce` once it holds `bucketFloats` (buckets are whole layers), and `MPI_Testall`
/// runs after each layer; `finish` starts the rest and waits. Open MPI moves a non-blocking
/// reduction on only inside MPI calls, so how much of it overlaps the backward pass depends on
/// the transport (on this machine's shared memory, little: see the README). The slab must then be laid
/// out head-side last: layer `l`'s gradients below layer `l + 1`'s and every embedding
/// gradient below layer 0's (`overlapLayout` checks it). Every process starts the same
/// buckets in the same order, even one whose backward pass was skipped.
final class GradientReduction {
    let group: ProcessGroup
    let store: ParameterStore
    /// Layer `l`'s lowest gradient offset, when the slab allows overlap.
    let layerStarts: [Int]?
    let bucketFloats: Int
    /// Offsets at or above `posted` have been started; `[ready, posted)` is final but not started.
    private var posted = 0, ready = 0
    /// The next layer whose gradients the backward pass will finish.
    private var nextLayer = 0
    private var failure: Error?
    /// Seconds spent in MPI calls during the last step.
    private(set) var seconds = 0.0

    init(group: ProcessGroup, model: EncoderModel, overlap: Bool, bucketBytes: Int = 8 << 20) {
        self.group = group
        self.store = model.parameters
        self.layerStarts = overlap ? Self.overlapLayout(model) : nil
        self.bucketFloats = max(1, bucketBytes / MemoryLayout<Float>.stride)
        if layerStarts != nil {
            model.afterLayerBackward = { [unowned self] l in self.layerFinished(l) }
        }
    }

    /// Each layer's lowest gradient offset when the slab is ordered embeddings < layer 0 < … <
    /// layer L−1 ≤ everything else (head, final norm), else nil.
    static func overlapLayout(_ model: EncoderModel) -> [Int]? {
        var ranges: [Range<Int>] = []
        for l in 0..<model.layerCount {
            guard let r = model.layerGradientRange(l), r.lowerBound >= (ranges.last?.upperBound ?? 0) else { return nil }
            ranges.append(r)
        }
        guard let first = ranges.first?.lowerBound, let last = ranges.last?.upperBound else { return nil }
        // The ranges are ordered and disjoint: a parameter outside them all is in no layer.
        for p in model.parameters.trainable {
            guard let offset = p.gradientOffset, !ranges.contains(where: { $0.contains(offset) }) else { continue }
            let isEmbedding = model.embeddingParameters.contains { $0 === p }
            if isEmbedding ? offset + p.count > first : offset < last { return nil }
        }
        return ranges.map(\.lowerBound)
    }

    /// Starts a step: nothing posted.
    func begin() {
        posted = store.gradientCount
        ready = posted
        nextLayer = (layerStarts?.count ?? 0) - 1
        failure = nil
        seconds = 0
    }

    func layerFinished(_ l: Int) {
        guard let starts = layerStarts, failure == nil else { return }
        let t0 = Date()
        do {
            while nextLayer >= l {
                ready = starts[nextLayer]
                nextLayer -= 1
                if posted - ready >= bucketFloats { try start() }
            }
            try group.progress()
        } catch { failure = error }
        seconds += Date().timeIntervalSince(t0)
    }

    private func start() throws {
        guard posted > ready, let base = store.gradients?.base else { return }
        try group.startAllreduceSum(base + ready, count: posted - ready)
        posted = ready
    }

    /// Starts what is left (as the layers not reported would have) and waits: afterwards the
    /// slab holds the sum over every process. Returns the seconds spent in MPI this step.
    func finish() throws -> Double {
        let t0 = Date()
        if let failure { throw failure }
        if layerStarts != nil {
            layerFinished(0)
            if let failure { throw failure }
            ready = 0
            try start()
            try group.waitAll()
        } else if let base = store.gradients?.base, store.gradientCount > 0 {
            try group.allreduceSum(base, count: store.gradientCount)
        }
        seconds += Date().timeIntervalSince(t0)
        return seconds
    }
}

/// Whether the processes of a group hold the same weights, by a digest of every parameter
/// value's bits.
enum WeightsDigest {
    static func of(_ store: ParameterStore) -> UInt64 {
        RunIdentity.wordDigest(UnsafeRawBufferPointer(start: store.values.base, count: store.values.used * MemoryLayout<Float>.stride))
    }

    /// Whether every process of `group` holds the same weights.
    static func agree(_ store: ParameterStore, group: ProcessGroup) throws -> Bool {
        guard group.size > 1 else { return true }
        return try group.agree(on: of(store))
    }
}
