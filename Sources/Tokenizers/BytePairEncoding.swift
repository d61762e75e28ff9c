import Foundation

/// GPT-2's map from bytes to printable characters: the printable Latin-1 bytes map to
/// themselves, the other 68 bytes to U+0100, U+0101, … in byte order.
enum ByteLevelAlphabet {
    /// `characters[b]` is the scalar that stands for byte `b` in vocabulary strings.
    static let characters: [UInt32] = {
        var table = [UInt32](repeating: 0, count: 256)
        var next: UInt32 = 256
        for b in 0..<256 {
            let printable = (0x21...0x7E).contains(b) || (0xA1...0xAC).contains(b) || (0xAE...0xFF).contains(b)
            if printable {
                table[b] = UInt32(b)
            } else {
                table[b] = next
                next += 1
            }
        }
        return table
    }()

    /// The byte a vocabulary character stands for, or nil for characters outside the alphabet.
    static func byte(for v: UInt32) -> UInt8? {
        if let b = byteOfCharacter[v] { return b }
        return nil
    }

    private static let byteOfCharacter: [UInt32: UInt8] = {
        var d: [UInt32: UInt8] = [:]
        for (b, v) in characters.enumerated() { d[v] = UInt8(b) }
        return d
    }()
}

/// The GPT-2 pre-tokenisation pattern, hand-compiled:
///
///     's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
///
/// Every alternative begins with a different class of character, so at each position at most
/// one applies; the only backtracking is `\s+(?!\S)`, which gives back the last whitespace
/// character of a run when a non-space follows (so that " word" keeps its space).
enum GPT2Pattern {
    @inline(__always)
    private static func kind(_ v: UInt32, _ bp: UnsafeBufferPointer<UInt8>) -> UInt8 {
        // 0 letter, 1 number, 2 space, 3 other
        let c = CharClass.of(v, basicPlane: bp)
        if c.contains(.letter) { return 0 }
        if c.contains(.number) { return 1 }
        if c.contains(.space) { return 2 }
        return 3
    }

    /// End (exclusive) of the match that starts at `i` in `p` (valid UTF-8, `i < p.count`).
    @inline(__always)
    static func matchEnd(_ p: UnsafeBufferPointer<UInt8>, from i: Int, basicPlane bp: UnsafeBufferPointer<UInt8>) -> Int {
        let n = p.count
        let b0 = p[i]
        if b0 == 0x27, i + 1 < n {  // '
            let b1 = p[i + 1]
            if b1 == 0x73 || b1 == 0x74 || b1 == 0x6D || b1 == 0x64 { return i + 2 }  // s t m d
            if i + 2 < n {
                let b2 = p[i + 2]
                if (b1 == 0x72 && b2 == 0x65) || (b1 == 0x76 && b2 == 0x65) || (b1 == 0x6C && b2 == 0x6C) { return i + 3 }  // re ve ll
            }
        }
        var start = i
        var (v, length) = decodeUTF8(p, at: i)
        var k = kind(v, bp)
        if b0 == 0x20, i + 1 < n {
            let (v1, l1) = decodeUTF8(p, at: i + 1)
            let k1 = kind(v1, bp)
            if k1 != 2 {
                start = i + 1
                v = v1
                length = l1
                k = k1
            }
        }
        if k != 2 {
            // A run of one class: letters, numbers, or "other".
            var j = start + length
            while j < n {
                let (w, l) = decodeUTF8(p, at: j)
                if kind(w, bp) != k { break }
                j += l
            }
            return j
        }
        // Whitespace: \s+(?!\S) or \s+.
        var j = i + length
        var last = i
        while j < n {
            let (w, l) = decodeUTF8(p, at: j)
            if kind(w, bp) != 2 { break }
            last = j
            j += l
        }
        if j == n { return n }
        return last > i ? last : j
    }
}

/// Per-worker cache of BPE results: word bytes → ids (the Rust library keeps one too).
struct WordCache {
    private var map = ByteKeyMap(capacity: 4096)
    private var starts: [Int32] = [0]
    private var ids: [Int32] = []
    /// Words kept at most; later words are not cached (as in the Rust library).
    let capacity: Int

    init(capacity: Int = 100_000) { self.capacity = capacity }

    /// Appends the cached ids of `word` to `out` and returns true, or returns false.
    @inline(__always)
    func lookup(_ word: UnsafeBufferPointer<UInt8>, into out: inout [Int32]) -> Bool {
        let e = map.find(word)
        if e < 0 { return false }
        let s = Int(starts[Int(e)]), t = Int(starts[Int(e) + 1])
        out.append(contentsOf: ids[s..<t])
        return true
    }

    mutating func insert(_ word: UnsafeBufferPointer<UInt8>, ids pieceIds: ArraySlice<Int32>) {
        guard map.count < capacity, word.count <= 256 else { return }
        if map.insert(word, payload: Int32(map.count)) {
            ids.append(contentsOf: pieceIds)
            starts.append(Int32(ids.count))
        }
    }
}

/// A word cache shared by `encode` calls on any thread (batch encoding gives each worker a
/// private `WordCache` instead, and needs no lock).
final class SharedWordCache: @unchecked Sendable {
    private let lock = NSLock()
    private var cache = WordCache()

    func lookup(_ word: UnsafeBufferPointer<UInt8>, into out: inout [Int32]) -> Bool {
        lock.lock()
        defer { lock.unlock() }
        return cache.lookup(word, into: &out)
    }

    func insert(_ word: UnsafeBufferPointer<UInt8>, ids: ArraySlice<Int32>) {
        lock.lock()
        defer { lock.unlock() }
        cache.insert(word, ids: ids)
    }
}

/// Open-addressing map from a pair of ids to (rank, merged id).
struct MergeTable: Sendable {
    private var keys: [UInt64]
    private var values: [UInt64]
    private let mask: Int
    private static let empty = UInt64.max

    init(capacity: Int) {
        var n = 16
        while n < capacity * 2 { n <<= 1 }
        keys = [UInt64](repeating: Self.empty, count: n)
        values = [UInt64](repeating: 0, count: n)
        mask = n - 1
    }

    @inline(__always)
    private static func slot(_ key: UInt64, _ mask: Int) -> Int {
        Int(truncatingIfNeeded: (key &* 0x9E37_79B9_7F4A_7C15) >> 20) & mask
    }

    /// Records a merge; a pair listed twice keeps its last entry (as the Rust library's
    /// `HashMap` collect does).
    mutating func insert(left: Int32, right: Int32, rank: Int32, merged: Int32) {
        let key = UInt64(UInt32(bitPattern: left)) << 32 | UInt64(UInt32(bitPattern: right))
        var i = Self.slot(key, mask)
        while keys[i] != Self.empty, keys[i] != key { i = (i + 1) & mask }
        keys[i] = key
        values[i] = UInt64(UInt32(bitPattern: rank)) << 32 | UInt64(UInt32(bitPattern: merged))
    }

    /// (rank, merged id) of the pair, or nil.
    @inline(__always)
    func find(left: Int32, right: Int32) -> (rank: Int32, merged: Int32)? {
        let key = UInt64(UInt32(bitPattern: left)) << 32 | UInt64(UInt32(bitPattern: right))
        var i = Self.slot(key, mask)
        while true {
            let k = keys[i]
            if k == key {
                let v = values[i]
                return (Int32(truncatingIfNeeded: v >> 32), Int32(truncatingIfNeeded: v))
            }
            if k == Self.empty { return nil }
            i = (i + 1) & mask
        }
    }
}

/// Scratch space of one BPE merge.
struct BPEScratch {
    var symbols: [Int32] = []
    var next: [Int32] = []
    var previous: [Int32] = []
    var heap: [UInt64] = []
    var pieces: [Int32] = []
}

/// The byte-level BPE model (GPT-2, RoBERTa).
struct BytePairModel: Sendable {
    /// Token string (UTF-8 of the byte-level characters) → id.
    let vocabulary: ByteKeyMap
    /// Merges by rank.
    let merges: MergeTable
    /// `byteIds[b]`: id of the one-character token standing for byte `b`, or -1.
    let byteIds: [Int32]
    /// Id for bytes that have no token, or nil to drop them (the Rust default without
    /// `unk_token`).
    let unknownId: Int32?
    /// `ignore_merges`: a word that is a whole vocabulary entry is not split.
    let ignoreMerges: Bool
    /// Cache for calls that bring no per-worker cache.
    let sharedCache = SharedWordCache()

    /// Appends the ids of one pre-tokenized word (raw UTF-8 bytes) to `ids`.
    func tokenize(_ word: UnsafeBufferPointer<UInt8>, into ids: inout [Int32], scratch: inout BPEScratch,
                  cache: inout WordCache?) {
        if let c = cache {
            if c.lookup(word, into: &ids) { return }
        } else if sharedCache.lookup(word, into: &ids) {
            return
        }
        let first = ids.count
        merge(word, into: &ids, scratch: &scratch)
        if cache != nil {
            cache?.insert(word, ids: ids[first...])
        } else {
            sharedCache.insert(word, ids: ids[first...])
        }
    }

    /// Applies the merges, lowest rank first and leftmost among equal ranks, as the Rust
    /// library's priority queue does.
    private func merge(_ word: UnsafeBufferPointer<UInt8>, into ids: inout [Int32], scratch s: inout BPEScratch) {
        if ignoreMerges {
            var mapped: [UInt8] = []
            for b in word { appendUTF8(ByteLevelAlphabet.characters[Int(b)], to: &mapped) }
            let whole = vocabulary.find(mapped)
            if whole >= 0 { ids.append(whole); return }
        }
        s.symbols.removeAll(keepingCapacity: true)
        for b in word {
            let id = byteIds[Int(b)]
            if id >= 0 {
                s.symbols.append(id)
            } else if let unk = unknownId {
                s.symbols.append(unk)
            }
        }
        let m = s.symbols.count
        if m < 2 {
            ids.append(contentsOf: s.symbols)
            return
        }
        s.next.removeAll(keepingCapacity: true)
        s.previous.removeAll(keepingCapacity: true)
        for i in 0..<m {
            s.previous.append(Int32(i - 1))
            s.next.append(i + 1 < m ? Int32(i + 1) : -1)
        }
        // Heap entries: rank << 32 | position; the smallest is the next merge.
        s.heap.removeAll(keepingCapacity: true)
        for i in 0..<(m - 1) {
            if let (rank, _) = merges.find(left: s.symbols[i], right: s.symbols[i + 1]) {
                heapPush(&s.heap, UInt64(rank) << 32 | UInt64(i))
            }
        }
        while let top = heapPop(&s.heap) {
            let pos = Int(top & 0xFFFF_FFFF)
            let rank = Int32(truncatingIfNeeded: top >> 32)
            if s.symbols[pos] < 0 { continue }  // merged into its left neighbour
            let right = Int(s.next[pos])
            if right < 0 { continue }
            guard let (currentRank, merged) = merges.find(left: s.symbols[pos], right: s.symbols[right]),
                  currentRank == rank else { continue }  // stale entry
            s.symbols[pos] = merged
            s.symbols[right] = -1
            let after = s.next[right]
            s.next[pos] = after
            if after >= 0 { s.previous[Int(after)] = Int32(pos) }
            let before = Int(s.previous[pos])
            if before >= 0, let (r, _) = merges.find(left: s.symbols[before], right: merged) {
                heapPush(&s.heap, UInt64(r) << 32 | UInt64(before))
            }
            if after >= 0, let (r, _) = merges.find(left: merged, right: s.symbols[Int(after)]) {
                heapPush(&s.heap, UInt64(r) << 32 | UInt64(pos))
            }
        }
        var i = 0
        while i >= 0 {
            ids.append(s.symbols[i])
            i = Int(s.next[i])
        }
    }
}

@inline(__always)
private func heapPush(_ h: inout [UInt64], _ v: UInt64) {
    h.append(v)
    var i = h.count - 1
    while i > 0 {
        let parent = (i - 1) / 2
        if h[parent] <= v { break }
        h[i] = h[parent]
        i = parent
    }
    h[i] = v
}

@inline(__always)
private func heapPop(_ h: inout [UInt64]) -> UInt64? {
    guard let last = h.popLast() else { return nil }
    if h.isEmpty { return last }
    let top = h[0]
    var i = 0
    let n = h.count
    while true {
        let l = 2 * i + 1
        if l >= n { break }
        var c = l
        if l + 1 < n, h[l + 1] < h[l] { c = l + 1 }
        if h[c] >= last { break }
        h[i] = h[c]
        i = c
    }
    h[i] = last
    return top
}
