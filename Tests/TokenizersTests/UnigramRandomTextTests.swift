import Foundation
import TestSupport
import Tokenizers
import XCTest

/// 2000 random texts built from pieces that stress grapheme clusters and the charsmaps
/// (combining marks, ZWJ emoji, regional indicators, Hangul jamo, Indic conjuncts, prepend and
/// spacing marks, CR LF, "▁", added tokens, characters outside the vocabularies): the encodings
/// of all nine Unigram references hash to the Rust library's (unigram_random.json).
final class UnigramRandomTextTests: XCTestCase {
    private struct File: Decodable {
        var references: [String]
        var rows: [[String?]]
    }

    func testRandomTextsMatchTheRustLibrary() throws {
        guard let url = requireResource(TestPaths.fixture("tokenizers/unigram_random.json"), hint: Hint.unigramFixtures) else { return }
        let file = try JSONDecoder().decode(File.self, from: Data(contentsOf: url))
        var tokenizers: [Tokenizer] = []
        var temporary: [URL] = []
        defer { for d in temporary { try? FileManager.default.removeItem(at: d) } }
        for name in file.references {
            if UnigramFixtures.files[name] != nil {
                guard let dir = UnigramFixtures.fileDirectory(name) else { return }
                tokenizers.append(try loadTokenizer(directory: dir))
            } else {
                guard let dir = try UnigramFixtures.variantDirectory(name) else { return }
                temporary.append(dir)
                tokenizers.append(try loadTokenizer(directory: dir))
            }
        }
        XCTAssertEqual(file.references.count, 9)
        XCTAssertEqual(file.rows.count, 2000)
        var failures = 0
        for row in file.rows {
            guard row.count == 3, let text = row[0], let hex = row[2], let want = UInt64(hex, radix: 16) else {
                XCTFail("malformed row \(row)")
                return
            }
            let pair = row[1]
            let encodings = tokenizers.map { $0.encode(text, pair: pair, maxLength: nil) }
            var h: UInt64 = 0xCBF2_9CE4_8422_2325
            for e in encodings {
                for w in e.ids.map({ UInt32(bitPattern: $0) }) + [0xFFFF_FFFF] + e.typeIds.map({ UInt32(bitPattern: $0) }) + [0xFFFF_FFFE] {
                    h = (h ^ UInt64(w)) &* 0x100_0000_01B3
                }
            }
            if h != want {
                failures += 1
                if failures <= 10 {
                    let ours = zip(file.references, encodings).map { "  \($0): \($1.ids)" }.joined(separator: "\n")
                    XCTFail("random text \(text.debugDescription)\(pair.map { " + \($0.debugDescription)" } ?? ""): hash differs; our ids:\n\(ours)")
                }
            }
        }
        XCTAssertEqual(failures, 0, "random texts whose encodings differ from the Rust library")
    }
}
