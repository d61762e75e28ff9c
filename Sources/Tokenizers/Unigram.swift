// The Unigram model of SentencePiece tokenizers: the best segmentation of a piece under the
// vocabulary's log-probabilities (Viterbi over UTF-8 bytes), unknown runs fused, byte fallback.

/// A byte trie of the vocabulary: transitions in one open-addressing table keyed by
/// (node, byte), and the id of the piece that ends at each node.
struct PieceTrie: Sendable {
    /// Slot: `(node << 8 | byte) << 32 | child`, or `empty`.
    private var slots: [UInt64]
    private let mask: Int
    /// Id of the piece ending at each node, or -1. Node 0 is the root.
    private(set) var terminal: [Int32] = [-1]
    private static let empty = UInt64.max

    init(edgeCapacity: Int) {
        var n = 16
        while n < edgeCapacity * 2 { n <<= 1 }
        slots = [UInt64](repeating: Self.empty, count: n)
        mask = n - 1
    }

    @inline(__always)
    private static func slot(_ key: UInt64, _ mask: Int) -> Int {
        Int(truncatingIfNeeded: (key &* 0x9E37_79B9_7F4A_7C15) >> 24) & mask
    }

    /// The child of `node` along `byte`, or -1.
    @inline(__always)
    func child(_ node: Int32, _ byte: UInt8) -> Int32 {
        let key = UInt64(UInt32(bitPattern: node)) << 8 | UInt64(byte)
        var i = Self.slot(key, mask)
        while true {
            let s = slots[i]
            if s == Self.empty { return -1 }
            if s >> 32 == key { return Int32(truncatingIfNeeded: s & 0xFFFF_FFFF) }
            i = (i + 1) & mask
        }
    }

    /// Adds a piece; a piece listed twice keeps its last id (the Rust `token_to_ids` map).
    mutating func insert(_ piece: [UInt8], id: Int32) {
        var node: Int32 = 0
        for b in piece {
            var next = child(node, b)
            if next < 0 {
                next = Int32(terminal.count)
                terminal.append(-1)
                let key = UInt64(UInt32(bitPattern: node)) << 8 | UInt64(b)
                var i = Self.slot(key, mask)
                while slots[i] != Self.empty { i = (i + 1) & mask }
                slots[i] = key << 32 | UInt64(UInt32(bitPattern: next))
            }
            node = next
        }
        terminal[Int(node)] = id
    }
}

/// Scratch space of one Viterbi pass.
struct UnigramScratch {
    var score: [Double] = []
    var start: [Int32] = []
    var id: [Int32] = []
    /// The best path, backwards: (start, end, id) per piece.
    var path: [(Int32, Int32, Int32)] = []
}

/// The Unigram model (`"type": "Unigram"` in `tokenizer.json`), as the Rust library's
/// `encode_optimized` runs it.
///
/// For each UTF-8 position the best path score is kept; every vocabulary piece starting at a
/// character boundary extends it (`score + best`), and where no piece covers the next character
/// alone an unknown piece does, scored `min score − 10`. A candidate replaces the best path at
/// its end only when strictly better, so on a tie the piece starting earliest wins. Runs of
/// unknown pieces are fused; with byte fallback a fused run that is not in the vocabulary
/// becomes its `<0xXX>` byte pieces (when all exist), else the unknown id.
struct UnigramModel: Sendable {
    /// Piece → id (the last id of a repeated piece).
    let vocabulary: ByteKeyMap
    /// Score of each id, as the Rust library parses it (see ``serdeJSONDouble(_:)``).
    let scores: [Double]
    let trie: PieceTrie
    let unknownId: Int32
    let unknownScore: Double
    let byteFallback: Bool
    /// Id of `<0xXX>` for each byte, or -1.
    let byteIds: [Int32]

    init(pieces: [(piece: String, score: Double)], unknownId: Int32, byteFallback: Bool) {
        var vocabulary = ByteKeyMap(capacity: pieces.count)
        var edges = 0
        for p in pieces { edges += p.piece.utf8.count }
        var trie = PieceTrie(edgeCapacity: edges)
        var minScore = Double.infinity
        for (i, p) in pieces.enumerated() {
            let bytes = Array(p.piece.utf8)
            vocabulary.insert(bytes, payload: Int32(i))
            trie.insert(bytes, id: Int32(i))
            if p.score < minScore { minScore = p.score }
        }
        self.vocabulary = vocabulary
        self.trie = trie
        scores = pieces.map(\.score)
        self.unknownId = unknownId
        unknownScore = minScore - 10
        self.byteFallback = byteFallback
        byteIds = (0..<256).map { b in
            let hex = String(b, radix: 16, uppercase: true)
            return vocabulary.find(Array("<0x\(b < 16 ? "0" : "")\(hex)>".utf8))
        }
    }

    /// Appends the ids of one pre-tokenized piece (UTF-8) to `ids`.
    func tokenize(_ text: UnsafeBufferPointer<UInt8>, into ids: inout [Int32], scratch s: inout UnigramScratch) {
        let n = text.count
        if n == 0 { return }
        s.score.removeAll(keepingCapacity: true)
        s.start.removeAll(keepingCapacity: true)
        s.id.removeAll(keepingCapacity: true)
        s.score.append(contentsOf: repeatElement(0, count: n + 1))
        s.start.append(contentsOf: repeatElement(-1, count: n + 1))
        s.id.append(contentsOf: repeatElement(0, count: n + 1))
        scores.withUnsafeBufferPointer { scores in
            var pos = 0
            while pos < n {
                let base = s.score[pos]
                let lead = text[pos]
                let charLength = lead < 0x80 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4
                var single = false
                var node: Int32 = 0
                var k = pos
                while k < n {
                    node = trie.child(node, text[k])
                    if node < 0 { break }
                    k += 1
                    let id = trie.terminal[Int(node)]
                    if id < 0 { continue }
                    let candidate = scores[Int(id)] + base
                    if s.start[k] < 0 || candidate > s.score[k] {
                        s.score[k] = candidate
                        s.start[k] = Int32(pos)
                        s.id[k] = id
                    }
                    if k - pos == charLength { single = true }
                }
                if !single {
                    let end = min(pos + charLength, n)
                    let candidate = unknownScore + base
                    if s.start[end] < 0 || candidate > s.score[end] {
                        s.score[end] = candidate
                        s.start[end] = Int32(pos)
                        s.id[end] = unknownId
                    }
                }
                pos += charLength
            }
        }
        // Back from the end, fusing runs of unknown pieces.
        s.path.removeAll(keepingCapacity: true)
        var end = n
        var unknownEnd = -1
        while end > 0 {
            let start = Int(s.start[end]), id = s.id[end]
            if id == unknownId {
                if unknownEnd < 0 { unknownEnd = end }
            } else {
                if unknownEnd >= 0 {
                    s.path.append((Int32(end), Int32(unknownEnd), unknownId))
                    unknownEnd = -1
                }
                s.path.append((Int32(start), Int32(end), id))
            }
            end = start
        }
        if unknownEnd >= 0 { s.path.append((0, Int32(unknownEnd), unknownId)) }
        for (start, end, id) in s.path.reversed() {
            if id != unknownId {
                ids.append(id)
                continue
            }
            appendUnknown(UnsafeBufferPointer(rebasing: text[Int(start)..<Int(end)]), into: &ids)
        }
    }

    /// A fused unknown run: its vocabulary id if it has one, else its byte pieces (byte
    /// fallback, when every byte has one), else the unknown id.
    private func appendUnknown(_ run: UnsafeBufferPointer<UInt8>, into ids: inout [Int32]) {
        let known = vocabulary.find(run)
        if known >= 0 {
            ids.append(known)
            return
        }
        if byteFallback, run.allSatisfy({ byteIds[Int($0)] >= 0 }) {
            for b in run { ids.append(byteIds[Int(b)]) }
            return
        }
        ids.append(unknownId)
    }
}
