import Foundation
import TestSupport
@testable import Tokenizers
import XCTest

/// Loader detection, special-token roles, and typed errors for missing or malformed files.
final class LoadingTests: XCTestCase {
    private func expectError(_ expected: (TokenizerError) -> Bool, _ what: String,
                             file: StaticString = #filePath, line: UInt = #line,
                             _ body: () throws -> Tokenizer) {
        do {
            _ = try body()
            XCTFail("\(what): loaded without error", file: file, line: line)
        } catch let error as TokenizerError {
            XCTAssertTrue(expected(error), "\(what): unexpected error \(error)", file: file, line: line)
        } catch {
            XCTFail("\(what): untyped error \(error)", file: file, line: line)
        }
    }

    func testMiniLMSpecialTokens() throws {
        guard let dir = requireResource(TestPaths.miniLMDirectory.appendingPathComponent("tokenizer.json"), hint: Hint.miniLM)?
            .deletingLastPathComponent() else { return }
        let t = try loadTokenizer(directory: dir)
        XCTAssertEqual(t.vocabularySize, 30522)
        XCTAssertEqual(t.padTokenId, 0)
        XCTAssertEqual(t.unkTokenId, 100)
        XCTAssertEqual(t.clsTokenId, 101)
        XCTAssertEqual(t.sepTokenId, 102)
        XCTAssertEqual(t.maskTokenId, 103)
        XCTAssertEqual(t.normalizerOptions, BertNormalizerOptions(lowercase: true))
        XCTAssertEqual(t.preTokenizer, .bert)
        let e = t.encode("A sentence.", pair: "Another one.", maxLength: 128)
        XCTAssertEqual(e.ids, [101, 1037, 6251, 1012, 102, 2178, 2028, 1012, 102])
        XCTAssertEqual(e.typeIds, [0, 0, 0, 0, 0, 1, 1, 1, 1])
        XCTAssertEqual(t.decode(e.ids, skipSpecialTokens: true), "a sentence. another one.")
        XCTAssertEqual(t.token(for: 7592), "hello")
        XCTAssertEqual(t.id(for: "hello"), 7592)
        XCTAssertEqual(t.id(for: "[SEP]"), 102)

        // vocab.txt alone (no tokenizer.json) gives the same roles.
        let tmp = try wordPieceDirectory(vocab: dir.appendingPathComponent("vocab.txt"), config: [:])
        defer { try? FileManager.default.removeItem(at: tmp) }
        let v = try loadTokenizer(directory: tmp)
        XCTAssertEqual([v.padTokenId, v.unkTokenId, v.clsTokenId, v.sepTokenId, v.maskTokenId], [0, 100, 101, 102, 103])
        XCTAssertEqual(v.vocabularySize, 30522)
        XCTAssertEqual(v.encode("A sentence.", pair: "Another one.", maxLength: 128), e)
    }

    func testRoBERTaSpecialTokens() throws {
        guard let dir = requireResource(TestPaths.robertaTokenizerDirectory.appendingPathComponent("vocab.json"), hint: Hint.roberta)?
            .deletingLastPathComponent() else { return }
        let t = try loadTokenizer(directory: dir)
        XCTAssertEqual(t.vocabularySize, 50265)
        XCTAssertEqual([t.clsTokenId, t.padTokenId, t.sepTokenId, t.unkTokenId, t.maskTokenId], [0, 1, 2, 3, 50264])
        XCTAssertEqual(t.preTokenizer, .byteLevel(addPrefixSpace: false, useRegex: true))
        let e = t.encode("Hello world", pair: "Bye", maxLength: nil)
        XCTAssertEqual(e.ids.first, 0)
        XCTAssertEqual(Array(e.ids.suffix(1)), [2])
        XCTAssertEqual(e.typeIds, Array(repeating: 0, count: e.count))
        XCTAssertEqual(t.decode(e.ids), "<s>Hello world</s></s>Bye</s>")
    }

    func testMissingDirectoryAndFiles() throws {
        let nowhere = URL(fileURLWithPath: "/nonexistent-\(UUID().uuidString)")
        expectError({ if case .fileNotFound(let p) = $0 { return p == nowhere.path }; return false }, "missing directory") {
            try loadTokenizer(directory: nowhere)
        }
        let empty = try directory(with: [:])
        defer { try? FileManager.default.removeItem(at: empty) }
        expectError({ if case .noTokenizerFiles = $0 { return true }; return false }, "empty directory") {
            try loadTokenizer(directory: empty)
        }
        let onlyMerges = try directory(with: ["merges.txt": "#version: 0.2\na b\n"])
        defer { try? FileManager.default.removeItem(at: onlyMerges) }
        expectError({ if case .fileNotFound(let p) = $0 { return p.hasSuffix("vocab.json") }; return false }, "merges without vocab") {
            try loadTokenizer(directory: onlyMerges)
        }
    }

    func testMalformedVocabTxt() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tok-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let vocab = dir.appendingPathComponent("vocab.txt")
        // Line 3 is not UTF-8.
        try Data("[PAD]\n[UNK]\n".utf8 + [0x61, 0xFF, 0x62, 0x0A] + "[CLS]\n[SEP]\n".utf8).write(to: vocab)
        expectError({ $0 == .malformed(path: vocab.path, line: 3, column: 0, reason: "not valid UTF-8") }, "invalid UTF-8") {
            try loadTokenizer(directory: dir)
        }
        try Data().write(to: vocab)
        expectError({ if case .malformed(_, 1, _, _) = $0 { return true }; return false }, "empty vocab.txt") {
            try loadTokenizer(directory: dir)
        }
        try Data("[PAD]\n[CLS]\n[SEP]\nhello\n".utf8).write(to: vocab)
        expectError({ $0 == .missingToken(path: vocab.path, token: "[UNK]") }, "no [UNK]") {
            try loadTokenizer(directory: dir)
        }
        // A tiny valid vocabulary works, with CRLF line endings.
        try Data("[PAD]\r\n[UNK]\r\n[CLS]\r\n[SEP]\r\nhello\r\n##s\r\n".utf8).write(to: vocab)
        let t = try loadTokenizer(directory: dir)
        XCTAssertEqual(t.encode("Hellos world").ids, [2, 4, 5, 1, 3])
        XCTAssertEqual(t.decode([2, 4, 5, 1, 3], skipSpecialTokens: true), "hellos")  // [UNK] is special too
        XCTAssertEqual(t.decode([2, 4, 5, 1, 3]), "[CLS] hellos [UNK] [SEP]")
    }

    func testMalformedVocabJSONAndMerges() throws {
        let vocabOK = #"{"a": 0, "b": 1, "ab": 2, "<s>": 3, "</s>": 4}"#
        // Syntax error on line 3.
        var dir = try directory(with: ["vocab.json": "{\n \"a\": 0,\n \"b\" 1\n}\n", "merges.txt": "#version: 0.2\na b\n"])
        expectError({ if case .malformed(let p, 3, let c, _) = $0 { return p.hasSuffix("vocab.json") && c > 0 }; return false },
                    "vocab.json syntax") { try loadTokenizer(directory: dir) }
        try? FileManager.default.removeItem(at: dir)
        // A non-integer id on line 2.
        dir = try directory(with: ["vocab.json": "{\"a\": 0,\n \"b\": 1.5}\n", "merges.txt": "a b\n"])
        expectError({ if case .malformed(let p, 2, _, _) = $0 { return p.hasSuffix("vocab.json") }; return false },
                    "vocab.json id") { try loadTokenizer(directory: dir) }
        try? FileManager.default.removeItem(at: dir)
        // merges.txt line 3 has three parts.
        dir = try directory(with: ["vocab.json": vocabOK, "merges.txt": "#version: 0.2\na b\na b ab\n"])
        expectError({ if case .malformed(let p, 3, 0, _) = $0 { return p.hasSuffix("merges.txt") }; return false },
                    "merges.txt parts") { try loadTokenizer(directory: dir) }
        try? FileManager.default.removeItem(at: dir)
        // merges.txt line 2 uses a token that is not in the vocabulary.
        dir = try directory(with: ["vocab.json": vocabOK, "merges.txt": "#version: 0.2\na c\n"])
        expectError({ if case .malformed(let p, 2, 0, let r) = $0 { return p.hasSuffix("merges.txt") && r.contains("\"c\"") }; return false },
                    "merges.txt token") { try loadTokenizer(directory: dir) }
        try? FileManager.default.removeItem(at: dir)
    }

    func testMalformedTokenizerJSON() throws {
        var dir = try directory(with: ["tokenizer.json": "{\n  \"model\": {\n    \"vocab\": {\"a\": 0,}\n  }\n}\n"])
        expectError({ if case .malformed(let p, 3, _, _) = $0 { return p.hasSuffix("tokenizer.json") }; return false },
                    "tokenizer.json syntax") { try loadTokenizer(directory: dir) }
        try? FileManager.default.removeItem(at: dir)
        dir = try directory(with: ["tokenizer.json": #"{"normalizer": {"type": "NFKC"}, "model": {"type": "WordPiece", "vocab": {"[UNK]": 0}}}"#])
        expectError({ if case .unsupported = $0 { return true }; return false }, "unsupported normalizer") {
            try loadTokenizer(directory: dir)
        }
        try? FileManager.default.removeItem(at: dir)
        dir = try directory(with: ["tokenizer.json": "{\n\"model\": {\"type\": \"WordPiece\",\n\"vocab\": {\"a\": -1}}}"])
        expectError({ if case .malformed(_, 3, _, _) = $0 { return true }; return false }, "negative id") {
            try loadTokenizer(directory: dir)
        }
        try? FileManager.default.removeItem(at: dir)
    }

    func testErrorDescriptionsNameFileAndLine() {
        XCTAssertEqual(TokenizerError.malformed(path: "/x/merges.txt", line: 7, column: 0, reason: "bad").description,
                       "/x/merges.txt:7: bad")
        XCTAssertEqual(TokenizerError.malformed(path: "/x/vocab.json", line: 2, column: 5, reason: "bad").description,
                       "/x/vocab.json:2:5: bad")
    }

    func testBERTLoaderOptionsFromTokenizerConfig() throws {
        let vocab = "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\ncafe\ncafé\nCafé\n中\n"
        let cases: [([String: Any], String, [Int32])] = [
            ([:], "Café", [2, 5, 3]),                                       // uncased: lower + strip accents
            (["do_lower_case": false], "Café", [2, 7, 3]),                  // cased, accents kept
            (["do_lower_case": true, "strip_accents": false], "Café", [2, 6, 3]),
            (["do_lower_case": false, "strip_accents": true], "café", [2, 5, 3]),
            (["tokenize_chinese_chars": false], "中中", [2, 1, 3]),
            (["tokenize_chinese_chars": true], "中中", [2, 8, 8, 3]),
        ]
        for (config, text, ids) in cases {
            let dir = try directory(with: ["vocab.txt": vocab])
            defer { try? FileManager.default.removeItem(at: dir) }
            try JSONSerialization.data(withJSONObject: config).write(to: dir.appendingPathComponent("tokenizer_config.json"))
            XCTAssertEqual(try loadTokenizer(directory: dir).encode(text).ids, ids, "\(config) \(text)")
        }
    }
}
