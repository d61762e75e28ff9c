// The decoders of SentencePiece tokenizers, each a rewrite of the token list as in the Rust library.

/// One decoder of a SentencePiece tokenizer (`decoder` of `tokenizer.json`, alone or in a
/// `Sequence`); the Rust library's `decode_chain` of each.
public enum DecoderStep: Equatable, Sendable {
    /// Metaspace: the replacement character becomes a space, except in the first token when
    /// the prepend scheme is not `never` (there it is removed).
    case metaspace(replacement: Unicode.Scalar, prependScheme: PrependScheme)
    /// Replace: every occurrence of `pattern` in each token becomes `content`.
    case replace(pattern: String, content: String)
    /// ByteFallback: runs of `<0xXX>` tokens become the text of their bytes (or one U+FFFD per
    /// byte when the bytes are not UTF-8).
    case byteFallback
    /// Fuse: all tokens joined into one.
    case fuse
    /// Strip: up to `start` leading and `stop` trailing `content` characters removed from each token.
    case strip(content: Unicode.Scalar, start: Int, stop: Int)

    func apply(_ tokens: [String]) -> [String] {
        switch self {
        case .metaspace(let replacement, let scheme):
            return tokens.enumerated().map { i, token in
                var out = String.UnicodeScalarView()
                for u in token.unicodeScalars {
                    if u == replacement {
                        if !(i == 0 && scheme != .never) { out.append(" ") }
                    } else {
                        out.append(u)
                    }
                }
                return String(out)
            }
        case .replace(let pattern, let content):
            return tokens.map { $0.replacingAll(pattern, with: content) }
        case .byteFallback:
            var out: [String] = []
            var bytes: [UInt8] = []
            func flush() {
                guard !bytes.isEmpty else { return }
                if let s = validatedUTF8String(bytes) {
                    out.append(s)
                } else {
                    out.append(contentsOf: repeatElement("\u{FFFD}", count: bytes.count))
                }
                bytes.removeAll()
            }
            for token in tokens {
                if let b = Self.byteToken(token) {
                    bytes.append(b)
                } else {
                    flush()
                    out.append(token)
                }
            }
            flush()
            return out
        case .fuse:
            return [tokens.joined()]
        case .strip(let content, let start, let stop):
            return tokens.map { token in
                let chars = Array(token.unicodeScalars)
                var startCut = 0
                for i in 0..<min(start, chars.count) {
                    if chars[i] != content { break }
                    startCut = i + 1
                }
                var stopCut = chars.count
                for i in 0..<min(stop, chars.count) {
                    let index = chars.count - i - 1
                    if chars[index] != content { break }
                    stopCut = index
                }
                // (Where the two cuts cross, the Rust library panics.)
                guard startCut < stopCut else { return "" }
                var out = String.UnicodeScalarView()
                out.append(contentsOf: chars[startCut..<stopCut])
                return String(out)
            }
        }
    }

    /// The byte of a `<0xXX>` token: six bytes, `<0x`, two characters that Rust's
    /// `u8::from_str_radix(_, 16)` accepts (hex digits, or `+` and one hex digit), `>`.
    static func byteToken(_ token: String) -> UInt8? {
        let u = Array(token.utf8)
        guard u.count == 6, u[0] == 0x3C, u[1] == 0x30, u[2] == 0x78, u[5] == 0x3E else { return nil }
        func hex(_ c: UInt8) -> UInt8? {
            switch c {
            case 0x30...0x39: return c - 0x30
            case 0x41...0x46: return c - 0x41 + 10
            case 0x61...0x66: return c - 0x61 + 10
            default: return nil
            }
        }
        if u[3] == 0x2B { return hex(u[4]) }
        guard let hi = hex(u[3]), let lo = hex(u[4]) else { return nil }
        return hi << 4 | lo
    }
}
