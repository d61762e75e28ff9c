import Foundation
import JSONText

/// Loads the tokenizer of a model directory.
///
/// Looks, in this order, for
/// 1. `tokenizer.json` (a Hugging Face fast-tokenizer file: WordPiece, byte-level BPE, or a
///    SentencePiece Unigram model such as XLM-RoBERTa's and CamemBERT's),
/// 2. `vocab.txt` (BERT WordPiece; options from `tokenizer_config.json` when present:
///    `do_lower_case` (default true), `strip_accents`, `tokenize_chinese_chars`, token names),
/// 3. `vocab.json` + `merges.txt` (byte-level BPE: RoBERTa when the vocabulary has `<s>` and
///    `</s>`, else GPT-2; `add_prefix_space` from `tokenizer_config.json`).
///
/// - Throws: ``TokenizerError`` naming the file (and line) that is missing or malformed.
public func loadTokenizer(directory: URL) throws(TokenizerError) -> Tokenizer {
    try Tokenizer(directory: directory)
}

extension Tokenizer {
    /// Loads the tokenizer of a model directory; see ``loadTokenizer(directory:)``.
    public init(directory: URL) throws(TokenizerError) {
        let fm = FileManager.default
        var isDirectory: ObjCBool = false
        guard fm.fileExists(atPath: directory.path, isDirectory: &isDirectory) else {
            throw .fileNotFound(path: directory.path)
        }
        guard isDirectory.boolValue else { throw .noTokenizerFiles(directory: directory.path) }
        let json = directory.appendingPathComponent("tokenizer.json")
        let vocabTxt = directory.appendingPathComponent("vocab.txt")
        let vocabJSON = directory.appendingPathComponent("vocab.json")
        let merges = directory.appendingPathComponent("merges.txt")
        let config = TokenizerConfig.load(directory: directory)
        if fm.fileExists(atPath: json.path) {
            self = try Tokenizer(tokenizerJSON: json, config: try config.get())
        } else if fm.fileExists(atPath: vocabTxt.path) {
            self = try Tokenizer(wordPieceVocabulary: vocabTxt, config: try config.get())
        } else if fm.fileExists(atPath: vocabJSON.path) || fm.fileExists(atPath: merges.path) {
            self = try Tokenizer(bpeVocabulary: vocabJSON, merges: merges, config: try config.get())
        } else {
            throw .noTokenizerFiles(directory: directory.path)
        }
    }

    /// A BERT WordPiece tokenizer from `vocab.txt` (one token per line, id = line number − 1).
    ///
    /// - Parameters:
    ///   - normalizer: BertNormalizer options (default: uncased BERT).
    ///   - unknownToken, clsToken, sepToken, padToken, maskToken: special token texts.
    public init(wordPieceVocabulary url: URL, normalizer: BertNormalizerOptions = BertNormalizerOptions(),
                unknownToken: String = "[UNK]", clsToken: String = "[CLS]", sepToken: String = "[SEP]",
                padToken: String = "[PAD]", maskToken: String = "[MASK]") throws(TokenizerError) {
        var config = TokenizerConfig()
        config.lowercase = normalizer.lowercase
        config.stripAccents = normalizer.stripAccents
        config.handleChineseChars = normalizer.handleChineseChars
        config.cleanText = normalizer.cleanText
        config.names = Roles(pad: padToken, cls: clsToken, sep: sepToken, unk: unknownToken, mask: maskToken)
        try self.init(wordPieceVocabulary: url, config: config)
    }

    /// A byte-level BPE tokenizer from `vocab.json` and `merges.txt` (RoBERTa when the
    /// vocabulary has `<s>` and `</s>`, else GPT-2).
    ///
    /// - Parameter addPrefixSpace: prepend a space to each text (RoBERTa's default: false).
    public init(bpeVocabulary vocab: URL, merges: URL, addPrefixSpace: Bool = false) throws(TokenizerError) {
        var config = TokenizerConfig()
        config.addPrefixSpace = addPrefixSpace
        try self.init(bpeVocabulary: vocab, merges: merges, config: config)
    }

    /// A tokenizer from a Hugging Face `tokenizer.json`.
    public init(tokenizerJSON url: URL) throws(TokenizerError) {
        try self.init(tokenizerJSON: url, config: TokenizerConfig())
    }
}

// MARK: - tokenizer_config.json

/// The parts of `tokenizer_config.json` (and `special_tokens_map.json`) the loaders use.
struct TokenizerConfig {
    var lowercase: Bool? = nil
    var stripAccents: Bool? = nil
    var handleChineseChars: Bool? = nil
    var cleanText: Bool? = nil
    var addPrefixSpace: Bool? = nil
    var tokenizerClass: String? = nil
    var names = Tokenizer.Roles()

    /// Reads the directory's config files; absent files give an empty config.
    static func load(directory: URL) -> Result<TokenizerConfig, TokenizerError> {
        var config = TokenizerConfig()
        for name in ["special_tokens_map.json", "tokenizer_config.json"] {
            let url = directory.appendingPathComponent(name)
            guard FileManager.default.fileExists(atPath: url.path) else { continue }
            let value: JSONValue
            do { value = try readJSON(url) } catch { return .failure(error) }
            guard case .object = value else {
                return .failure(.malformed(path: url.path, line: 1, column: 1, reason: "expected a JSON object"))
            }
            func tokenName(_ key: String) -> String? {
                if let s = value[key]?.string { return s }
                return value[key]?["content"]?.string
            }
            // tokenizer_config.json is read last and wins.
            config.names.pad = tokenName("pad_token") ?? config.names.pad
            config.names.cls = tokenName("cls_token") ?? config.names.cls
            config.names.sep = tokenName("sep_token") ?? config.names.sep
            config.names.unk = tokenName("unk_token") ?? config.names.unk
            config.names.mask = tokenName("mask_token") ?? config.names.mask
            if name == "tokenizer_config.json" {
                config.lowercase = value["do_lower_case"]?.bool
                config.stripAccents = value["strip_accents"]?.bool
                config.handleChineseChars = value["tokenize_chinese_chars"]?.bool
                config.cleanText = value["clean_text"]?.bool
                config.addPrefixSpace = value["add_prefix_space"]?.bool
                config.tokenizerClass = value["tokenizer_class"]?.string
            }
        }
        return .success(config)
    }
}

// MARK: - File reading

func readFile(_ url: URL) throws(TokenizerError) -> [UInt8] {
    guard FileManager.default.fileExists(atPath: url.path) else { throw .fileNotFound(path: url.path) }
    do {
        return [UInt8](try Data(contentsOf: url))
    } catch {
        throw .unreadable(path: url.path, reason: "\(error)")
    }
}

func readJSON(_ url: URL) throws(TokenizerError) -> JSONValue {
    let bytes = try readFile(url)
    do {
        return try JSONParser.parse(bytes)
    } catch {
        throw .malformed(path: url.path, line: error.line, column: error.column, reason: error.reason)
    }
}

/// Splits a text file into lines (LF, CRLF or CR, as Python's universal newlines do) and
/// checks that each is UTF-8. A final line ending does not start an extra line.
func readLines(_ url: URL) throws(TokenizerError) -> [String] {
    let bytes = try readFile(url)
    var lines: [String] = []
    var start = bytes.starts(with: [0xEF, 0xBB, 0xBF]) ? 3 : 0
    var i = start
    func emit(_ end: Int) throws(TokenizerError) {
        guard let s = validatedUTF8String(bytes[start..<end]) else {
            throw .malformed(path: url.path, line: lines.count + 1, column: 0, reason: "not valid UTF-8")
        }
        lines.append(s)
    }
    while i < bytes.count {
        let b = bytes[i]
        if b == 0x0A || b == 0x0D {
            try emit(i)
            i += (b == 0x0D && i + 1 < bytes.count && bytes[i + 1] == 0x0A) ? 2 : 1
            start = i
        } else {
            i += 1
        }
    }
    if start < bytes.count { try emit(bytes.count) }
    return lines
}

// MARK: - vocab.txt

extension Tokenizer {
    init(wordPieceVocabulary url: URL, config: TokenizerConfig) throws(TokenizerError) {
        let lines = try readLines(url)
        if lines.isEmpty { throw .malformed(path: url.path, line: 1, column: 0, reason: "empty vocabulary") }
        var vocabulary = ByteKeyMap(capacity: lines.count)
        for (i, token) in lines.enumerated() {
            vocabulary.insert(Array(token.utf8), payload: Int32(i))
        }
        let names = Roles(pad: config.names.pad ?? "[PAD]", cls: config.names.cls ?? "[CLS]",
                          sep: config.names.sep ?? "[SEP]", unk: config.names.unk ?? "[UNK]",
                          mask: config.names.mask ?? "[MASK]")
        func id(_ token: String?) throws(TokenizerError) -> Int32 {
            let t = token ?? ""
            let v = vocabulary.find(Array(t.utf8))
            guard v >= 0 else { throw .missingToken(path: url.path, token: t) }
            return v
        }
        let unk = try id(names.unk), cls = try id(names.cls), sep = try id(names.sep)
        // As transformers' BertTokenizer: the special tokens are added tokens, matched in the
        // raw text before normalization.
        var added: [AddedToken] = []
        for name in [names.pad, names.unk, names.cls, names.sep, names.mask] {
            guard let name, case let v = vocabulary.find(Array(name.utf8)), v >= 0 else { continue }
            if !added.contains(where: { $0.content == name }) { added.append(AddedToken(content: name, id: v)) }
        }
        let lowercase = config.lowercase ?? true
        let options = BertNormalizerOptions(cleanText: config.cleanText ?? true,
                                            handleChineseChars: config.handleChineseChars ?? true,
                                            stripAccents: config.stripAccents, lowercase: lowercase)
        let model = WordPieceModel(vocabulary: vocabulary, unknownId: unk, maxInputCharsPerWord: 100, prefix: "##")
        self.init(normalizer: .bert(BertNormalizer(options: options)), preTokenizer: .bert, model: .wordPiece(model), vocabulary: vocabulary,
                  addedTokens: added, postProcessor: .bert(cls: cls, sep: sep),
                  decoder: .wordPiece(prefix: "##", cleanup: true), roles: names)
    }
}

// MARK: - vocab.json + merges.txt

/// Reads a flat JSON object of token → id, checking each id (with its line on error).
func readVocabularyJSON(_ url: URL) throws(TokenizerError) -> ByteKeyMap {
    let bytes = try readFile(url)
    let entries: [(key: String, value: JSONValue, offset: Int)]
    do {
        entries = try JSONParser.parseObjectEntries(bytes)
    } catch {
        throw .malformed(path: url.path, line: error.line, column: error.column, reason: error.reason)
    }
    var vocabulary = ByteKeyMap(capacity: entries.count)
    for e in entries {
        guard let id = e.value.int, id >= 0, id < Int(Int32.max) else {
            let (line, column) = lineAndColumn(of: bytes, offset: e.offset)
            throw .malformed(path: url.path, line: line, column: column,
                             reason: "the id of \(e.key.debugDescription) is not a non-negative integer")
        }
        vocabulary.insert(Array(e.key.utf8), payload: Int32(id))
    }
    return vocabulary
}

/// The merges of a `merges.txt`, each with its 1-based line.
func readMerges(_ url: URL) throws(TokenizerError) -> [(left: String, right: String, line: Int)] {
    let lines = try readLines(url)
    var merges: [(String, String, Int)] = []
    merges.reserveCapacity(lines.count)
    for (i, line) in lines.enumerated() {
        if line.hasPrefix("#version") { continue }
        let parts = line.split(separator: " ", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
            throw .malformed(path: url.path, line: i + 1, column: 0,
                             reason: "a merge is two tokens separated by one space, found \(line.debugDescription)")
        }
        merges.append((String(parts[0]), String(parts[1]), i + 1))
    }
    return merges
}

/// Builds the merge table; a token missing from the vocabulary is an error at its line.
func buildMerges(_ merges: [(left: String, right: String, line: Int)], vocabulary: ByteKeyMap,
                 path: String) throws(TokenizerError) -> MergeTable {
    var table = MergeTable(capacity: merges.count)
    for (rank, m) in merges.enumerated() {
        let a = vocabulary.find(Array(m.left.utf8)), b = vocabulary.find(Array(m.right.utf8))
        let merged = vocabulary.find(Array((m.left + m.right).utf8))
        for (token, id) in [(m.left, a), (m.right, b), (m.left + m.right, merged)] where id < 0 {
            throw .malformed(path: path, line: m.line, column: 0,
                             reason: "merge token \(token.debugDescription) is not in the vocabulary")
        }
        table.insert(left: a, right: b, rank: Int32(rank), merged: merged)
    }
    return table
}

/// Ids of the 256 one-byte tokens of a byte-level vocabulary.
func byteLevelIds(_ vocabulary: ByteKeyMap) -> [Int32] {
    ByteLevelAlphabet.characters.map { v in
        var key: [UInt8] = []
        appendUTF8(v, to: &key)
        return vocabulary.find(key)
    }
}

extension Tokenizer {
    init(bpeVocabulary vocabURL: URL, merges mergesURL: URL, config: TokenizerConfig) throws(TokenizerError) {
        let vocabulary = try readVocabularyJSON(vocabURL)
        let merges = try buildMerges(try readMerges(mergesURL), vocabulary: vocabulary, path: mergesURL.path)
        func has(_ t: String) -> Bool { vocabulary.find(Array(t.utf8)) >= 0 }
        let roberta = config.tokenizerClass.map { $0.lowercased().contains("roberta") } ?? (has("<s>") && has("</s>"))
        var names = config.names
        var added: [AddedToken] = []
        let post: PostProcessor
        if roberta {
            names = Roles(pad: names.pad ?? "<pad>", cls: names.cls ?? "<s>", sep: names.sep ?? "</s>",
                          unk: names.unk ?? "<unk>", mask: names.mask ?? "<mask>")
            let cls = vocabulary.find(Array((names.cls ?? "").utf8)), sep = vocabulary.find(Array((names.sep ?? "").utf8))
            guard cls >= 0 else { throw .missingToken(path: vocabURL.path, token: names.cls ?? "") }
            guard sep >= 0 else { throw .missingToken(path: vocabURL.path, token: names.sep ?? "") }
            post = .roberta(cls: cls, sep: sep)
            // transformers' RobertaTokenizer order: <s>, <pad>, </s>, <unk>, <mask>.
            for name in [names.cls, names.pad, names.sep, names.unk, names.mask] {
                guard let name, case let v = vocabulary.find(Array(name.utf8)), v >= 0,
                      !added.contains(where: { $0.content == name }) else { continue }
                added.append(AddedToken(content: name, id: v))
            }
        } else {
            let eos = "<|endoftext|>"
            names = Roles(pad: names.pad, cls: names.cls, sep: names.sep, unk: names.unk ?? eos, mask: names.mask)
            post = .withoutSpecialTokens
            let v = vocabulary.find(Array(eos.utf8))
            if v >= 0 { added.append(AddedToken(content: eos, id: v)) }
        }
        let model = BytePairModel(vocabulary: vocabulary, merges: merges, byteIds: byteLevelIds(vocabulary),
                                  unknownId: nil, ignoreMerges: false)
        self.init(normalizer: nil, preTokenizer: .byteLevel(addPrefixSpace: config.addPrefixSpace ?? false, useRegex: true),
                  model: .bytePair(model), vocabulary: vocabulary, addedTokens: added, postProcessor: post,
                  decoder: .byteLevel, roles: names)
    }
}

// MARK: - tokenizer.json

extension Tokenizer {
    init(tokenizerJSON url: URL, config: TokenizerConfig) throws(TokenizerError) {
        let bytes = try readFile(url)
        let path = url.path
        let root: JSONValue
        do {
            root = try JSONParser.parse(bytes)
        } catch {
            throw .malformed(path: path, line: error.line, column: error.column, reason: error.reason)
        }
        guard case .object = root else { throw .malformed(path: path, line: 1, column: 1, reason: "expected a JSON object") }
        /// A semantic error, located at the first line that mentions `key`.
        func bad(_ reason: String, at key: String) -> TokenizerError {
            .malformed(path: path, line: lineOfKey(key, in: bytes), column: 0, reason: reason)
        }

        let file = TokenizerJSONFile(path: path, bytes: bytes)

        // Model.
        guard let modelJSON = root["model"], case .object = modelJSON else { throw bad("no \"model\" object", at: "model") }
        let modelType = modelJSON["type"]?.string
            ?? (modelJSON["merges"] != nil ? "BPE" : modelJSON["vocab"]?.array != nil ? "Unigram" : "WordPiece")
        var vocabulary: ByteKeyMap
        var unkName = modelJSON["unk_token"]?.string
        var unigram: (model: UnigramModel, pieces: [String])? = nil
        if modelType == "Unigram" {
            let u = try readUnigramModel(modelJSON, file: file)
            unigram = u
            vocabulary = u.0.vocabulary
            unkName = u.1[Int(u.0.unknownId)]
        } else {
            guard let vocabJSON = modelJSON["vocab"]?.object else { throw bad("no model.vocab object", at: "vocab") }
            vocabulary = ByteKeyMap(capacity: vocabJSON.count)
            for (token, value) in vocabJSON {
                guard let id = value.int, id >= 0, id < Int(Int32.max) else {
                    throw bad("model.vocab: the id of \(token.debugDescription) is not a non-negative integer", at: token)
                }
                vocabulary.insert(Array(token.utf8), payload: Int32(id))
            }
        }

        // Added tokens.
        var added: [AddedToken] = []
        for t in root["added_tokens"]?.array ?? [] {
            guard let content = t["content"]?.string, let id = t["id"]?.int, id >= 0, id < Int(Int32.max) else {
                throw bad("added_tokens: an entry without content or id", at: "added_tokens")
            }
            added.append(AddedToken(content: content, id: Int32(id), special: t["special"]?.bool ?? false,
                                    singleWord: t["single_word"]?.bool ?? false, lstrip: t["lstrip"]?.bool ?? false,
                                    rstrip: t["rstrip"]?.bool ?? false, normalized: t["normalized"]?.bool ?? false))
        }

        // Normalizer.
        var normalizer: TextNormalizer? = nil
        if let n = root["normalizer"], !n.isNull {
            if n["type"]?.string == "BertNormalizer" {
                let lowercase = n["lowercase"]?.bool ?? true
                normalizer = .bert(BertNormalizer(options: BertNormalizerOptions(
                    cleanText: n["clean_text"]?.bool ?? true, handleChineseChars: n["handle_chinese_chars"]?.bool ?? true,
                    stripAccents: n["strip_accents"]?.bool, lowercase: lowercase)))
            } else {
                normalizer = .sentencePiece(try readSentencePieceNormalizer(n, file: file))
            }
        }

        // Pre-tokenizer.
        var preTokenizer = PreTokenizerKind.wholeText
        if let p = root["pre_tokenizer"], !p.isNull {
            switch p["type"]?.string {
            case "BertPreTokenizer":
                preTokenizer = .bert
            case "ByteLevel":
                preTokenizer = .byteLevel(addPrefixSpace: p["add_prefix_space"]?.bool ?? true,
                                          useRegex: p["use_regex"]?.bool ?? true)
            case "Metaspace", "Sequence":
                preTokenizer = .metaspace(try readMetaspacePreTokenizer(p, file: file))
            case let other:
                throw .unsupported(path: path, feature: "pre_tokenizer \(other ?? "?") (supported: BertPreTokenizer, ByteLevel, Metaspace, Sequence of [WhitespaceSplit,] Metaspace)")
            }
        }
        if case .metaspace(let m) = preTokenizer {
            switch normalizer {
            case nil:
                // One code path for SentencePiece splits: an empty step list normalizes nothing.
                normalizer = .sentencePiece(SentencePieceNormalizer(steps: []))
            case .bert where m.prependScheme == .first:
                throw .unsupported(path: path, feature: "Metaspace prepend_scheme \"first\" after BertNormalizer")
            case .sentencePiece(let n) where m.prependScheme == .first && n.steps.contains(where: { if case .nfc = $0 { true } else { false } }):
                throw .unsupported(path: path, feature: "Metaspace prepend_scheme \"first\" after an NFC normalizer")
            default:
                break
            }
        }

        // Model object.
        let model: TokenModel
        switch modelType {
        case "WordPiece":
            let prefix = modelJSON["continuing_subword_prefix"]?.string ?? "##"
            let unk = vocabulary.find(Array((unkName ?? "[UNK]").utf8))
            guard unk >= 0 else { throw .missingToken(path: path, token: unkName ?? "[UNK]") }
            model = .wordPiece(WordPieceModel(vocabulary: vocabulary, unknownId: unk,
                                              maxInputCharsPerWord: modelJSON["max_input_chars_per_word"]?.int ?? 100,
                                              prefix: prefix))
        case "BPE":
            guard case .byteLevel = preTokenizer else {
                throw .unsupported(path: path, feature: "BPE without the ByteLevel pre-tokenizer")
            }
            for key in ["continuing_subword_prefix", "end_of_word_suffix"] {
                if let s = modelJSON[key]?.string, !s.isEmpty { throw .unsupported(path: path, feature: "BPE \(key)") }
            }
            if modelJSON["byte_fallback"]?.bool == true { throw .unsupported(path: path, feature: "BPE byte_fallback") }
            var merges: [(left: String, right: String, line: Int)] = []
            let mergesLine = lineOfKey("merges", in: bytes)
            for (i, m) in (modelJSON["merges"]?.array ?? []).enumerated() {
                if let s = m.string {
                    let parts = s.split(separator: " ", omittingEmptySubsequences: false)
                    guard parts.count == 2 else { throw bad("model.merges[\(i)]: \(s.debugDescription) is not two tokens", at: "merges") }
                    merges.append((String(parts[0]), String(parts[1]), mergesLine))
                } else if let pair = m.array, pair.count == 2, let a = pair[0].string, let b = pair[1].string {
                    merges.append((a, b, mergesLine))
                } else {
                    throw bad("model.merges[\(i)] is neither \"a b\" nor [\"a\", \"b\"]", at: "merges")
                }
            }
            let table = try buildMerges(merges, vocabulary: vocabulary, path: path)
            var unk: Int32? = nil
            if let unkName {
                let v = vocabulary.find(Array(unkName.utf8))
                guard v >= 0 else { throw .missingToken(path: path, token: unkName) }
                unk = v
            }
            model = .bytePair(BytePairModel(vocabulary: vocabulary, merges: table, byteIds: byteLevelIds(vocabulary),
                                            unknownId: unk, ignoreMerges: modelJSON["ignore_merges"]?.bool ?? false))
        case "Unigram":
            if case .byteLevel = preTokenizer { throw .unsupported(path: path, feature: "Unigram with the ByteLevel pre-tokenizer") }
            guard let unigram else { throw bad("no Unigram vocabulary", at: "vocab") }
            model = .unigram(unigram.model)
        default:
            throw .unsupported(path: path, feature: "model \(modelType) (supported: WordPiece, BPE, Unigram)")
        }

        // Post-processor.
        func tokenId(_ v: JSONValue?) -> (String, Int32)? {
            guard let a = v?.array, a.count == 2, let s = a[0].string, let id = a[1].int else { return nil }
            return (s, Int32(id))
        }
        var post = PostProcessor.withoutSpecialTokens
        var names = config.names
        func parseProcessor(_ p: JSONValue) throws(TokenizerError) {
            switch p["type"]?.string {
            case "BertProcessing", "RobertaProcessing":
                guard let (clsName, cls) = tokenId(p["cls"]), let (sepName, sep) = tokenId(p["sep"]) else {
                    throw bad("post_processor: cls/sep must be [token, id]", at: "post_processor")
                }
                post = p["type"]?.string == "BertProcessing" ? .bert(cls: cls, sep: sep) : .roberta(cls: cls, sep: sep)
                names.cls = names.cls ?? clsName
                names.sep = names.sep ?? sepName
            case "TemplateProcessing":
                var specials: [String: [Int32]] = [:]
                for (name, v) in p["special_tokens"]?.object ?? [:] {
                    specials[name] = (v["ids"]?.array ?? []).compactMap { $0.int.map(Int32.init) }
                }
                func template(_ key: String) throws(TokenizerError) -> [PostProcessor.Item] {
                    var items: [PostProcessor.Item] = []
                    for item in p[key]?.array ?? [] {
                        if let s = item["SpecialToken"] {
                            guard let name = s["id"]?.string, let ids = specials[name] else {
                                throw bad("post_processor.\(key): unknown special token", at: "post_processor")
                            }
                            items.append(.special(ids: ids, typeId: Int32(s["type_id"]?.int ?? 0)))
                        } else if let s = item["Sequence"] {
                            items.append(.sequence(isFirst: s["id"]?.string != "B", typeId: Int32(s["type_id"]?.int ?? 0)))
                        } else {
                            throw bad("post_processor.\(key): items are SpecialToken or Sequence", at: "post_processor")
                        }
                    }
                    return items
                }
                post = PostProcessor(single: try template("single"), pair: try template("pair"))
                // Roles: the first and last special tokens of the single template.
                let specialNames: [String] = (p["single"]?.array ?? []).compactMap { $0["SpecialToken"]?["id"]?.string }
                if specialNames.count >= 2 {
                    names.cls = names.cls ?? specialNames.first
                    names.sep = names.sep ?? specialNames.last
                }
            case "ByteLevel":
                break  // offsets only
            case "Sequence":
                for q in p["processors"]?.array ?? [] { try parseProcessor(q) }
            case let other:
                throw .unsupported(path: path, feature: "post_processor \(other ?? "?")")
            }
        }
        if let p = root["post_processor"], !p.isNull { try parseProcessor(p) }

        // Decoder.
        var decoder = TokenDecoder.spaceSeparated
        if let d = root["decoder"], !d.isNull {
            switch d["type"]?.string {
            case "WordPiece": decoder = .wordPiece(prefix: d["prefix"]?.string ?? "##", cleanup: d["cleanup"]?.bool ?? true)
            case "ByteLevel": decoder = .byteLevel
            case let other:
                guard let steps = try readDecoderSteps(d, file: file) else {
                    throw .unsupported(path: path, feature: "decoder \(other ?? "?")")
                }
                decoder = .steps(steps)
            }
        }

        // Remaining roles by the usual names.
        func present(_ candidates: [String]) -> String? {
            candidates.first { c in added.contains { $0.content == c } || vocabulary.find(Array(c.utf8)) >= 0 }
        }
        names.unk = names.unk ?? unkName ?? present(["[UNK]", "<unk>"])
        names.pad = names.pad ?? root["padding"]?["pad_token"]?.string ?? present(["[PAD]", "<pad>"])
        names.mask = names.mask ?? present(["[MASK]", "<mask>"])
        names.cls = names.cls ?? present(["[CLS]", "<s>"])
        names.sep = names.sep ?? present(["[SEP]", "</s>"])
        self.init(normalizer: normalizer, preTokenizer: preTokenizer, model: model, vocabulary: vocabulary,
                  pieces: unigram?.pieces, addedTokens: added, postProcessor: post, decoder: decoder, roles: names)
    }
}
