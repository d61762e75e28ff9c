import Foundation
import TestSupport
@testable import Tokenizers
import XCTest

/// Loading SentencePiece Unigram tokenizers: special-token roles of the XLM-R and CamemBERT
/// fixtures, and typed errors (file and line) for malformed or unsupported `tokenizer.json` parts.
final class UnigramLoadingTests: XCTestCase {
    private func expectError(_ expected: (TokenizerError) -> Bool, _ what: String,
                             file: StaticString = #filePath, line: UInt = #line, json: String) throws {
        let dir = try directory(with: ["tokenizer.json": json])
        defer { try? FileManager.default.removeItem(at: dir) }
        do {
            _ = try loadTokenizer(directory: dir)
            XCTFail("\(what): loaded without error", file: file, line: line)
        } catch {
            XCTAssertTrue(expected(error), "\(what): unexpected error \(error)", file: file, line: line)
            XCTAssertTrue(error.description.contains("tokenizer.json"), "\(what): \(error) names the file", file: file, line: line)
        }
    }

    /// A small valid Unigram tokenizer.json; `model`, `normalizer`, `pre` and `decoder` replace its parts.
    private func json(model: String? = nil, normalizer: String = "null", pre: String = "null", decoder: String = "null") -> String {
        let m = model ?? """
            {"type": "Unigram", "unk_id": 0, "byte_fallback": false, "vocab": [
              ["<unk>", 0.0],
              ["\u{2581}a", -1.0],
              ["b", -2.0]
            ]}
            """
        return """
            {
              "version": "1.0",
              "added_tokens": [],
              "normalizer": \(normalizer),
              "pre_tokenizer": \(pre),
              "post_processor": null,
              "decoder": \(decoder),
              "model": \(m)
            }
            """
    }

    func testXLMRFixtureRolesAndPipeline() throws {
        guard let dir = UnigramFixtures.fileDirectory("tiny_xlmr") else { return }
        let t = try loadTokenizer(directory: dir)
        XCTAssertEqual(t.vocabularySize, 1502)
        XCTAssertEqual([t.clsTokenId, t.padTokenId, t.sepTokenId, t.unkTokenId, t.maskTokenId], [0, 1, 2, 3, 1501])
        XCTAssertEqual(t.preTokenizer, .metaspace(MetaspaceOptions(prependScheme: .always, split: true, whitespaceSplit: true)))
        XCTAssertNil(t.normalizerOptions)
        let e = t.encode("Hello world", pair: "Bye", maxLength: nil)
        XCTAssertEqual(Array(e.ids.prefix(1)), [0])
        XCTAssertEqual(e.ids.filter { $0 == 2 }.count, 3, "<s> A </s></s> B </s>")
        XCTAssertEqual(e.typeIds, Array(repeating: 0, count: e.count))
        XCTAssertEqual(t.decode(e.ids, skipSpecialTokens: true), "Hello world Bye")
        XCTAssertEqual(t.id(for: "\u{2581}the"), 6)
        XCTAssertEqual(t.token(for: 6), "\u{2581}the")
    }

    func testCamemBERTFixtureRoles() throws {
        guard let dir = UnigramFixtures.fileDirectory("tiny_camembert") else { return }
        let t = try loadTokenizer(directory: dir)
        XCTAssertEqual([t.clsTokenId, t.padTokenId, t.sepTokenId, t.unkTokenId, t.maskTokenId], [5, 1, 6, 3, 1504])
        XCTAssertEqual(t.token(for: 0), "<s>NOTUSED")
        // <mask> has lstrip: the space before it is part of the token.
        XCTAssertEqual(t.encode("a <mask>").ids, t.encode("a<mask>").ids)
    }

    func testLegacyMetaspaceFields() throws {
        let dir = try directory(with: ["tokenizer.json": json(
            pre: #"{"type": "Metaspace", "replacement": "\u2581", "add_prefix_space": true, "str_rep": "\u2581"}"#)])
        defer { try? FileManager.default.removeItem(at: dir) }
        let t = try loadTokenizer(directory: dir)
        XCTAssertEqual(t.preTokenizer, .metaspace(MetaspaceOptions()))
        XCTAssertEqual(t.encode("ab").ids, [1, 2])
    }

    func testMalformedCharsmap() throws {
        func precompiled(_ bytes: [UInt8]) -> String {
            json(normalizer: "{\"type\": \"Precompiled\", \"precompiled_charsmap\": \"\(Data(bytes).base64EncodedString())\"}")
        }
        let isCharsmapError: (TokenizerError) -> Bool = {
            if case .malformed(_, let line, _, let reason) = $0 { return line == 4 && reason.contains("precompiled_charsmap") }
            return false
        }
        try expectError(isCharsmapError, "not base64",
                        json: json(normalizer: #"{"type": "Precompiled", "precompiled_charsmap": "@@not base64@@"}"#))
        try expectError(isCharsmapError, "trie longer than the data", json: precompiled([0x10, 0, 0, 0, 1, 2, 3]))
        try expectError(isCharsmapError, "shorter than its header", json: precompiled([0x10, 0]))
        try expectError(isCharsmapError, "empty trie", json: precompiled([0, 0, 0, 0, 0x61, 0]))
        try expectError(isCharsmapError, "pool not UTF-8", json: precompiled([4, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFE, 0]))
        try expectError(isCharsmapError, "no charsmap", json: json(normalizer: #"{"type": "Precompiled", "precompiled_charsmap": null}"#))
    }

    func testVocabularyEntryThatIsNotPieceAndScore() throws {
        for (entry, what) in [(#"["b"]"#, "one element"), (#"["b", "x"]"#, "a string score"), (#"[3, -1.0]"#, "a number piece"),
                              (#"{"b": -1.0}"#, "an object")] {
            let model = """
                {"type": "Unigram", "unk_id": 0, "vocab": [
                  ["<unk>", 0.0],
                  ["\u{2581}a", -1.0],
                  \(entry)
                ]}
                """
            // The third entry is on line 11 of the file.
            try expectError({ if case .malformed(_, 11, _, let r) = $0 { return r.contains("model.vocab[2]") }; return false },
                            what, json: json(model: model))
        }
        try expectError({ if case .malformed(_, _, _, let r) = $0 { return r.contains("empty") }; return false }, "empty vocabulary",
                        json: json(model: #"{"type": "Unigram", "unk_id": 0, "vocab": []}"#))
        try expectError({ if case .malformed(_, _, _, let r) = $0 { return r.contains("array") }; return false }, "vocab object",
                        json: json(model: #"{"type": "Unigram", "unk_id": 0, "vocab": {"a": 0}}"#))
    }

    func testUnknownIdOutOfRangeOrMissing() throws {
        let model = """
            {"type": "Unigram",
             "unk_id": 3,
             "vocab": [["<unk>", 0.0], ["a", -1.0], ["b", -2.0]]}
            """
        try expectError({ if case .malformed(_, 9, _, let r) = $0 { return r.contains("unk_id 3 is out of range") }; return false },
                        "unk_id 3 of 3 pieces", json: json(model: model))
        try expectError({ if case .malformed(_, _, _, let r) = $0 { return r.contains("out of range") }; return false }, "negative unk_id",
                        json: json(model: #"{"type": "Unigram", "unk_id": -1, "vocab": [["<unk>", 0.0]]}"#))
        try expectError({ if case .unsupported(_, let f) = $0 { return f.contains("unk_id") }; return false }, "no unk_id",
                        json: json(model: #"{"type": "Unigram", "unk_id": null, "vocab": [["<unk>", 0.0]]}"#))
    }

    func testUnsupportedParts() throws {
        func isUnsupported(_ needle: String) -> (TokenizerError) -> Bool {
            { if case .unsupported(_, let f) = $0 { return f.contains(needle) }; return false }
        }
        try expectError(isUnsupported("regex"), "other Replace regex",
                        json: json(normalizer: #"{"type": "Replace", "pattern": {"Regex": "\\s+"}, "content": " "}"#))
        try expectError(isUnsupported("NFKC"), "NFKC in a sequence",
                        json: json(normalizer: #"{"type": "Sequence", "normalizers": [{"type": "NFKC"}]}"#))
        try expectError(isUnsupported("prepend_scheme"), "unknown prepend_scheme",
                        json: json(pre: #"{"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "sometimes"}"#))
        try expectError(isUnsupported("Sequence"), "WhitespaceSplit alone",
                        json: json(pre: #"{"type": "Sequence", "pretokenizers": [{"type": "WhitespaceSplit"}]}"#))
        try expectError(isUnsupported("ByteLevel"), "Unigram after ByteLevel",
                        json: json(pre: #"{"type": "ByteLevel", "add_prefix_space": false}"#))
        try expectError(isUnsupported("decoder"), "CTC decoder in a sequence",
                        json: json(decoder: #"{"type": "Sequence", "decoders": [{"type": "CTC"}]}"#))
        try expectError({ if case .malformed(_, _, _, let r) = $0 { return r.contains("add_prefix_space") }; return false },
                        "add_prefix_space false with prepend_scheme always",
                        json: json(pre: #"{"type": "Metaspace", "replacement": "\u2581", "add_prefix_space": false, "prepend_scheme": "always"}"#))
    }
}
