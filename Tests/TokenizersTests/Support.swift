import Foundation
import TestSupport
import Tokenizers
import XCTest

/// Hints printed when a resource is missing.
enum Hint {
    static let miniLM = "run scripts/fetch-model.sh (or set SWIFT_LORA_MODEL_DIR)"
    static let roberta = "roberta-base vocab.json + merges.txt are expected in ../shared/tokenizers/roberta-base "
        + "(or set SWIFT_LORA_ROBERTA_TOKENIZER_DIR)"
    static let glue = "the GLUE TSVs are expected in ../shared/glue (or set SWIFT_LORA_GLUE_DIR)"
    static let fixtures = "regenerate with scripts/reference/make_tokenizer_fixtures.py"
    static let unigramFixtures = "regenerate with scripts/reference/make_unigram_fixtures.py"
}

/// `url` if it exists; otherwise records a failure naming it (tests never skip silently).
func requireResource(_ url: URL, hint: String, file: StaticString = #filePath, line: UInt = #line) -> URL? {
    switch TestPaths.require(url, hint: hint) {
    case .success(let u): return u
    case .failure(let missing):
        XCTFail(missing.message, file: file, line: line)
        return nil
    }
}

/// The row hash of the fixtures: FNV-1a over 32-bit words (ids, 0xFFFFFFFF, type ids).
func rowHash(_ e: Encoding) -> UInt64 {
    var h: UInt64 = 0xCBF2_9CE4_8422_2325
    for v in e.ids { h = (h ^ UInt64(UInt32(bitPattern: v))) &* 0x100_0000_01B3 }
    h = (h ^ 0xFFFF_FFFF) &* 0x100_0000_01B3
    for v in e.typeIds { h = (h ^ UInt64(UInt32(bitPattern: v))) &* 0x100_0000_01B3 }
    return h
}

/// A GLUE TSV as the fixture script reads it: '\n' lines (a final newline ends the last
/// line), tab-separated fields, no quoting.
struct TSVFile {
    /// (1-based line number, fields) of every line.
    var lines: [(number: Int, fields: [String])]

    init(url: URL) throws {
        let bytes = [UInt8](try Data(contentsOf: url))
        var lines: [(Int, [String])] = []
        var start = 0
        var number = 1
        func emit(_ end: Int) {
            let fields = bytes[start..<end].split(separator: 0x09, omittingEmptySubsequences: false)
                .map { String(decoding: $0, as: UTF8.self) }
            lines.append((number, fields))
            number += 1
        }
        for i in 0..<bytes.count where bytes[i] == 0x0A {
            emit(i)
            start = i + 1
        }
        if start < bytes.count { emit(bytes.count) }
        self.lines = lines
    }
}

/// A temporary directory holding a symlink to a vocab.txt and a tokenizer_config.json.
func wordPieceDirectory(vocab: URL, config: [String: Any]) throws -> URL {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tok-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    try FileManager.default.createSymbolicLink(at: dir.appendingPathComponent("vocab.txt"), withDestinationURL: vocab)
    let data = try JSONSerialization.data(withJSONObject: config)
    try data.write(to: dir.appendingPathComponent("tokenizer_config.json"))
    return dir
}

/// A temporary directory with the given text files.
func directory(with files: [String: String]) throws -> URL {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tok-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    for (name, text) in files {
        try Data(text.utf8).write(to: dir.appendingPathComponent(name))
    }
    return dir
}

/// Edge-case fixture (Tests/Fixtures/tokenizers/edge_cases.json).
struct EdgeCaseFile: Decodable {
    struct Expected: Decodable {
        var ids: [Int32]
        var typeIds: [Int32]
        var decoded: String
        var decodedSkipSpecial: String
        var transformersIds: [Int32]?
        enum CodingKeys: String, CodingKey {
            case ids, typeIds = "type_ids", decoded, decodedSkipSpecial = "decoded_skip_special"
            case transformersIds = "transformers_ids"
        }
    }
    struct Case: Decodable {
        var name: String
        var text: String
        var pair: String?
        var maxLength: Int?
        var expected: [String: Expected]
        enum CodingKeys: String, CodingKey {
            case name, text, pair, maxLength = "max_length", expected
        }
    }
    var cases: [Case]
}

/// glue_manifest.json.
struct GLUEManifest: Decodable {
    struct Section: Decodable {
        var tokenizer: String
        var file: String
        var columns: [Int]
        var header: Bool
        var maxLength: Int
        var rows: Int
        var offset: Int
        var bytes: Int
        enum CodingKeys: String, CodingKey {
            case tokenizer, file, columns, header, maxLength = "max_length", rows, offset, bytes
        }
    }
    var sections: [Section]
}

/// Checks a tokenizer against the expectations of `reference` in edge-case fixtures: ids, type
/// ids, decoding of the reference ids (with and without special tokens) and batch encoding.
func assertEdgeCases(_ tokenizer: Tokenizer, reference: String, _ cases: [EdgeCaseFile.Case],
                     minimumCases: Int = 90, file: StaticString = #filePath, line: UInt = #line) {
    var compared = 0
    for c in cases {
        guard let want = c.expected[reference] else {
            XCTFail("\(c.name): no expectation for \(reference)", file: file, line: line)
            continue
        }
        compared += 1
        let got = tokenizer.encode(c.text, pair: c.pair, maxLength: c.maxLength)
        XCTAssertEqual(got.ids, want.ids, "\(reference) \(c.name): ids of \(c.text.debugDescription)", file: file, line: line)
        XCTAssertEqual(got.typeIds, want.typeIds, "\(reference) \(c.name): type ids", file: file, line: line)
        // Decoding the reference ids (so a decode bug shows even when encoding differs).
        XCTAssertEqual(tokenizer.decode(want.ids, skipSpecialTokens: false), want.decoded,
                       "\(reference) \(c.name): decode", file: file, line: line)
        XCTAssertEqual(tokenizer.decode(want.ids, skipSpecialTokens: true), want.decodedSkipSpecial,
                       "\(reference) \(c.name): decode skipping special tokens", file: file, line: line)
        // The batch path gives the same encodings.
        XCTAssertEqual(tokenizer.encodeBatch([(c.text, c.pair)], maxLength: c.maxLength).first, got,
                       "\(reference) \(c.name): batch", file: file, line: line)
    }
    XCTAssertGreaterThan(compared, minimumCases, "edge cases compared for \(reference)", file: file, line: line)
    // Batch encoding of all cases at once (several workers, private caches) agrees too.
    let inputs = (0..<40).flatMap { _ in cases.map { ($0.text, $0.pair) } }
    let batch = tokenizer.encodeBatch(inputs, maxLength: nil)
    for (i, e) in batch.enumerated() where e != tokenizer.encode(inputs[i].0, pair: inputs[i].1, maxLength: nil) {
        XCTFail("\(reference): batch encoding of input \(i) differs", file: file, line: line)
        break
    }
}
