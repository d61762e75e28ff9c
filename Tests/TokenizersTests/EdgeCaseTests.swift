import Foundation
import TestSupport
import Tokenizers
import XCTest

/// Hand-written edge cases (accents, CJK, emoji, control characters, empty strings, runs of
/// whitespace, very long words, mojibake, numbers, apostrophes, special tokens in the text,
/// truncation ties) against full ids, type ids and decoded text from the Python reference.
final class EdgeCaseTests: XCTestCase {
    private func cases() throws -> [EdgeCaseFile.Case]? {
        guard let url = requireResource(TestPaths.fixture("tokenizers/edge_cases.json"), hint: Hint.fixtures) else { return nil }
        return try JSONDecoder().decode(EdgeCaseFile.self, from: Data(contentsOf: url)).cases
    }

    private var miniLMDirectory: URL? {
        requireResource(TestPaths.miniLMDirectory.appendingPathComponent("vocab.txt"), hint: Hint.miniLM)?
            .deletingLastPathComponent()
    }

    func testMiniLMFromTokenizerJSON() throws {
        guard let dir = miniLMDirectory, let cases = try cases() else { return }
        try check(loadTokenizer(directory: dir), reference: "minilm", cases)
    }

    func testMiniLMFromVocabTxt() throws {
        guard let dir = miniLMDirectory, let cases = try cases() else { return }
        let tmp = try wordPieceDirectory(vocab: dir.appendingPathComponent("vocab.txt"), config: ["do_lower_case": true])
        defer { try? FileManager.default.removeItem(at: tmp) }
        try check(loadTokenizer(directory: tmp), reference: "minilm", cases)
    }

    func testCasedBERTFromVocabTxt() throws {
        guard let dir = miniLMDirectory, let cases = try cases() else { return }
        let tmp = try wordPieceDirectory(vocab: dir.appendingPathComponent("vocab.txt"), config: ["do_lower_case": false])
        defer { try? FileManager.default.removeItem(at: tmp) }
        try check(loadTokenizer(directory: tmp), reference: "bert_cased", cases)
    }

    func testCasedBERTWithStripAccents() throws {
        guard let dir = miniLMDirectory, let cases = try cases() else { return }
        let tmp = try wordPieceDirectory(vocab: dir.appendingPathComponent("vocab.txt"),
                                         config: ["do_lower_case": false, "strip_accents": true])
        defer { try? FileManager.default.removeItem(at: tmp) }
        try check(loadTokenizer(directory: tmp), reference: "bert_strip", cases)
    }

    /// minilm's tokenizer.json plus a normalized added token, a single-word one and a special
    /// one with lstrip/rstrip (the entries are read from the fixture).
    func testAddedTokensFromTokenizerJSON() throws {
        guard let dir = miniLMDirectory, let cases = try cases(),
              let fixture = requireResource(TestPaths.fixture("tokenizers/edge_cases.json"), hint: Hint.fixtures) else { return }
        let header = try JSONSerialization.jsonObject(with: Data(contentsOf: fixture)) as? [String: Any]
        let extra = try XCTUnwrap(header?["bert_added_tokens"] as? [[String: Any]], "bert_added_tokens in the fixture")
        var json = try XCTUnwrap(try JSONSerialization.jsonObject(
            with: Data(contentsOf: dir.appendingPathComponent("tokenizer.json"))) as? [String: Any])
        json["added_tokens"] = (json["added_tokens"] as? [[String: Any]] ?? []) + extra
        let tmp = try directory(with: [:])
        defer { try? FileManager.default.removeItem(at: tmp) }
        try JSONSerialization.data(withJSONObject: json).write(to: tmp.appendingPathComponent("tokenizer.json"))
        let tokenizer = try loadTokenizer(directory: tmp)
        XCTAssertEqual(tokenizer.vocabularySize, 30525)
        try check(tokenizer, reference: "bert_added", cases)
    }

    func testRoBERTaFromVocabJSONAndMerges() throws {
        guard let dir = requireResource(TestPaths.robertaTokenizerDirectory.appendingPathComponent("vocab.json"), hint: Hint.roberta)?
            .deletingLastPathComponent(), let cases = try cases() else { return }
        try check(loadTokenizer(directory: dir), reference: "roberta", cases)
    }

    func testTinyByteLevelBPEFromTokenizerJSON() throws {
        guard let dir = requireResource(TestPaths.fixture("tokenizers/tiny-bpe/tokenizer.json"), hint: Hint.fixtures)?
            .deletingLastPathComponent(), let cases = try cases() else { return }
        try check(loadTokenizer(directory: dir), reference: "tiny_bpe", cases)
    }

    /// A vocab.json without `<s>` and `</s>` (and no tokenizer config) loads as GPT-2: no
    /// special tokens added, the second sequence of a pair with type id 1.
    func testTinyGPT2FromVocabJSONAndMerges() throws {
        guard let dir = requireResource(TestPaths.fixture("tokenizers/tiny-gpt2/vocab.json"), hint: Hint.fixtures)?
            .deletingLastPathComponent(), let cases = try cases() else { return }
        let tokenizer = try loadTokenizer(directory: dir)
        XCTAssertNil(tokenizer.clsTokenId, "GPT-2 has no classification token")
        try check(tokenizer, reference: "tiny_gpt2", cases)
    }

    private func check(_ tokenizer: Tokenizer, reference: String, _ cases: [EdgeCaseFile.Case],
                       file: StaticString = #filePath, line: UInt = #line) throws {
        assertEdgeCases(tokenizer, reference: reference, cases, file: file, line: line)
    }
}
