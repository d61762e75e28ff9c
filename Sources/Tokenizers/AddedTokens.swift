/// A token matched in the text before the model runs (`added_tokens` of `tokenizer.json`):
/// the special tokens such as `[CLS]` or `<mask>`, and any tokens added to a vocabulary.
public struct AddedToken: Equatable, Sendable {
    /// The token's text.
    public var content: String
    /// Its id.
    public var id: Int32
    /// Special tokens are left out by `decode(_:skipSpecialTokens: true)`.
    public var special: Bool
    /// Matches only as a whole word (not inside a longer word).
    public var singleWord: Bool
    /// Swallows the whitespace on its left.
    public var lstrip: Bool
    /// Swallows the whitespace on its right.
    public var rstrip: Bool
    /// Matched in the normalized text (else in the raw text).
    public var normalized: Bool

    /// An added token; the defaults are those of a special token.
    public init(content: String, id: Int32, special: Bool = true, singleWord: Bool = false,
                lstrip: Bool = false, rstrip: Bool = false, normalized: Bool = false) {
        self.content = content
        self.id = id
        self.special = special
        self.singleWord = singleWord
        self.lstrip = lstrip
        self.rstrip = rstrip
        self.normalized = normalized
    }
}

/// A stretch of input: text for the model, or one added token.
enum Piece: Equatable {
    case text(Range<Int>)
    case token(Int32)
}

/// Finds added tokens in a sequence of code units (UTF-8 bytes of the raw text, or the
/// scalars of normalized text), leftmost-longest as the Rust library's Aho-Corasick
/// automaton does.
struct AddedTokenSplitter<Unit: FixedWidthInteger & Sendable>: Sendable {
    private struct Entry: Sendable {
        var units: [Unit]
        var token: AddedToken
    }

    /// Entries by first code unit value (for UTF-8: the lead byte; for scalars: low 8 bits).
    private let buckets: [[Entry]]
    let isEmpty: Bool

    init(_ tokens: [(units: [Unit], token: AddedToken)]) {
        var buckets = [[Entry]](repeating: [], count: 256)
        for t in tokens where !t.units.isEmpty {
            buckets[Int(truncatingIfNeeded: t.units[0]) & 255].append(Entry(units: t.units, token: t.token))
        }
        self.buckets = buckets
        isEmpty = tokens.allSatisfy { $0.units.isEmpty }
    }

    /// Calls `emit` with the pieces of `input`, in order. Text pieces are never empty.
    ///
    /// - Parameter scalarAt: decodes the scalar at an offset (value, length in units) and
    ///   `scalarBefore` the one ending at an offset; used for lstrip/rstrip/single_word.
    func split(_ input: UnsafeBufferPointer<Unit>,
               scalarAt: (Int) -> (UInt32, Int),
               scalarBefore: (Int) -> (UInt32, Int),
               isWhitespace: (UInt32) -> Bool,
               isWordCharacter: (UInt32) -> Bool,
               emit: (Piece) -> Void) {
        let n = input.count
        var textStart = 0
        var i = 0
        while i < n {
            let bucket = buckets[Int(truncatingIfNeeded: input[i]) & 255]
            if bucket.isEmpty { i += 1; continue }
            var best: Entry? = nil
            for e in bucket where e.units.count <= n - i && (best == nil || e.units.count > best.unsafelyUnwrapped.units.count) {
                var k = 0
                while k < e.units.count, input[i + k] == e.units[k] { k += 1 }
                if k == e.units.count { best = e }
            }
            guard let match = best else { i += 1; continue }
            var start = i, end = i + match.units.count
            if match.token.singleWord {
                let startOK = start == 0 || !isWordCharacter(scalarBefore(start).0)
                let endOK = end == n || !isWordCharacter(scalarAt(end).0)
                if !(startOK && endOK) { i = end; continue }
            }
            if match.token.lstrip {
                while start > textStart {
                    let (v, l) = scalarBefore(start)
                    if !isWhitespace(v) { break }
                    start -= l
                }
            }
            if match.token.rstrip {
                while end < n {
                    let (v, l) = scalarAt(end)
                    if !isWhitespace(v) { break }
                    end += l
                }
            }
            if start > textStart { emit(.text(textStart..<start)) }
            emit(.token(match.token.id))
            textStart = end
            i = end
        }
        if textStart < n { emit(.text(textStart..<n)) }
    }
}
