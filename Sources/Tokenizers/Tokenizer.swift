import Foundation

/// How text is split into words before the model sees it (`pre_tokenizer` of `tokenizer.json`).
public enum PreTokenizerKind: Equatable, Sendable {
    /// The whole (normalized) text is one word.
    case wholeText
    /// BERT: split on whitespace, and every punctuation character is a word of its own.
    case bert
    /// GPT-2 / RoBERTa: the GPT-2 regular expression over the raw bytes.
    /// - Parameters:
    ///   - addPrefixSpace: prepend a space to text that does not start with one.
    ///   - useRegex: split with the GPT-2 pattern (else the text is one word).
    case byteLevel(addPrefixSpace: Bool, useRegex: Bool)
    /// SentencePiece: `Metaspace` (alone, or after `WhitespaceSplit`).
    case metaspace(MetaspaceOptions)
}

/// The model that maps a word to ids.
enum TokenModel: Sendable {
    case wordPiece(WordPieceModel)
    case bytePair(BytePairModel)
    case unigram(UnigramModel)
}

/// The normalizer stage: BERT's, or a SentencePiece-style sequence.
enum TextNormalizer: Sendable {
    case bert(BertNormalizer)
    case sentencePiece(SentencePieceNormalizer)

    /// Normalizes a whole string (for added tokens marked `normalized`).
    func normalize(_ text: String) -> [UInt32] {
        switch self {
        case .bert(let n): return n.normalize(text)
        case .sentencePiece(let n): return n.normalize(text)
        }
    }
}

/// Reusable buffers of one encoding thread.
struct EncodeScratch {
    var normalized: [UInt32] = []
    var run: [UInt32] = []
    var bytes: [UInt8] = []
    var wordBytes: [UInt8] = []
    var bounds: [Int32] = []
    var bpe = BPEScratch()
    var origins: [Int32] = []
    var pieceBytes: [UInt8] = []
    var normalizer = NormalizerScratch()
    var unigram = UnigramScratch()
    /// Private BPE cache of a batch worker; nil uses the tokenizer's shared, locked cache.
    var cache: WordCache? = nil
}

/// A WordPiece (BERT), byte-level BPE (RoBERTa, GPT-2) or SentencePiece Unigram (XLM-RoBERTa,
/// CamemBERT) tokenizer, mirroring the stages of the Rust `tokenizers` library: added tokens,
/// normalizer, pre-tokenizer, model, post-processor, decoder.
///
/// Build one with ``loadTokenizer(directory:)`` (or the `Tokenizer.init` loaders). It is
/// immutable and `Sendable`: share one instance between threads.
///
/// ```swift
/// let tokenizer = try loadTokenizer(directory: URL(fileURLWithPath: "models/all-MiniLM-L6-v2"))
/// let e = tokenizer.encode("A sentence.", pair: "Another one.", maxLength: 128)
/// // e.ids: [101, 1037, 6251, 1012, 102, 2178, 2028, 1012, 102]
/// ```
public struct Tokenizer: TextTokenizer {
    /// BertNormalizer options, or nil when the text is not normalized by BertNormalizer
    /// (byte-level BPE; SentencePiece tokenizers, whose normalizer is a sequence of steps).
    public let normalizerOptions: BertNormalizerOptions?
    /// The pre-tokenizer.
    public let preTokenizer: PreTokenizerKind
    /// Special tokens and type ids around the sequences.
    public let postProcessor: PostProcessor
    /// How `decode` joins tokens.
    public let decoder: TokenDecoder
    /// Tokens matched before the model runs (special tokens, added tokens).
    public let addedTokens: [AddedToken]

    /// Number of ids: the largest vocabulary or added-token id + 1.
    public let vocabularySize: Int
    /// Id of `[PAD]` / `<pad>` (or the token `tokenizer_config.json` names), if present.
    public let padTokenId: Int32?
    /// Id of `[CLS]` / `<s>`, if present.
    public let clsTokenId: Int32?
    /// Id of `[SEP]` / `</s>`, if present.
    public let sepTokenId: Int32?
    /// Id of `[UNK]` / `<unk>`, if present.
    public let unkTokenId: Int32?
    /// Id of `[MASK]` / `<mask>`, if present.
    public let maskTokenId: Int32?

    let normalizer: TextNormalizer?
    let model: TokenModel
    /// Whether the normalizer must keep original offsets (Metaspace's "first" scheme reads them).
    let tracksOrigins: Bool
    let rawSplitter: AddedTokenSplitter<UInt8>
    let normalizedSplitter: AddedTokenSplitter<UInt32>
    /// Token text of each id (nil for ids no token has).
    let tokens: [String?]
    /// Whether each id is a special added token.
    let isSpecial: [Bool]

    /// Special-token roles, by token text.
    struct Roles {
        var pad: String?
        var cls: String?
        var sep: String?
        var unk: String?
        var mask: String?
    }

    /// - Parameter pieces: the token text of each model id, when the vocabulary map cannot tell
    ///   (a Unigram vocabulary may list a piece twice; the map keeps its last id only).
    init(normalizer: TextNormalizer?, preTokenizer: PreTokenizerKind, model: TokenModel,
         vocabulary: ByteKeyMap, pieces: [String]? = nil, addedTokens: [AddedToken], postProcessor: PostProcessor,
         decoder: TokenDecoder, roles: Roles) {
        if case .bert(let b) = normalizer { self.normalizerOptions = b.options } else { self.normalizerOptions = nil }
        self.normalizer = normalizer
        if case .metaspace(let m) = preTokenizer { tracksOrigins = m.prependScheme == .first } else { tracksOrigins = false }
        self.preTokenizer = preTokenizer
        self.model = model
        self.postProcessor = postProcessor
        self.decoder = decoder
        self.addedTokens = addedTokens

        var size = pieces?.count ?? 0
        vocabulary.forEach { _, id in size = max(size, Int(id) + 1) }
        for t in addedTokens { size = max(size, Int(t.id) + 1) }
        var tokens = [String?](repeating: nil, count: size)
        if let pieces {
            for (i, p) in pieces.enumerated() { tokens[i] = p }
        } else {
            vocabulary.forEach { key, id in tokens[Int(id)] = String(decoding: key, as: UTF8.self) }
        }
        var isSpecial = [Bool](repeating: false, count: size)
        var byContent: [String: Int32] = [:]
        let normalizerForTokens = normalizer
        for t in addedTokens {
            // As in the Rust library, a `normalized` token decodes as its normalized text.
            if t.normalized, let n = normalizerForTokens {
                var s = String.UnicodeScalarView()
                for v in n.normalize(t.content) { if let u = Unicode.Scalar(v) { s.append(u) } }
                tokens[Int(t.id)] = String(s)
            } else {
                tokens[Int(t.id)] = t.content
            }
            byContent[t.content] = t.id
        }
        for t in addedTokens where t.special {
            // The Rust library skips by token text: every id spelling a special token.
            if let id = byContent[t.content] { isSpecial[Int(id)] = true }
        }
        self.tokens = tokens
        self.isSpecial = isSpecial
        self.vocabularySize = size

        var raw: [(units: [UInt8], token: AddedToken)] = []
        var normalized: [(units: [UInt32], token: AddedToken)] = []
        for t in addedTokens {
            if t.normalized, let n = normalizerForTokens {
                normalized.append((n.normalize(t.content), t))
            } else {
                raw.append((Array(t.content.utf8), t))
            }
        }
        rawSplitter = AddedTokenSplitter(raw)
        normalizedSplitter = AddedTokenSplitter(normalized)

        func id(_ name: String?) -> Int32? {
            guard let name else { return nil }
            if let a = byContent[name] { return a }
            let v = vocabulary.find(Array(name.utf8))
            return v >= 0 ? v : nil
        }
        padTokenId = id(roles.pad)
        clsTokenId = id(roles.cls)
        sepTokenId = id(roles.sep)
        unkTokenId = id(roles.unk)
        maskTokenId = id(roles.mask)
    }

    // MARK: Encoding

    /// Encodes one sequence or a pair; see ``TextTokenizer/encode(_:pair:maxLength:)``.
    public func encode(_ text: String, pair: String?, maxLength: Int?) -> Encoding {
        var scratch = EncodeScratch()
        return encode(text, pair: pair, maxLength: maxLength, scratch: &scratch)
    }

    /// Encodes many inputs on all cores (each worker with its own scratch buffers and BPE
    /// cache); the result equals calling `encode` on each, in input order.
    public func encodeBatch(_ inputs: [(String, String?)], maxLength: Int?) -> [Encoding] {
        encodeBatch(inputs, maxLength: maxLength, threads: nil)
    }

    /// `encodeBatch` on at most `threads` threads (nil: all cores).
    public func encodeBatch(_ inputs: [(String, String?)], maxLength: Int?, threads: Int?) -> [Encoding] {
        parallelMap(count: inputs.count, threads: threads, makeState: { () -> EncodeScratch in
            var s = EncodeScratch()
            s.cache = WordCache()
            return s
        }) { scratch, i in
            encode(inputs[i].0, pair: inputs[i].1, maxLength: maxLength, scratch: &scratch)
        }
    }

    func encode(_ text: String, pair: String?, maxLength: Int?, scratch: inout EncodeScratch) -> Encoding {
        var a: [Int32] = []
        appendSequence(text, to: &a, scratch: &scratch)
        var b: [Int32]? = nil
        if let pair {
            var ids: [Int32] = []
            appendSequence(pair, to: &ids, scratch: &scratch)
            b = ids
        }
        if let maxLength {
            // As the Rust library: a maximum below the number of special tokens disables
            // truncation (it does not empty the sequences).
            let budget = maxLength - postProcessor.addedTokenCount(pair: pair != nil)
            if budget >= 0 { truncateLongestFirst(&a, &b, maxLength: budget) }
        }
        return postProcessor.apply(a, b)
    }

    /// Appends the model ids of one sequence (no special tokens of the template).
    func appendSequence(_ text: String, to ids: inout [Int32], scratch s: inout EncodeScratch) {
        var t = text
        t.withUTF8 { raw in
            CharClass.basicPlane.withUnsafeBufferPointer { bp in
                if rawSplitter.isEmpty {
                    appendSegment(raw, segmentStart: 0, to: &ids, scratch: &s, basicPlane: bp)
                    return
                }
                rawSplitter.split(
                    raw,
                    scalarAt: { decodeUTF8(raw, at: $0) },
                    scalarBefore: { end in
                        var i = end - 1
                        while i > 0, raw[i] & 0xC0 == 0x80 { i -= 1 }
                        return (decodeUTF8(raw, at: i).value, end - i)
                    },
                    isWhitespace: { CharClass.of($0, basicPlane: bp).contains(.bertWhitespace) },
                    isWordCharacter: { Self.isWordCharacter($0, bp) },
                    emit: { piece in
                        switch piece {
                        case .token(let id): ids.append(id)
                        case .text(let r):
                            appendSegment(UnsafeBufferPointer(rebasing: raw[r]), segmentStart: r.lowerBound, to: &ids,
                                          scratch: &s, basicPlane: bp)
                        }
                    })
            }
        }
    }

    /// Splits normalized scalars at the added tokens matched in normalized text (`emit` gets
    /// each token and each stretch between them; the whole text when there are none).
    private func forEachNormalizedPiece(_ scalars: UnsafeBufferPointer<UInt32>, basicPlane bp: UnsafeBufferPointer<UInt8>,
                                        emit: (Piece) -> Void) {
        if normalizedSplitter.isEmpty {
            emit(.text(0..<scalars.count))
            return
        }
        normalizedSplitter.split(
            scalars,
            scalarAt: { (scalars[$0], 1) },
            scalarBefore: { (scalars[$0 - 1], 1) },
            isWhitespace: { CharClass.of($0, basicPlane: bp).contains(.bertWhitespace) },
            isWordCharacter: { Self.isWordCharacter($0, bp) },
            emit: emit)
    }

    static func isWordCharacter(_ v: UInt32, _ bp: UnsafeBufferPointer<UInt8>) -> Bool {
        v == 0x5F || !CharClass.of(v, basicPlane: bp).isDisjoint(with: [.letter, .number])
    }

    /// One stretch of raw text between added tokens, starting at byte `segmentStart` of the text.
    private func appendSegment(_ segment: UnsafeBufferPointer<UInt8>, segmentStart: Int, to ids: inout [Int32],
                               scratch s: inout EncodeScratch, basicPlane bp: UnsafeBufferPointer<UInt8>) {
        if case .sentencePiece(let n) = normalizer {
            appendSentencePieceSegment(segment, segmentStart: segmentStart, normalizer: n, to: &ids, scratch: &s, basicPlane: bp)
            return
        }
        if case .bert(let normalizer) = normalizer {
            var normalized: [UInt32] = []
            swap(&normalized, &s.normalized)
            defer { swap(&normalized, &s.normalized) }
            normalized.removeAll(keepingCapacity: true)
            normalizer.normalize(segment, into: &normalized, run: &s.run, basicPlane: bp)
            normalized.withUnsafeBufferPointer { scalars in
                forEachNormalizedPiece(scalars, basicPlane: bp) { piece in
                    switch piece {
                    case .token(let id): ids.append(id)
                    case .text(let r): appendNormalized(UnsafeBufferPointer(rebasing: scalars[r]), to: &ids, scratch: &s, basicPlane: bp)
                    }
                }
            }
            return
        }
        if case .byteLevel = preTokenizer {
            appendByteLevel(segment, to: &ids, scratch: &s, basicPlane: bp)
            return
        }
        var normalized: [UInt32] = []
        swap(&normalized, &s.normalized)
        defer { swap(&normalized, &s.normalized) }
        normalized.removeAll(keepingCapacity: true)
        var i = 0
        while i < segment.count {
            let (v, l) = decodeUTF8(segment, at: i)
            normalized.append(v)
            i += l
        }
        normalized.withUnsafeBufferPointer { appendNormalized($0, to: &ids, scratch: &s, basicPlane: bp) }
    }

    /// Pre-tokenizes normalized scalars and runs the model on each word.
    private func appendNormalized(_ scalars: UnsafeBufferPointer<UInt32>, to ids: inout [Int32],
                                  scratch s: inout EncodeScratch, basicPlane bp: UnsafeBufferPointer<UInt8>) {
        switch preTokenizer {
        case .wholeText:
            if !scalars.isEmpty { appendWord(scalars, to: &ids, scratch: &s) }
        case .metaspace(let options):
            if !scalars.isEmpty {
                appendMetaspace(scalars, origins: nil, segmentStart: 0, options: options, to: &ids, scratch: &s, basicPlane: bp)
            }
        case .byteLevel:
            var bytes: [UInt8] = []
            swap(&bytes, &s.bytes)
            defer { swap(&bytes, &s.bytes) }
            bytes.removeAll(keepingCapacity: true)
            for v in scalars { appendUTF8(v, to: &bytes) }
            bytes.withUnsafeBufferPointer { appendByteLevel($0, to: &ids, scratch: &s, basicPlane: bp) }
        case .bert:
            var wordStart = -1
            for i in 0..<scalars.count {
                let c = CharClass.of(scalars[i], basicPlane: bp)
                if c.contains(.bertWhitespace) {
                    if wordStart >= 0 {
                        appendWord(UnsafeBufferPointer(rebasing: scalars[wordStart..<i]), to: &ids, scratch: &s)
                        wordStart = -1
                    }
                } else if c.contains(.bertPunctuation) {
                    if wordStart >= 0 {
                        appendWord(UnsafeBufferPointer(rebasing: scalars[wordStart..<i]), to: &ids, scratch: &s)
                        wordStart = -1
                    }
                    appendWord(UnsafeBufferPointer(rebasing: scalars[i..<(i + 1)]), to: &ids, scratch: &s)
                } else if wordStart < 0 {
                    wordStart = i
                }
            }
            if wordStart >= 0 {
                appendWord(UnsafeBufferPointer(rebasing: scalars[wordStart...]), to: &ids, scratch: &s)
            }
        }
    }

    /// Runs the model on one word given as scalars.
    private func appendWord(_ word: UnsafeBufferPointer<UInt32>, to ids: inout [Int32], scratch s: inout EncodeScratch) {
        switch model {
        case .wordPiece(let m):
            m.tokenize(word, into: &ids, bytes: &s.wordBytes, bounds: &s.bounds)
        case .bytePair(let m):
            var bytes: [UInt8] = []
            swap(&bytes, &s.wordBytes)
            defer { swap(&bytes, &s.wordBytes) }
            bytes.removeAll(keepingCapacity: true)
            for v in word { appendUTF8(v, to: &bytes) }
            bytes.withUnsafeBufferPointer { m.tokenize($0, into: &ids, scratch: &s.bpe, cache: &s.cache) }
        case .unigram(let m):
            var bytes: [UInt8] = []
            swap(&bytes, &s.wordBytes)
            defer { swap(&bytes, &s.wordBytes) }
            bytes.removeAll(keepingCapacity: true)
            for v in word { appendUTF8(v, to: &bytes) }
            bytes.withUnsafeBufferPointer { m.tokenize($0, into: &ids, scratch: &s.unigram) }
        }
    }

    /// Runs the model on one word given as UTF-8 (a Metaspace piece).
    private func appendWordBytes(_ word: UnsafeBufferPointer<UInt8>, to ids: inout [Int32], scratch s: inout EncodeScratch) {
        switch model {
        case .unigram(let m):
            m.tokenize(word, into: &ids, scratch: &s.unigram)
        case .bytePair(let m):
            m.tokenize(word, into: &ids, scratch: &s.bpe, cache: &s.cache)
        case .wordPiece(let m):
            var scalars: [UInt32] = []
            var i = 0
            while i < word.count {
                let (v, l) = decodeUTF8(word, at: i)
                scalars.append(v)
                i += l
            }
            scalars.withUnsafeBufferPointer { m.tokenize($0, into: &ids, bytes: &s.wordBytes, bounds: &s.bounds) }
        }
    }

    /// A segment under a SentencePiece normalizer: normalize (keeping original offsets when
    /// Metaspace needs them), split out normalized added tokens, pre-tokenize, run the model.
    private func appendSentencePieceSegment(_ segment: UnsafeBufferPointer<UInt8>, segmentStart: Int,
                                            normalizer n: SentencePieceNormalizer, to ids: inout [Int32],
                                            scratch s: inout EncodeScratch, basicPlane bp: UnsafeBufferPointer<UInt8>) {
        var normalized: [UInt32] = [], origins: [Int32] = []
        swap(&normalized, &s.normalized)
        swap(&origins, &s.origins)
        defer {
            swap(&normalized, &s.normalized)
            swap(&origins, &s.origins)
        }
        n.normalize(segment, into: &normalized, origins: &origins, trackOrigins: tracksOrigins, scratch: &s.normalizer,
                    basicPlane: bp)
        // The Rust library drops a split that normalizes to nothing.
        if normalized.isEmpty { return }
        normalized.withUnsafeBufferPointer { scalars in
            origins.withUnsafeBufferPointer { org in
                func piece(_ r: Range<Int>) {
                    let p = UnsafeBufferPointer(rebasing: scalars[r])
                    guard case .metaspace(let options) = preTokenizer else {
                        appendNormalized(p, to: &ids, scratch: &s, basicPlane: bp)
                        return
                    }
                    appendMetaspace(p, origins: tracksOrigins ? UnsafeBufferPointer(rebasing: org[r]) : nil,
                                    segmentStart: segmentStart, options: options, to: &ids, scratch: &s, basicPlane: bp)
                }
                forEachNormalizedPiece(scalars, basicPlane: bp) { p in
                    switch p {
                    case .token(let id): ids.append(id)
                    case .text(let r): piece(r)
                    }
                }
            }
        }
    }

    /// Metaspace pre-tokenization of one normalized split, then the model on each piece.
    private func appendMetaspace(_ scalars: UnsafeBufferPointer<UInt32>, origins: UnsafeBufferPointer<Int32>?,
                                 segmentStart: Int, options: MetaspaceOptions, to ids: inout [Int32],
                                 scratch s: inout EncodeScratch, basicPlane bp: UnsafeBufferPointer<UInt8>) {
        var bytes: [UInt8] = []
        swap(&bytes, &s.pieceBytes)
        defer { swap(&bytes, &s.pieceBytes) }
        options.pieces(scalars, origins: origins, segmentStart: segmentStart, bytes: &bytes, basicPlane: bp) { piece in
            appendWordBytes(piece, to: &ids, scratch: &s)
        }
    }

    /// GPT-2 pre-tokenisation of UTF-8 text, then the model on each piece.
    private func appendByteLevel(_ text: UnsafeBufferPointer<UInt8>, to ids: inout [Int32],
                                 scratch s: inout EncodeScratch, basicPlane bp: UnsafeBufferPointer<UInt8>) {
        guard case .byteLevel(let addPrefixSpace, let useRegex) = preTokenizer, !text.isEmpty else { return }
        if addPrefixSpace, text[0] != 0x20 {
            var prefixed: [UInt8] = [0x20]
            prefixed.append(contentsOf: text)
            prefixed.withUnsafeBufferPointer { p in
                appendByteLevelPieces(p, useRegex: useRegex, to: &ids, scratch: &s, basicPlane: bp)
            }
            return
        }
        appendByteLevelPieces(text, useRegex: useRegex, to: &ids, scratch: &s, basicPlane: bp)
    }

    private func appendByteLevelPieces(_ text: UnsafeBufferPointer<UInt8>, useRegex: Bool, to ids: inout [Int32],
                                       scratch s: inout EncodeScratch, basicPlane bp: UnsafeBufferPointer<UInt8>) {
        switch model {
        case .bytePair(let m):
            if !useRegex {
                m.tokenize(text, into: &ids, scratch: &s.bpe, cache: &s.cache)
                return
            }
            var i = 0
            while i < text.count {
                let end = GPT2Pattern.matchEnd(text, from: i, basicPlane: bp)
                m.tokenize(UnsafeBufferPointer(rebasing: text[i..<end]), into: &ids, scratch: &s.bpe, cache: &s.cache)
                i = end
            }
        case .unigram(let m):
            // Refused when loading (Unigram after byte-level splitting); kept total here.
            var i = 0
            while i < text.count {
                let end = useRegex ? GPT2Pattern.matchEnd(text, from: i, basicPlane: bp) : text.count
                m.tokenize(UnsafeBufferPointer(rebasing: text[i..<end]), into: &ids, scratch: &s.unigram)
                i = end
            }
        case .wordPiece(let m):
            // Unusual combination (WordPiece after byte-level splitting): decode each piece.
            var i = 0
            while i < text.count {
                let end = useRegex ? GPT2Pattern.matchEnd(text, from: i, basicPlane: bp) : text.count
                var scalars: [UInt32] = []
                var j = i
                while j < end {
                    let (v, l) = decodeUTF8(text, at: j)
                    scalars.append(v)
                    j += l
                }
                scalars.withUnsafeBufferPointer { m.tokenize($0, into: &ids, bytes: &s.wordBytes, bounds: &s.bounds) }
                i = end
            }
        }
    }

    // MARK: Decoding

    /// Decodes ids as the Rust library does: ids without a token are skipped, special
    /// tokens too when `skipSpecialTokens`, and the decoder joins the rest.
    public func decode(_ ids: [Int32], skipSpecialTokens: Bool) -> String {
        var pieces: [String] = []
        pieces.reserveCapacity(ids.count)
        for id in ids {
            guard id >= 0, Int(id) < tokens.count, let t = tokens[Int(id)] else { continue }
            if skipSpecialTokens, isSpecial[Int(id)] { continue }
            pieces.append(t)
        }
        return decoder.decode(pieces)
    }

    /// The token text of `id`, or nil.
    public func token(for id: Int32) -> String? {
        guard id >= 0, Int(id) < tokens.count else { return nil }
        return tokens[Int(id)]
    }

    /// The id of a token text (vocabulary entry or added token), or nil.
    public func id(for token: String) -> Int32? {
        if let t = addedTokens.last(where: { $0.content == token }) { return t.id }
        switch model {
        case .wordPiece(let m):
            let v = m.vocabulary.find(Array(token.utf8))
            return v >= 0 ? v : nil
        case .bytePair(let m):
            let v = m.vocabulary.find(Array(token.utf8))
            return v >= 0 ? v : nil
        case .unigram(let m):
            let v = m.vocabulary.find(Array(token.utf8))
            return v >= 0 ? v : nil
        }
    }
}
