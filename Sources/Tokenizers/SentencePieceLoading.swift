// Reading the SentencePiece parts of tokenizer.json: the Unigram model, the Precompiled / Replace /
// Strip normalizers, the Metaspace pre-tokenizer and the SentencePiece decoders.

import Foundation
import JSONText

/// A `tokenizer.json` being read: its path and bytes, for errors that name the line.
struct TokenizerJSONFile {
    let path: String
    let bytes: [UInt8]

    /// A semantic error, located at the first line that mentions `key` as a key.
    func bad(_ reason: String, at key: String) -> TokenizerError {
        .malformed(path: path, line: lineOfKey(key, in: bytes), column: 0, reason: reason)
    }

    func unsupported(_ feature: String) -> TokenizerError {
        .unsupported(path: path, feature: feature)
    }

    /// The 1-based line of element `index` of the array under the key `key` (the first
    /// `"key":` followed by an array), or the key's line when the array cannot be walked.
    func lineOfElement(_ index: Int, ofArray key: String) -> Int {
        let needle = Array("\"\(key)\"".utf8)
        var i = 0
        let b = bytes
        func skipSpace() { while i < b.count, b[i] == 0x20 || b[i] == 0x0A || b[i] == 0x0D || b[i] == 0x09 { i += 1 } }
        search: while i + needle.count <= b.count {
            if b[i] == needle[0], b[i..<(i + needle.count)].elementsEqual(needle) {
                i += needle.count
                skipSpace()
                guard i < b.count, b[i] == UInt8(ascii: ":") else { continue search }
                i += 1
                skipSpace()
                guard i < b.count, b[i] == UInt8(ascii: "[") else { continue search }
                i += 1
                // Walk the elements at depth 1.
                var element = 0
                var depth = 0
                skipSpace()
                var elementStart = i
                while i < b.count {
                    let c = b[i]
                    if c == UInt8(ascii: "\"") {
                        i += 1
                        while i < b.count, b[i] != UInt8(ascii: "\"") { i += b[i] == UInt8(ascii: "\\") ? 2 : 1 }
                    } else if c == UInt8(ascii: "[") || c == UInt8(ascii: "{") {
                        depth += 1
                    } else if c == UInt8(ascii: "]") || c == UInt8(ascii: "}") {
                        if depth == 0 { break }
                        depth -= 1
                    } else if c == UInt8(ascii: ","), depth == 0 {
                        if element == index { break }
                        element += 1
                        i += 1
                        skipSpace()
                        elementStart = i
                        continue
                    }
                    i += 1
                }
                if element == index { return lineAndColumn(of: b, offset: elementStart).line }
                break
            }
            i += 1
        }
        return lineOfKey(key, in: b)
    }
}

// MARK: - Unigram

/// Reads a `"type": "Unigram"` model: `vocab` as `[[piece, score], …]` (scores read as the
/// Rust library reads them), `unk_id`, `byte_fallback`. Returns the model and the piece of each id.
func readUnigramModel(_ model: JSONValue, file: TokenizerJSONFile) throws(TokenizerError) -> (UnigramModel, [String]) {
    guard let entries = model["vocab"]?.array else {
        throw file.bad("model.vocab of a Unigram model must be an array of [piece, score]", at: "vocab")
    }
    guard !entries.isEmpty else { throw file.bad("model.vocab is empty (a Unigram model needs at least <unk>)", at: "vocab") }
    var pieces: [(piece: String, score: Double)] = []
    pieces.reserveCapacity(entries.count)
    for (i, e) in entries.enumerated() {
        guard let pair = e.array, pair.count == 2, let piece = pair[0].string, case .number(let score) = pair[1] else {
            throw TokenizerError.malformed(path: file.path, line: file.lineOfElement(i, ofArray: "vocab"), column: 0,
                                           reason: "model.vocab[\(i)] is not [piece, score]")
        }
        pieces.append((piece, serdeJSONDouble(score)))
    }
    guard let unk = model["unk_id"], !unk.isNull else {
        // Without it the Rust library fails on the first unknown character.
        throw file.unsupported("Unigram model without unk_id")
    }
    guard let unkId = unk.int, unkId >= 0, unkId < pieces.count else {
        throw file.bad("model.unk_id \(unk.int.map(String.init) ?? "(not an integer)") is out of range: the vocabulary has \(pieces.count) pieces",
                       at: "unk_id")
    }
    var byteFallback = false
    if let b = model["byte_fallback"], !b.isNull {
        guard let v = b.bool else { throw file.bad("model.byte_fallback must be true or false", at: "byte_fallback") }
        byteFallback = v
    }
    return (UnigramModel(pieces: pieces, unknownId: Int32(unkId), byteFallback: byteFallback), pieces.map(\.piece))
}

// MARK: - Normalizers

/// Reads a normalizer made of SentencePiece-style steps: `Precompiled`, `Replace`, `Strip`, or a
/// `Sequence` of them.
func readSentencePieceNormalizer(_ n: JSONValue, file: TokenizerJSONFile) throws(TokenizerError) -> SentencePieceNormalizer {
    var steps: [NormalizerStep] = []
    func add(_ n: JSONValue) throws(TokenizerError) {
        switch n["type"]?.string {
        case "Sequence":
            guard let list = n["normalizers"]?.array else { throw file.bad("normalizer Sequence without normalizers", at: "normalizers") }
            for m in list { try add(m) }
        case "Precompiled":
            guard let text = n["precompiled_charsmap"]?.string else {
                throw file.bad("normalizer Precompiled: precompiled_charsmap must be a base64 string", at: "precompiled_charsmap")
            }
            guard let data = Data(base64Encoded: text) else {
                throw file.bad("normalizer Precompiled: precompiled_charsmap is not valid base64", at: "precompiled_charsmap")
            }
            do {
                steps.append(.precompiled(try PrecompiledCharsMap(bytes: [UInt8](data))))
            } catch {
                let reason: String
                switch error {
                case .tooShort(let needed, let have): reason = "the charsmap has \(have) bytes, its trie header needs \(needed)"
                case .emptyTrie: reason = "the charsmap's trie is empty"
                case .poolNotUTF8: reason = "the charsmap's normalized strings are not UTF-8"
                }
                throw file.bad("normalizer Precompiled: malformed precompiled_charsmap: \(reason)", at: "precompiled_charsmap")
            }
        case "Replace":
            guard let content = n["content"]?.string else { throw file.bad("normalizer Replace without content", at: "content") }
            let pattern = try readReplacePattern(n["pattern"], file: file, what: "normalizer")
            let needle: [UInt32]
            switch pattern {
            case .literal(let text), .prefix(let text): needle = text.unicodeScalars.map(\.value)
            case .spaceRuns, .outerSpaces: needle = []
            }
            steps.append(.replace(pattern, needle: needle, content: content.unicodeScalars.map(\.value)))
        case "NFC":
            steps.append(.nfc)
        case "Strip":
            guard let left = n["strip_left"]?.bool, let right = n["strip_right"]?.bool else {
                throw file.bad("normalizer Strip needs strip_left and strip_right", at: "strip_left")
            }
            steps.append(.strip(left: left, right: right))
        case let other:
            throw file.unsupported("normalizer \(other ?? "?") (supported: BertNormalizer alone, or Precompiled, Replace, Strip and NFC, alone or in a Sequence)")
        }
    }
    try add(n)
    return SentencePieceNormalizer(steps: steps)
}

/// A `Replace` pattern: `{"String": s}`, or `{"Regex": r}` for the expressions transformers
/// writes (` {2,}`, `\A +| +\z`, `\A` + literal text).
func readReplacePattern(_ p: JSONValue?, file: TokenizerJSONFile, what: String) throws(TokenizerError) -> ReplacePattern {
    if let s = p?["String"]?.string {
        guard !s.isEmpty else { throw file.unsupported("\(what) Replace with an empty pattern") }
        return .literal(s)
    }
    guard let r = p?["Regex"]?.string else { throw file.bad("\(what) Replace: pattern must be {\"String\": …} or {\"Regex\": …}", at: "pattern") }
    switch r {
    case " {2,}": return .spaceRuns
    case "\\A +| +\\z": return .outerSpaces
    default:
        let metacharacters = Set("\\^$.|?*+()[]{}")
        if r.hasPrefix("\\A"), r.count > 2, !r.dropFirst(2).contains(where: { metacharacters.contains($0) }) {
            return .prefix(String(r.dropFirst(2)))
        }
        throw file.unsupported("\(what) Replace with the regex \(r.debugDescription) (supported: \" {2,}\", \"\\\\A +| +\\\\z\", \"\\\\A\" + literal text)")
    }
}

// MARK: - Pre-tokenizer

/// Reads `Metaspace`, or a `Sequence` of `[Metaspace]` or `[WhitespaceSplit, Metaspace]`.
func readMetaspacePreTokenizer(_ p: JSONValue, file: TokenizerJSONFile) throws(TokenizerError) -> MetaspaceOptions {
    if p["type"]?.string == "Metaspace" { return try readMetaspace(p, file: file) }
    let list = p["pretokenizers"]?.array ?? []
    let types = list.map { $0["type"]?.string ?? "?" }
    switch types {
    case ["Metaspace"]:
        return try readMetaspace(list[0], file: file)
    case ["WhitespaceSplit", "Metaspace"]:
        var m = try readMetaspace(list[1], file: file)
        m.whitespaceSplit = true
        return m
    default:
        throw file.unsupported("pre_tokenizer Sequence \(types) (supported: [Metaspace], [WhitespaceSplit, Metaspace])")
    }
}

/// Metaspace's fields as the Rust deserializer reads them (`add_prefix_space` of older files
/// included): `replacement`, `prepend_scheme` (default "always"), `split` (default true).
func readMetaspace(_ p: JSONValue, file: TokenizerJSONFile) throws(TokenizerError) -> MetaspaceOptions {
    guard let r = p["replacement"]?.string, r.unicodeScalars.count == 1, let replacement = r.unicodeScalars.first else {
        throw file.bad("Metaspace: replacement must be one character", at: "replacement")
    }
    var scheme = PrependScheme.always
    if let s = p["prepend_scheme"], !s.isNull {
        guard let name = s.string, let v = PrependScheme(rawValue: name) else {
            throw file.unsupported("Metaspace prepend_scheme \(s.string.map { $0.debugDescription } ?? "(not a string)") (supported: always, first, never)")
        }
        scheme = v
    }
    if p["add_prefix_space"]?.bool == false {
        guard scheme == .never else {
            throw file.bad("Metaspace: add_prefix_space false does not match prepend_scheme \(scheme.rawValue)", at: "add_prefix_space")
        }
    }
    return MetaspaceOptions(replacement: replacement, prependScheme: scheme, split: p["split"]?.bool ?? true)
}

// MARK: - Decoders

/// Reads the SentencePiece decoders: `Metaspace`, `Replace`, `ByteFallback`, `Fuse`, `Strip`,
/// alone or in a `Sequence`; nil for another type.
func readDecoderSteps(_ d: JSONValue, file: TokenizerJSONFile) throws(TokenizerError) -> [DecoderStep]? {
    func step(_ d: JSONValue) throws(TokenizerError) -> DecoderStep? {
        switch d["type"]?.string {
        case "Metaspace":
            let m = try readMetaspace(d, file: file)
            return .metaspace(replacement: m.replacement, prependScheme: m.prependScheme)
        case "Replace":
            guard case .literal(let pattern) = try readReplacePattern(d["pattern"], file: file, what: "decoder") else {
                throw file.unsupported("decoder Replace with a regex pattern")
            }
            guard let content = d["content"]?.string else { throw file.bad("decoder Replace without content", at: "content") }
            return .replace(pattern: pattern, content: content)
        case "ByteFallback":
            return .byteFallback
        case "Fuse":
            return .fuse
        case "Strip":
            guard let c = d["content"]?.string, c.unicodeScalars.count == 1, let content = c.unicodeScalars.first,
                  let start = d["start"]?.int, let stop = d["stop"]?.int, start >= 0, stop >= 0 else {
                throw file.bad("decoder Strip needs a one-character content and non-negative start and stop", at: "stop")
            }
            return .strip(content: content, start: start, stop: stop)
        default:
            return nil
        }
    }
    if d["type"]?.string == "Sequence" {
        var steps: [DecoderStep] = []
        for (i, item) in (d["decoders"]?.array ?? []).enumerated() {
            guard let s = try step(item) else {
                throw file.unsupported("decoder \(item["type"]?.string ?? "?") in a decoder Sequence (item \(i))")
            }
            steps.append(s)
        }
        return steps
    }
    return try step(d).map { [$0] }
}
