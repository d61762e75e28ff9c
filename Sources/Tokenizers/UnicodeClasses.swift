import Foundation

/// Per-code-point class bits, looked up in the generated `UnicodeTables`.
///
/// The hot loops classify every scalar, so the Basic Multilingual Plane is expanded once
/// into a 64 KiB byte table; the rare supplementary-plane scalars use binary search.
/// The tables are those of the Rust `tokenizers` library, not Swift's own Unicode
/// properties (they differ on recently assigned code points; see
/// `scripts/reference/make_unicode_tables.py`).
struct CharClass: OptionSet, Sendable {
    let rawValue: UInt8
    /// Deleted by BertNormalizer's clean_text.
    static let bertRemoved = CharClass(rawValue: 1 << 0)
    /// Whitespace for BertNormalizer/BertPreTokenizer (Rust `char::is_whitespace`).
    static let bertWhitespace = CharClass(rawValue: 1 << 1)
    /// Punctuation for BertPreTokenizer.
    static let bertPunctuation = CharClass(rawValue: 1 << 2)
    /// CJK ideograph padded with spaces.
    static let bertCJK = CharClass(rawValue: 1 << 3)
    /// Nonspacing mark removed by strip_accents.
    static let nonspacingMark = CharClass(rawValue: 1 << 4)
    /// `\p{L}` of the GPT-2 regex.
    static let letter = CharClass(rawValue: 1 << 5)
    /// `\p{N}` of the GPT-2 regex.
    static let number = CharClass(rawValue: 1 << 6)
    /// `\s` of the GPT-2 regex.
    static let space = CharClass(rawValue: 1 << 7)

    private static let tables: [(CharClass, [UInt32])] = [
        (.bertRemoved, UnicodeTables.bertRemoved),
        (.bertWhitespace, UnicodeTables.bertWhitespace),
        (.bertPunctuation, UnicodeTables.bertPunctuation),
        (.bertCJK, UnicodeTables.bertCJK),
        (.nonspacingMark, UnicodeTables.nonspacingMarks),
        (.letter, UnicodeTables.byteLevelLetters),
        (.number, UnicodeTables.byteLevelNumbers),
        (.space, UnicodeTables.byteLevelSpaces),
    ]

    /// Class bits of U+0000…U+FFFF.
    static let basicPlane: [UInt8] = {
        var table = [UInt8](repeating: 0, count: 0x10000)
        for (bit, ranges) in tables {
            var i = 0
            while i + 1 < ranges.count {
                let lo = ranges[i], hi = ranges[i + 1]
                i += 2
                if lo > 0xFFFF { break }
                for v in Int(lo)...Int(min(hi, 0xFFFF)) { table[v] |= bit.rawValue }
            }
        }
        return table
    }()

    /// Class bits of any scalar value.
    @inline(__always)
    static func of(_ v: UInt32, basicPlane: UnsafeBufferPointer<UInt8>) -> CharClass {
        if v < 0x10000 { return CharClass(rawValue: basicPlane[Int(v)]) }
        return supplementary(v)
    }

    private static func supplementary(_ v: UInt32) -> CharClass {
        var bits: UInt8 = 0
        for (bit, ranges) in tables where rangesContain(ranges, v) { bits |= bit.rawValue }
        return CharClass(rawValue: bits)
    }
}

/// Whether a flat `[first, last, …]` range table contains `v` (binary search).
func rangesContain(_ ranges: [UInt32], _ v: UInt32) -> Bool {
    var lo = 0, hi = ranges.count / 2
    while lo < hi {
        let mid = (lo + hi) / 2
        if ranges[2 * mid + 1] < v { lo = mid + 1 } else { hi = mid }
    }
    return lo < ranges.count / 2 && ranges[2 * lo] <= v
}

/// Lowercasing as BertNormalizer does it (Rust `char::to_lowercase`, one code point at a time:
/// no context-dependent rules such as the Greek final sigma).
enum Lowercase {
    /// Appends the lowercase of `v` to `out`.
    @inline(__always)
    static func append(_ v: UInt32, to out: inout [UInt32]) {
        if v < 0x80 {
            out.append(v &- 0x41 < 26 ? v | 0x20 : v)
            return
        }
        appendNonASCII(v, to: &out)
    }

    private static func appendNonASCII(_ v: UInt32, to out: inout [UInt32]) {
        let table = UnicodeTables.lowercase
        var lo = 0, hi = table.count / 2
        while lo < hi {
            let mid = (lo + hi) / 2
            if table[2 * mid] < v { lo = mid + 1 } else { hi = mid }
        }
        if lo < table.count / 2, table[2 * lo] == v {
            out.append(table[2 * lo + 1])
        } else if let expansion = UnicodeTables.lowercaseExpanding[v] {
            out.append(contentsOf: expansion)
        } else {
            out.append(v)
        }
    }
}

/// Canonical decomposition (NFD) of a run of non-ASCII scalars, through Foundation.
///
/// Only non-ASCII runs are decomposed: ASCII scalars are starters that never decompose and
/// never reorder, so decomposing each maximal non-ASCII run separately equals decomposing
/// the whole text.
func canonicalDecomposition(_ run: [UInt32]) -> [UInt32] {
    var s = String.UnicodeScalarView()
    for v in run { if let u = Unicode.Scalar(v) { s.append(u) } }
    return String(s).decomposedStringWithCanonicalMapping.unicodeScalars.map(\.value)
}

/// Appends the UTF-8 encoding of scalar value `v` to `out`.
@inline(__always)
func appendUTF8(_ v: UInt32, to out: inout [UInt8]) {
    if v < 0x80 {
        out.append(UInt8(v))
    } else if v < 0x800 {
        out.append(UInt8(0xC0 | (v >> 6)))
        out.append(UInt8(0x80 | (v & 0x3F)))
    } else if v < 0x10000 {
        out.append(UInt8(0xE0 | (v >> 12)))
        out.append(UInt8(0x80 | ((v >> 6) & 0x3F)))
        out.append(UInt8(0x80 | (v & 0x3F)))
    } else {
        out.append(UInt8(0xF0 | (v >> 18)))
        out.append(UInt8(0x80 | ((v >> 12) & 0x3F)))
        out.append(UInt8(0x80 | ((v >> 6) & 0x3F)))
        out.append(UInt8(0x80 | (v & 0x3F)))
    }
}

/// Decodes the scalar starting at `i` in valid UTF-8 (Swift strings always are).
/// Returns the scalar value and its length in bytes.
@inline(__always)
func decodeUTF8(_ p: UnsafeBufferPointer<UInt8>, at i: Int) -> (value: UInt32, length: Int) {
    let b0 = UInt32(p[i])
    if b0 < 0x80 { return (b0, 1) }
    if b0 < 0xE0 { return ((b0 & 0x1F) << 6 | UInt32(p[i + 1] & 0x3F), 2) }
    if b0 < 0xF0 {
        return ((b0 & 0x0F) << 12 | UInt32(p[i + 1] & 0x3F) << 6 | UInt32(p[i + 2] & 0x3F), 3)
    }
    return ((b0 & 0x07) << 18 | UInt32(p[i + 1] & 0x3F) << 12 | UInt32(p[i + 2] & 0x3F) << 6 | UInt32(p[i + 3] & 0x3F), 4)
}

/// The bytes as a `String` when they are valid UTF-8, else nil.
func validatedUTF8String<C: Collection>(_ bytes: C) -> String? where C.Element == UInt8 {
    let s = String(decoding: bytes, as: UTF8.self)
    return s.utf8.elementsEqual(bytes) ? s : nil
}
