import Tensors

/// A packed batch: the token ids of several sequences concatenated, no padding.
public struct EncoderBatch: Sendable {
    /// Token ids, `T_total`.
    public var tokenIds: [Int32]
    /// Token-type (segment) ids, `T_total`.
    public var typeIds: [Int32]
    /// Where each sequence starts.
    public var sequences: PackedSequences

    /// Packs sequences; `typeIds` defaults to zeros.
    public init(sequences: [[Int32]], typeIds: [[Int32]]? = nil) {
        precondition(typeIds == nil || typeIds!.count == sequences.count, "EncoderBatch: typeIds count differs from sequences")
        tokenIds = sequences.flatMap { $0 }
        self.typeIds = typeIds.map { $0.flatMap { $0 } } ?? [Int32](repeating: 0, count: tokenIds.count)
        precondition(self.typeIds.count == tokenIds.count, "EncoderBatch: typeIds lengths differ from sequences")
        self.sequences = PackedSequences(lengths: sequences.map(\.count))
    }

    /// Number of sequences.
    public var count: Int { sequences.count }
    /// Total tokens.
    public var tokenCount: Int { tokenIds.count }
}

/// Supervision for a batch: class indices (classification) or real targets (regression).
public enum BatchLabels: Sendable {
    case classes([Int32])
    case targets([Float])
}
