// The Metaspace pre-tokenizer (optionally after WhitespaceSplit): spaces become "▁", a "▁" is
// prepended, and the text is split before each "▁".

/// When Metaspace prepends its replacement character (`prepend_scheme` of `tokenizer.json`).
public enum PrependScheme: String, Equatable, Sendable {
    /// To every split that does not start with it.
    case always
    /// Only to a split that starts the original text (offset 0).
    case first
    /// Never.
    case never
}

/// The options of a Metaspace pre-tokenizer.
public struct MetaspaceOptions: Equatable, Sendable {
    /// The character that stands for a space, `▁` (U+2581).
    public var replacement: Unicode.Scalar
    /// When the replacement is prepended.
    public var prependScheme: PrependScheme
    /// Split before each replacement character (else each split is one piece).
    public var split: Bool
    /// Split on whitespace first, dropping it (`Sequence[WhitespaceSplit, Metaspace]`).
    public var whitespaceSplit: Bool

    /// Options as `tokenizer.json` gives them.
    public init(replacement: Unicode.Scalar = "\u{2581}", prependScheme: PrependScheme = .always,
                split: Bool = true, whitespaceSplit: Bool = false) {
        self.replacement = replacement
        self.prependScheme = prependScheme
        self.split = split
        self.whitespaceSplit = whitespaceSplit
    }

    /// Pre-tokenizes one normalized split and calls `emit` with the UTF-8 bytes of each piece.
    ///
    /// - Parameters:
    ///   - scalars: the split (not empty).
    ///   - origins: for `.first`, each scalar's offset in its segment of the original text (from
    ///     the normalizer's alignments); may be nil for the other schemes.
    ///   - segmentStart: the offset of that segment in the original text.
    ///   - bytes: scratch buffer.
    func pieces(_ scalars: UnsafeBufferPointer<UInt32>, origins: UnsafeBufferPointer<Int32>?, segmentStart: Int,
                bytes: inout [UInt8], basicPlane bp: UnsafeBufferPointer<UInt8>,
                emit: (UnsafeBufferPointer<UInt8>) -> Void) {
        func atStart(_ i: Int) -> Bool { origins.map { segmentStart + Int($0[i]) == 0 } ?? false }
        guard whitespaceSplit else {
            word(scalars, atStart: atStart(0), bytes: &bytes, emit: emit)
            return
        }
        // WhitespaceSplit: runs of non-whitespace (Rust `char::is_whitespace`).
        var start = -1
        for i in 0..<scalars.count {
            if CharClass.of(scalars[i], basicPlane: bp).contains(.bertWhitespace) {
                if start >= 0 {
                    word(UnsafeBufferPointer(rebasing: scalars[start..<i]), atStart: atStart(start), bytes: &bytes, emit: emit)
                    start = -1
                }
            } else if start < 0 {
                start = i
            }
        }
        if start >= 0 {
            word(UnsafeBufferPointer(rebasing: scalars[start...]), atStart: atStart(start), bytes: &bytes, emit: emit)
        }
    }

    /// Metaspace on one split: ' ' → replacement, the prefix, then pieces that each start at a
    /// replacement character (`MergedWithNext`).
    private func word(_ scalars: UnsafeBufferPointer<UInt32>, atStart: Bool, bytes: inout [UInt8],
                      emit: (UnsafeBufferPointer<UInt8>) -> Void) {
        let r = replacement.value
        bytes.removeAll(keepingCapacity: true)
        let startsWithReplacement = scalars[0] == r || (scalars[0] == 0x20)
        switch prependScheme {
        case .always where !startsWithReplacement: appendUTF8(r, to: &bytes)
        case .first where !startsWithReplacement && atStart: appendUTF8(r, to: &bytes)
        default: break
        }
        for v in scalars {
            let c = v == 0x20 ? r : v
            if split, c == r, !bytes.isEmpty {
                bytes.withUnsafeBufferPointer(emit)
                bytes.removeAll(keepingCapacity: true)
            }
            appendUTF8(c, to: &bytes)
        }
        if !bytes.isEmpty { bytes.withUnsafeBufferPointer(emit) }
    }
}
