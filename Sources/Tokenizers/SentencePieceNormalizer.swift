// The normalizers of SentencePiece tokenizers (Precompiled, Replace, Strip, in a Sequence), and
// the original-text offsets that Metaspace's "first" prepend scheme needs.
import Foundation

/// What a `Replace` normalizer matches: a string, or one of the few regular expressions that
/// transformers' converters write (others are refused when loading).
enum ReplacePattern: Equatable, Sendable {
    /// `{"String": s}`: every occurrence of `s`, left to right.
    case literal(String)
    /// `{"Regex": " {2,}"}`: each run of two or more spaces (U+0020).
    case spaceRuns
    /// `{"Regex": "\\A +| +\\z"}`: the spaces at the start and at the end.
    case outerSpaces
    /// `{"Regex": "\\A<text>"}` with a literal `text`: that text at the very start.
    case prefix(String)
}

/// One step of a normalizer sequence.
enum NormalizerStep: Sendable {
    /// SentencePiece's charsmap, applied per grapheme cluster.
    case precompiled(PrecompiledCharsMap)
    /// Replace matches of a pattern with `content`; `needle` holds the scalars of a literal or
    /// prefix pattern (computed once, not per text).
    case replace(ReplacePattern, needle: [UInt32], content: [UInt32])
    /// Remove leading and/or trailing whitespace (Rust `char::is_whitespace`).
    case strip(left: Bool, right: Bool)
    /// Unicode canonical composition (`{"type": "NFC"}`, GPT-NeoX-style BPE tokenizers such as
    /// ModernBERT's), by Foundation's ICU. Composition of assigned characters is stable across
    /// Unicode versions; offsets are not tracked (Metaspace `first` with NFC is refused).
    case nfc
}

/// Reusable buffers of the normalizer.
struct NormalizerScratch {
    var scalars: [UInt32] = []
    var origins: [Int32] = []
    var changes: [Int32] = []
    var key: [UInt8] = []
}

/// A `Sequence` of SentencePiece-style normalizers (or one of them alone), as the Rust library
/// runs them: each step rewrites the whole normalized text of a segment.
///
/// With `trackOrigins`, it also keeps for every output scalar the byte offset in the segment of
/// the original character it is aligned with, computed as the Rust `NormalizedString`
/// alignments are (quirks included). Only Metaspace's `prepend_scheme: "first"` reads them: it
/// prepends the replacement to a split whose original offset is 0.
struct SentencePieceNormalizer: Sendable {
    let steps: [NormalizerStep]

    /// Normalizes `input` (valid UTF-8) into `out`; with `trackOrigins`, fills `origins` too.
    func normalize(_ input: UnsafeBufferPointer<UInt8>, into out: inout [UInt32], origins: inout [Int32],
                   trackOrigins: Bool, scratch s: inout NormalizerScratch, basicPlane bp: UnsafeBufferPointer<UInt8>) {
        out.removeAll(keepingCapacity: true)
        origins.removeAll(keepingCapacity: true)
        var i = 0
        while i < input.count {
            let (v, l) = decodeUTF8(input, at: i)
            out.append(v)
            if trackOrigins { origins.append(Int32(i)) }
            i += l
        }
        for step in steps {
            s.scalars.removeAll(keepingCapacity: true)
            s.origins.removeAll(keepingCapacity: true)
            let changed: Bool = out.withUnsafeBufferPointer { cur in
                origins.withUnsafeBufferPointer { org in
                    switch step {
                    case .precompiled(let map):
                        return Self.precompiled(map, cur, org, into: &s, trackOrigins: trackOrigins)
                    case .replace(let pattern, let needle, let content):
                        return Self.replace(pattern, needle, content, cur, org, into: &s, trackOrigins: trackOrigins)
                    case .strip(let left, let right):
                        return Self.strip(left: left, right: right, cur, org, into: &s, trackOrigins: trackOrigins, basicPlane: bp)
                    case .nfc:
                        return Self.composed(cur, into: &s)
                    }
                }
            }
            if changed {
                swap(&out, &s.scalars)
                if trackOrigins { swap(&origins, &s.origins) }
            }
        }
    }

    /// Normalizes a whole string (for added tokens marked `normalized`).
    func normalize(_ text: String) -> [UInt32] {
        var out: [UInt32] = [], origins: [Int32] = []
        var scratch = NormalizerScratch()
        var t = text
        t.withUTF8 { input in
            CharClass.basicPlane.withUnsafeBufferPointer { bp in
                normalize(input, into: &out, origins: &origins, trackOrigins: false, scratch: &scratch, basicPlane: bp)
            }
        }
        return out
    }

    // MARK: NFC

    /// Canonical composition of `input` into `s.scalars`; false (nothing written) when the text
    /// is already composed, which any run of scalars below U+0300 is.
    private static func composed(_ input: UnsafeBufferPointer<UInt32>, into s: inout NormalizerScratch) -> Bool {
        guard input.contains(where: { $0 >= 0x300 }) else { return false }
        var text = String.UnicodeScalarView()
        for v in input { if let u = Unicode.Scalar(v) { text.append(u) } }
        let composed = String(text).precomposedStringWithCanonicalMapping.unicodeScalars
        guard !composed.elementsEqual(text) else { return false }
        s.scalars.append(contentsOf: composed.map(\.value))
        return true
    }

    // MARK: Precompiled

    /// The Rust `Precompiled::normalize`: per grapheme cluster of fewer than 6 UTF-8 bytes, the
    /// replacement of the shortest charsmap key that prefixes it (which drops the rest of the
    /// cluster); otherwise, or without such a key, per scalar.
    private static func precompiled(_ map: PrecompiledCharsMap, _ input: UnsafeBufferPointer<UInt32>,
                                    _ origins: UnsafeBufferPointer<Int32>, into s: inout NormalizerScratch,
                                    trackOrigins: Bool) -> Bool {
        var modified = false
        s.changes.removeAll(keepingCapacity: true)
        let n = input.count
        var i = 0
        while i < n {
            let v = input[i]
            // Between two ASCII scalars there is always a boundary, except CR LF.
            let end = (v < 0x80 && v != 0x0D && (i + 1 == n || input[i + 1] < 0x80))
                ? i + 1 : GraphemeClusters.clusterEnd(input, from: i)
            s.key.removeAll(keepingCapacity: true)
            for k in i..<end {
                appendUTF8(input[k], to: &s.key)
                if s.key.count >= 6 { break }
            }
            if s.key.count < 6, let r = s.key.withUnsafeBufferPointer({ map.replacement(of: $0) }) {
                modified = true
                appendReplacement(map, r, replacing: end - i, into: &s, trackOrigins: trackOrigins)
                i = end
                continue
            }
            for k in i..<end {
                s.key.removeAll(keepingCapacity: true)
                appendUTF8(input[k], to: &s.key)
                if let r = s.key.withUnsafeBufferPointer({ map.replacement(of: $0) }) {
                    modified = true
                    appendReplacement(map, r, replacing: 1, into: &s, trackOrigins: trackOrigins)
                } else {
                    s.scalars.append(input[k])
                    if trackOrigins { s.changes.append(0) }
                }
            }
            i = end
        }
        guard modified else { return false }
        if trackOrigins { transformOrigins(origins, changes: s.changes, initialOffset: 0, into: &s.origins) }
        return true
    }

    /// Appends the pool string `r` in place of `count` scalars, recording the alignment changes
    /// as the Rust `replace` helper of precompiled.rs does.
    private static func appendReplacement(_ map: PrecompiledCharsMap, _ r: Range<Int>, replacing count: Int,
                                          into s: inout NormalizerScratch, trackOrigins: Bool) {
        var added = 0
        map.pool.withUnsafeBufferPointer { pool in
            var j = r.lowerBound
            while j < r.upperBound {
                let (v, l) = decodeUTF8(pool, at: j)
                s.scalars.append(v)
                if trackOrigins { s.changes.append(0) }
                added += 1
                j += l
            }
        }
        guard trackOrigins else { return }
        let diff = added - count
        if diff > 0 {
            // The last `diff` new characters are insertions.
            for k in (s.changes.count - diff)..<s.changes.count { s.changes[k] = 1 }
        } else if diff < 0, !s.changes.isEmpty {
            // Removals are charged to the last character so far (possibly of an earlier cluster).
            s.changes[s.changes.count - 1] += Int32(diff)
        }
    }

    /// The Rust `NormalizedString::transform_range` over the whole text, for the alignment start
    /// of each new character: a change of 1 inserts (aligned with the previous original
    /// character, or 0 at the start), 0 replaces the next original character, −k replaces it and
    /// removes the k after it. Original characters left over at the end are dropped.
    static func transformOrigins(_ old: UnsafeBufferPointer<Int32>, changes: [Int32], initialOffset: Int,
                                 into out: inout [Int32]) {
        var p = initialOffset
        for change in changes {
            if change > 0 {
                out.append(p == 0 ? 0 : old[min(p, old.count) - 1])
            } else {
                // Past the end the Rust code would panic; keep the last alignment.
                out.append(p < old.count ? old[p] : (old.last ?? 0))
                p += 1 + Int(-change)
            }
        }
    }

    // MARK: Replace

    /// The Rust `NormalizedString::replace`: matches (left to right, not overlapping) become
    /// `content`, whose characters align with the last matched character.
    private static func replace(_ pattern: ReplacePattern, _ needle: [UInt32], _ content: [UInt32], _ input: UnsafeBufferPointer<UInt32>,
                                _ origins: UnsafeBufferPointer<Int32>, into s: inout NormalizerScratch,
                                trackOrigins: Bool) -> Bool {
        var copied = 0
        var modified = false
        func emit(match start: Int, _ end: Int) {
            for k in copied..<start {
                s.scalars.append(input[k])
                if trackOrigins { s.origins.append(origins[k]) }
            }
            s.scalars.append(contentsOf: content)
            if trackOrigins { for _ in content { s.origins.append(origins[end - 1]) } }
            copied = end
            modified = true
        }
        let n = input.count
        switch pattern {
        case .literal:
            guard !needle.isEmpty else { return false }
            var i = 0
            while i + needle.count <= n {
                var k = 0
                while k < needle.count, input[i + k] == needle[k] { k += 1 }
                if k == needle.count {
                    emit(match: i, i + needle.count)
                    i += needle.count
                } else {
                    i += 1
                }
            }
        case .spaceRuns:
            var i = 0
            while i < n {
                guard input[i] == 0x20 else { i += 1; continue }
                var j = i
                while j < n, input[j] == 0x20 { j += 1 }
                if j - i >= 2 { emit(match: i, j) }
                i = j
            }
        case .outerSpaces:
            var lead = 0
            while lead < n, input[lead] == 0x20 { lead += 1 }
            if lead > 0 { emit(match: 0, lead) }
            var trail = n
            while trail > lead, input[trail - 1] == 0x20 { trail -= 1 }
            if trail < n { emit(match: trail, n) }
        case .prefix:
            if !needle.isEmpty, needle.count <= n, input.prefix(needle.count).elementsEqual(needle) {
                emit(match: 0, needle.count)
            }
        }
        guard modified else { return false }
        for k in copied..<n {
            s.scalars.append(input[k])
            if trackOrigins { s.origins.append(origins[k]) }
        }
        return true
    }

    // MARK: Strip

    /// The Rust `NormalizedString::lrstrip`, alignment quirk included (the trailing removal is
    /// charged to the character at index `byte length − trailing − 1`).
    private static func strip(left: Bool, right: Bool, _ input: UnsafeBufferPointer<UInt32>,
                              _ origins: UnsafeBufferPointer<Int32>, into s: inout NormalizerScratch,
                              trackOrigins: Bool, basicPlane bp: UnsafeBufferPointer<UInt8>) -> Bool {
        let n = input.count
        func isSpace(_ v: UInt32) -> Bool { CharClass.of(v, basicPlane: bp).contains(.bertWhitespace) }
        var leading = 0
        if left { while leading < n, isSpace(input[leading]) { leading += 1 } }
        var trailing = 0
        if right { while trailing < n, isSpace(input[n - 1 - trailing]) { trailing += 1 } }
        guard leading > 0 || trailing > 0 else { return false }
        let keptEnd = max(leading, n - trailing)
        s.scalars.append(contentsOf: input[leading..<keptEnd])
        if trackOrigins {
            var byteLength = 0
            for v in input { byteLength += v < 0x80 ? 1 : v < 0x800 ? 2 : v < 0x10000 ? 3 : 4 }
            let charged = byteLength - trailing - 1
            s.changes.removeAll(keepingCapacity: true)
            for k in leading..<keptEnd { s.changes.append(k == charged ? Int32(-trailing) : 0) }
            transformOrigins(origins, changes: s.changes, initialOffset: leading, into: &s.origins)
        }
        return true
    }
}
