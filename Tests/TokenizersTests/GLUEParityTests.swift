import Foundation
import TestSupport
import Tokenizers
import XCTest

/// Ids identical to the Python fast tokenizers on every row of every GLUE train and dev
/// file, single or pair as each task uses them, at max length 512 and 64.
///
/// The expected encodings are stored as (length, 64-bit hash) per row; see
/// scripts/reference/make_tokenizer_fixtures.py for the format. On a mismatch the test
/// prints the file, the line and our ids.
final class GLUEParityTests: XCTestCase {
    func testMiniLMMatchesTransformersOnAllGLUERows() throws {
        guard let dir = requireResource(TestPaths.miniLMDirectory.appendingPathComponent("tokenizer.json"), hint: Hint.miniLM)?
            .deletingLastPathComponent() else { return }
        try checkGLUE(reference: "minilm", tokenizerDirectory: dir)
    }

    func testRoBERTaMatchesTransformersOnAllGLUERows() throws {
        guard let dir = requireResource(TestPaths.robertaTokenizerDirectory.appendingPathComponent("merges.txt"), hint: Hint.roberta)?
            .deletingLastPathComponent() else { return }
        try checkGLUE(reference: "roberta", tokenizerDirectory: dir)
    }

    private func checkGLUE(reference: String, tokenizerDirectory: URL) throws {
        guard let manifestURL = requireResource(TestPaths.fixture("tokenizers/glue_manifest.json"), hint: Hint.fixtures),
              let blobURL = requireResource(TestPaths.fixture("tokenizers/glue_hashes.bin"), hint: Hint.fixtures),
              requireResource(TestPaths.glueDirectory, hint: Hint.glue) != nil else { return }
        let manifest = try JSONDecoder().decode(GLUEManifest.self, from: Data(contentsOf: manifestURL))
        let blob = [UInt8](try Data(contentsOf: blobURL))
        let tokenizer = try loadTokenizer(directory: tokenizerDirectory)
        let sections = manifest.sections.filter { $0.tokenizer == reference }
        XCTAssertEqual(sections.count, 24, "12 GLUE files × 2 max lengths for \(reference)")

        var failures = 0
        var checked = 0
        for file in Set(sections.map(\.file)).sorted() {
            let fileSections = sections.filter { $0.file == file }.sorted { $0.maxLength > $1.maxLength }
            guard let first = fileSections.first, fileSections.map(\.maxLength) == [512, 64] else {
                XCTFail("\(file): expected sections at max length 512 and 64")
                continue
            }
            guard let tsvURL = requireResource(TestPaths.glueDirectory.appendingPathComponent(file), hint: Hint.glue) else { continue }
            let tsv = try TSVFile(url: tsvURL)
            let rows = Array(tsv.lines.dropFirst(first.header ? 1 : 0))
            guard rows.count == first.rows else {
                XCTFail("\(file): \(rows.count) rows, the fixture has \(first.rows) (data changed? \(Hint.fixtures))")
                continue
            }
            var inputs: [(String, String?)] = []
            for row in rows {
                guard row.fields.count > first.columns.max() ?? 0 else {
                    XCTFail("\(file):\(row.number): only \(row.fields.count) fields")
                    return
                }
                inputs.append((row.fields[first.columns[0]], first.columns.count > 1 ? row.fields[first.columns[1]] : nil))
            }
            var full: [Encoding] = []
            for section in fileSections {
                let ours = tokenizer.encodeBatch(inputs, maxLength: section.maxLength)
                if section.maxLength == 512 { full = ours }
                var reader = RecordReader(bytes: blob, offset: section.offset)
                for (i, e) in ours.enumerated() {
                    guard let (count, hash) = reader.next() else {
                        XCTFail("\(file) (\(reference), max length \(section.maxLength)): fixture section ends at row \(i)")
                        failures += 1
                        break
                    }
                    checked += 1
                    let ok: Bool
                    var expectation: String
                    if count == 0 {
                        // "Same as at 512": the untruncated encoding fits.
                        ok = full[i].count <= section.maxLength && e == full[i]
                        expectation = "the max-length-512 encoding (\(full[i].count) tokens)"
                    } else {
                        ok = e.count == count && rowHash(e) == hash
                        expectation = "\(count) tokens, hash \(String(hash, radix: 16))"
                    }
                    if !ok {
                        failures += 1
                        if failures <= 20 {
                            XCTFail("""
                                \(file):\(rows[i].number) (\(reference), max length \(section.maxLength)): expected \(expectation)
                                  text: \(inputs[i].0.debugDescription)\(inputs[i].1.map { "\n  pair: \($0.debugDescription)" } ?? "")
                                  our ids (\(e.count)): \(e.ids.map(String.init).joined(separator: " "))
                                  our type ids: \(e.typeIds.map(String.init).joined(separator: " "))
                                """)
                        }
                    }
                }
                XCTAssertEqual(reader.offset - section.offset, section.bytes, "\(file): fixture section length")
            }
        }
        XCTAssertEqual(failures, 0, "\(reference): \(failures) GLUE encodings differ from the Python reference")
        XCTAssertEqual(checked, sections.reduce(0) { $0 + $1.rows }, "\(reference): rows checked")
    }
}

/// Reads (count, hash) records of glue_hashes.bin: LEB128 count, then (if non-zero) a
/// little-endian UInt64.
struct RecordReader {
    let bytes: [UInt8]
    var offset: Int

    init(bytes: [UInt8], offset: Int) {
        self.bytes = bytes
        self.offset = offset
    }

    mutating func next() -> (Int, UInt64)? {
        var count = 0, shift = 0
        while true {
            guard offset < bytes.count, shift < 63 else { return nil }
            let b = bytes[offset]
            offset += 1
            count |= Int(b & 0x7F) << shift
            shift += 7
            if b & 0x80 == 0 { break }
        }
        if count == 0 { return (0, 0) }
        guard offset + 8 <= bytes.count else { return nil }
        var h: UInt64 = 0
        for k in 0..<8 { h |= UInt64(bytes[offset + k]) << (8 * k) }
        offset += 8
        return (count, h)
    }
}
