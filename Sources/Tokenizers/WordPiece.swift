/// The WordPiece model: greedy longest-match-first segmentation of a word into vocabulary
/// pieces, continuation pieces carrying the `##` prefix.
///
/// It works on Unicode scalars, not `Character`s: the Rust library splits at `char`
/// (scalar) boundaries, and a grapheme cluster such as "e" + U+0301 must be able to split
/// between its scalars exactly as there.
struct WordPieceModel: Sendable {
    /// Whole-word (first) pieces: every vocabulary entry.
    let vocabulary: ByteKeyMap
    /// Continuation pieces: the entries that start with `prefix`, keyed without it.
    let continuations: ByteKeyMap
    /// The `[UNK]` id, used for a word that cannot be segmented or is too long.
    let unknownId: Int32
    /// Words of more scalars than this become `[UNK]` whole (100 in BERT).
    let maxInputCharsPerWord: Int
    /// The continuation prefix, `##`.
    let prefix: String

    init(vocabulary: ByteKeyMap, unknownId: Int32, maxInputCharsPerWord: Int, prefix: String) {
        self.vocabulary = vocabulary
        self.unknownId = unknownId
        self.maxInputCharsPerWord = maxInputCharsPerWord
        self.prefix = prefix
        let p = Array(prefix.utf8)
        var continuations = ByteKeyMap(capacity: vocabulary.count / 4)
        vocabulary.forEach { key, id in
            if key.count >= p.count, key.starts(with: p) {
                continuations.insert(UnsafeBufferPointer(rebasing: key[p.count...]), payload: id)
            }
        }
        // Duplicate keys keep the last id, as a Rust HashMap built from the same entries.
        self.continuations = continuations
    }

    /// Appends the ids of the word `scalars` to `ids`.
    ///
    /// - Parameters:
    ///   - bytes, bounds: scratch buffers (the word's UTF-8 and its scalar boundaries).
    func tokenize(_ scalars: UnsafeBufferPointer<UInt32>, into ids: inout [Int32],
                  bytes: inout [UInt8], bounds: inout [Int32]) {
        let n = scalars.count
        if n > maxInputCharsPerWord {
            ids.append(unknownId)
            return
        }
        bytes.removeAll(keepingCapacity: true)
        bounds.removeAll(keepingCapacity: true)
        for v in scalars {
            bounds.append(Int32(bytes.count))
            appendUTF8(v, to: &bytes)
        }
        bounds.append(Int32(bytes.count))
        let firstPiece = ids.count
        bytes.withUnsafeBufferPointer { word in
            var start = 0
            while start < n {
                var end = n
                var found: Int32 = -1
                let map = start == 0 ? vocabulary : continuations
                let s = Int(bounds[start])
                while end > start {
                    let piece = UnsafeBufferPointer(rebasing: word[s..<Int(bounds[end])])
                    found = map.find(piece)
                    if found >= 0 { break }
                    end -= 1
                }
                if found < 0 {
                    ids.removeSubrange(firstPiece...)
                    ids.append(unknownId)
                    return
                }
                ids.append(found)
                start = end
            }
        }
    }
}
