// Dropout masks as functions of each sequence's key and the mask's place in the pass, not of the batch around it.

/// Where one forward pass's dropout masks come from: a key per sequence of the batch.
///
/// Every mask of a packed batch is the concatenation of one segment per sequence (its rows of a
/// `(T, C)` activation, its row of a `(B, C)` one, its `(heads, L, L)` attention block). Segment
/// `s` of the pass's `k`-th mask is drawn from a generator seeded by `(keys[s], k)` alone, so a
/// sequence gets the same masks whichever batch it is packed in and wherever in it. That is what
/// makes a data-parallel step, which splits the batch between processes, equal to the whole
/// batch on one process: the trainer keys each example by the seed, the epoch and its position
/// in the epoch (`key(seed:epoch:position:)`).
public struct DropoutStream: Sendable {
    /// One key per sequence of the batch, in batch order.
    public let keys: [UInt64]
    /// How many masks this pass has drawn.
    public private(set) var site: UInt64 = 0
    /// The batch's sequences (set by the model at the start of its pass): the segments of
    /// `nextMask(rows:cols:)` and `nextAttentionMask`.
    public var sequences: PackedSequences?

    /// Masks keyed by `keys`, one per sequence.
    public init(keys: [UInt64]) { self.keys = keys }

    /// `sequences` keys drawn from `rng` (for callers that hold a generator, not positions).
    public init(sequences: Int, rng: inout RandomGenerator) {
        keys = (0..<sequences).map { _ in rng.next() }
    }

    /// The key of the example at `position` of epoch `epoch`'s order in a run seeded `seed`.
    public static func key(seed: UInt64, epoch: Int, position: Int) -> UInt64 {
        var g = RandomGenerator(seed: seed ^ 0xD80F_0000_0000_0000 ^ (UInt64(truncatingIfNeeded: epoch) &* 0x9E37_79B9_7F4A_7C15))
        let base = g.next()
        var h = RandomGenerator(seed: base ^ UInt64(truncatingIfNeeded: position))
        return h.next()
    }

    /// Draws the pass's next mask into `mask`: sequence `s`'s segment is `segment(s)` bytes,
    /// segments follow each other in sequence order, and each byte is 0 with probability `p`.
    public mutating func nextMask(_ mask: UnsafeMutablePointer<UInt8>, probability p: Float, segment: (Int) -> Int) {
        let site = self.site
        self.site &+= 1
        var offset = 0
        for s in 0..<keys.count {
            let n = segment(s)
            var rng = RandomGenerator(seed: keys[s] ^ (site &* 0xA24B_AED4_963E_E407))
            Dropout.makeMask(mask + offset, count: n, probability: p, rng: &rng)
            offset += n
        }
    }

    /// The next mask of a `(rows, cols)` activation: `rows` is the batch's token count (segment
    /// `s` is its `L_s` rows) or its sequence count (one row each).
    public mutating func nextMask(_ mask: UnsafeMutablePointer<UInt8>, rows: Int, cols: Int, probability p: Float) {
        guard let sequences else { preconditionFailure("DropoutStream: no sequences bound") }
        if rows == sequences.totalTokens {
            nextMask(mask, probability: p) { sequences.length($0) * cols }
        } else {
            precondition(rows == sequences.count, "DropoutStream: \(rows) rows are neither the batch's tokens nor its sequences")
            nextMask(mask, probability: p) { _ in cols }
        }
    }

    /// The next attention-probability mask: `(heads, L_s, L_s)` per sequence (`PackedSequences.attentionFloats`).
    public mutating func nextAttentionMask(_ mask: UnsafeMutablePointer<UInt8>, heads: Int, probability p: Float) {
        guard let sequences else { preconditionFailure("DropoutStream: no sequences bound") }
        nextMask(mask, probability: p) { heads * sequences.length($0) * sequences.length($0) }
    }
}
