/// The options of BERT's normalizer (`BertNormalizer` in `tokenizer.json`; `do_lower_case`,
/// `strip_accents` and `tokenize_chinese_chars` in `tokenizer_config.json`).
public struct BertNormalizerOptions: Equatable, Sendable {
    /// Remove NUL, U+FFFD and control/format characters; turn whitespace into spaces.
    public var cleanText: Bool
    /// Put spaces around CJK ideographs, so that each becomes a word.
    public var handleChineseChars: Bool
    /// Decompose (NFD) and drop nonspacing marks.
    public var stripAccents: Bool
    /// Lowercase each character.
    public var lowercase: Bool

    /// Options as HF resolves them: `stripAccents` nil means "same as `lowercase`".
    public init(cleanText: Bool = true, handleChineseChars: Bool = true, stripAccents: Bool? = nil, lowercase: Bool = true) {
        self.cleanText = cleanText
        self.handleChineseChars = handleChineseChars
        self.stripAccents = stripAccents ?? lowercase
        self.lowercase = lowercase
    }
}

/// BertNormalizer of the Rust library, fused into one pass over the UTF-8 input.
///
/// The library runs clean_text, CJK padding, strip_accents (NFD, then drop Mn) and lowercase
/// as four passes over the whole string. All but NFD are per-character maps, and NFD
/// reorders only within runs of non-starters, which never span an ASCII character; so
/// one pass that hands each maximal non-ASCII run to NFD gives the same text.
struct BertNormalizer: Sendable {
    let options: BertNormalizerOptions

    /// Appends the normalized scalars of `input` (valid UTF-8) to `out`.
    func normalize(_ input: UnsafeBufferPointer<UInt8>, into out: inout [UInt32], run: inout [UInt32],
                   basicPlane: UnsafeBufferPointer<UInt8>) {
        let o = options
        run.removeAll(keepingCapacity: true)
        var i = 0
        let n = input.count
        while i < n {
            let b = input[i]
            if b < 0x80 {
                if !run.isEmpty { flush(&run, into: &out, basicPlane: basicPlane) }
                i += 1
                var v = UInt32(b)
                if o.cleanText {
                    let c = CharClass(rawValue: basicPlane[Int(v)])
                    if c.contains(.bertRemoved) { continue }
                    if c.contains(.bertWhitespace) { v = 0x20 }
                }
                if o.lowercase, v &- 0x41 < 26 { v |= 0x20 }
                out.append(v)
                continue
            }
            let (v, length) = decodeUTF8(input, at: i)
            i += length
            let c = CharClass.of(v, basicPlane: basicPlane)
            if o.cleanText {
                if c.contains(.bertRemoved) { continue }
                if c.contains(.bertWhitespace) {
                    if !run.isEmpty { flush(&run, into: &out, basicPlane: basicPlane) }
                    out.append(0x20)
                    continue
                }
            }
            if o.handleChineseChars, c.contains(.bertCJK) {
                if !run.isEmpty { flush(&run, into: &out, basicPlane: basicPlane) }
                out.append(0x20)
                run.append(v)
                flush(&run, into: &out, basicPlane: basicPlane)
                out.append(0x20)
                continue
            }
            if o.stripAccents {
                run.append(v)
            } else if o.lowercase {
                Lowercase.append(v, to: &out)
            } else {
                out.append(v)
            }
        }
        if !run.isEmpty { flush(&run, into: &out, basicPlane: basicPlane) }
    }

    /// Strip accents (when configured) and lowercase a run of non-ASCII scalars.
    private func flush(_ run: inout [UInt32], into out: inout [UInt32], basicPlane: UnsafeBufferPointer<UInt8>) {
        let scalars = options.stripAccents ? canonicalDecomposition(run) : run
        for v in scalars {
            if options.stripAccents, CharClass.of(v, basicPlane: basicPlane).contains(.nonspacingMark) { continue }
            if options.lowercase { Lowercase.append(v, to: &out) } else { out.append(v) }
        }
        run.removeAll(keepingCapacity: true)
    }

    /// Normalizes a whole string (used for added tokens marked `normalized`).
    func normalize(_ text: String) -> [UInt32] {
        var out: [UInt32] = [], run: [UInt32] = []
        var t = text
        t.withUTF8 { input in
            CharClass.basicPlane.withUnsafeBufferPointer { bp in normalize(input, into: &out, run: &run, basicPlane: bp) }
        }
        return out
    }
}
