/// How tokens are joined back into text (`decoder` of `tokenizer.json`).
public enum TokenDecoder: Equatable, Sendable {
    /// WordPiece: continuation pieces lose their prefix and join the previous piece, other
    /// tokens are separated by a space; `cleanup` removes the spaces the Rust library
    /// removes (" ." → ".", " n't" → "n't", …), token by token.
    case wordPiece(prefix: String, cleanup: Bool)
    /// Byte-level: the characters of the tokens stand for bytes, which are decoded as UTF-8
    /// (invalid sequences become U+FFFD).
    case byteLevel
    /// No decoder: tokens joined with spaces.
    case spaceSeparated
    /// SentencePiece decoders (`Metaspace`, or a `Sequence` of Replace, ByteFallback, Fuse,
    /// Strip, Metaspace): each step rewrites the list of tokens, which are then joined.
    case steps([DecoderStep])

    func decode(_ tokens: [String]) -> String {
        switch self {
        case .spaceSeparated:
            return tokens.joined(separator: " ")
        case .steps(let steps):
            var t = tokens
            for step in steps { t = step.apply(t) }
            return t.joined()
        case .wordPiece(let prefix, let cleanup):
            var out = ""
            for (i, token) in tokens.enumerated() {
                var t = token
                if i != 0 {
                    // Bytes, not Characters: "##" + U+0301 is one Character in Swift.
                    if !prefix.isEmpty, t.utf8.starts(with: prefix.utf8) {
                        t = String(decoding: t.utf8.dropFirst(prefix.utf8.count), as: UTF8.self)
                    } else {
                        t = " " + t
                    }
                }
                out += cleanup ? Self.cleanup(t) : t
            }
            return out
        case .byteLevel:
            var bytes: [UInt8] = []
            for token in tokens {
                let start = bytes.count
                var mapped = true
                for u in token.unicodeScalars {
                    guard let b = ByteLevelAlphabet.byte(for: u.value) else { mapped = false; break }
                    bytes.append(b)
                }
                if !mapped {
                    // A token outside the byte alphabet (an added token) stands for itself.
                    bytes.removeSubrange(start...)
                    bytes.append(contentsOf: token.utf8)
                }
            }
            return String(decoding: bytes, as: UTF8.self)
        }
    }

    /// The Rust library's `cleanup` of the WordPiece decoder.
    static func cleanup(_ s: String) -> String {
        guard s.utf8.contains(0x20) else { return s }
        return s.replacingAll(" .", with: ".")
            .replacingAll(" ?", with: "?")
            .replacingAll(" !", with: "!")
            .replacingAll(" ,", with: ",")
            .replacingAll(" ' ", with: "'")
            .replacingAll(" n't", with: "n't")
            .replacingAll(" 'm", with: "'m")
            .replacingAll(" do not", with: " don't")
            .replacingAll(" 's", with: "'s")
            .replacingAll(" 've", with: "'ve")
            .replacingAll(" 're", with: "'re")
    }
}

extension String {
    /// Replaces every non-overlapping occurrence of `target` (left to right), comparing
    /// UTF-8 bytes (Rust `str::replace`; Foundation's version compares Characters).
    func replacingAll(_ target: String, with replacement: String) -> String {
        let s = Array(utf8), t = Array(target.utf8)
        guard !t.isEmpty, s.count >= t.count else { return self }
        var out: [UInt8] = []
        out.reserveCapacity(s.count)
        var i = 0
        var changed = false
        while i < s.count {
            if i + t.count <= s.count, s[i] == t[0], s[i..<(i + t.count)].elementsEqual(t) {
                out.append(contentsOf: replacement.utf8)
                i += t.count
                changed = true
            } else {
                out.append(s[i])
                i += 1
            }
        }
        return changed ? String(decoding: out, as: UTF8.self) : self
    }
}
