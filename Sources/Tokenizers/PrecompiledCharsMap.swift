// SentencePiece's precompiled_charsmap (the Precompiled normalizer): a darts-clone double array
// over UTF-8 keys and a pool of replacement strings, read as the `spm_precompiled` crate reads it.

/// The `precompiled_charsmap` of a SentencePiece normalizer (`Precompiled` in `tokenizer.json`).
///
/// Layout (little-endian): a `u32` trie size in bytes, then `size / 4` `u32` units of a darts-clone
/// double array, then the normalized strings, each ending in NUL. A key found in the trie gives
/// the byte offset of its replacement in that pool.
struct PrecompiledCharsMap: Sendable {
    /// Why a charsmap cannot be read.
    enum FormatError: Error, Equatable {
        case tooShort(needed: Int, have: Int)
        case emptyTrie
        case poolNotUTF8
    }

    /// The double array's units.
    let units: [UInt32]
    /// The replacement strings, NUL-terminated, as UTF-8.
    let pool: [UInt8]
    /// Replacement of each ASCII byte on its own (an index into `replacements`), or -1.
    private let asciiReplacement: [Int32]
    /// Pool ranges of the ASCII replacements.
    private let replacements: [Range<Int>]

    /// Parses the decoded (not base64) charsmap.
    init(bytes: [UInt8]) throws(FormatError) {
        guard bytes.count >= 4 else { throw .tooShort(needed: 4, have: bytes.count) }
        let trieSize = Int(UInt32(bytes[0]) | UInt32(bytes[1]) << 8 | UInt32(bytes[2]) << 16 | UInt32(bytes[3]) << 24)
        let unitCount = trieSize / 4
        guard bytes.count >= 4 + 4 * unitCount else { throw .tooShort(needed: 4 + 4 * unitCount, have: bytes.count) }
        // An empty array would make the Rust reader index past its end on the first look-up.
        guard unitCount > 0 else { throw .emptyTrie }
        var units = [UInt32](repeating: 0, count: unitCount)
        for k in 0..<unitCount {
            let o = 4 + 4 * k
            units[k] = UInt32(bytes[o]) | UInt32(bytes[o + 1]) << 8 | UInt32(bytes[o + 2]) << 16 | UInt32(bytes[o + 3]) << 24
        }
        let pool = Array(bytes[(4 + 4 * unitCount)...])
        guard validatedUTF8String(pool) != nil else { throw .poolNotUTF8 }
        self.units = units
        self.pool = pool
        var ascii = [Int32](repeating: -1, count: 128)
        var replacements: [Range<Int>] = []
        for b in 0..<128 {
            var key = UInt8(b)
            let r = withUnsafePointer(to: &key) { Self.lookUp(UnsafeBufferPointer(start: $0, count: 1), units: units, pool: pool) }
            if let r {
                ascii[b] = Int32(replacements.count)
                replacements.append(r)
            }
        }
        asciiReplacement = ascii
        self.replacements = replacements
    }

    /// The replacement of `key` (a grapheme or one scalar, as UTF-8): the pool range of the
    /// *shortest* trie key that is a prefix of it (the Rust `transform` takes the first result
    /// of `common_prefix_search`), or nil when no key is.
    @inline(__always)
    func replacement(of key: UnsafeBufferPointer<UInt8>) -> Range<Int>? {
        if key.count == 1, key[0] < 0x80 {
            let r = asciiReplacement[Int(key[0])]
            return r < 0 ? nil : replacements[Int(r)]
        }
        return Self.lookUp(key, units: units, pool: pool)
    }

    private static func lookUp(_ key: UnsafeBufferPointer<UInt8>, units: [UInt32], pool: [UInt8]) -> Range<Int>? {
        guard let value = firstPrefixValue(key, units: units) else { return nil }
        // The Rust reader slices the pool string at `value`: past the end, or inside a UTF-8
        // sequence, it panics; such a charsmap is malformed and the entry is ignored here.
        guard value <= pool.count, value == pool.count || pool[value] & 0xC0 != 0x80 else { return nil }
        var end = value
        while end < pool.count, pool[end] != 0 { end += 1 }
        return value..<end
    }

    /// darts-clone `commonPrefixSearch`, stopped at its first result. Keys stop at a NUL byte.
    private static func firstPrefixValue(_ key: UnsafeBufferPointer<UInt8>, units: [UInt32]) -> Int? {
        @inline(__always) func offset(_ u: UInt32) -> Int { Int(u >> 10) << Int((u & (1 << 9)) >> 6) }
        var pos = offset(units[0])
        for c in key {
            if c == 0 { break }
            pos ^= Int(c)
            guard pos < units.count else { return nil }
            let unit = units[pos]
            if unit & (0x8000_0000 | 0xFF) != UInt32(c) { return nil }
            pos ^= offset(unit)
            if (unit >> 8) & 1 == 1 {
                guard pos < units.count else { return nil }
                return Int(units[pos] & 0x7FFF_FFFF)
            }
        }
        return nil
    }
}
