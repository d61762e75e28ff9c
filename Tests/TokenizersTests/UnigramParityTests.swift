import Foundation
import TestSupport
import Tokenizers
import XCTest

/// SentencePiece Unigram tokenizers give the Rust library's ids and type ids on every GLUE row at
/// max length 512: tiny-xlmr and tiny-camembert on every train and dev file, tiny-spm on all but
/// SST-2 train (see scripts/reference/make_unigram_fixtures.py). Rows are stored as (length, hash)
/// in unigram_hashes.bin, in the format of glue_hashes.bin.
final class UnigramParityTests: XCTestCase {
    private static let allFiles = Set(["CoLA/train.tsv", "CoLA/dev.tsv", "SST-2/train.tsv", "SST-2/dev.tsv",
                                       "MRPC/train.tsv", "MRPC/dev.tsv", "RTE/train.tsv", "RTE/dev.tsv",
                                       "STS-B/train.tsv", "STS-B/dev.tsv", "WNLI/train.tsv", "WNLI/dev.tsv"])

    func testTinyXLMRMatchesTheRustLibraryOnAllGLUERows() throws {
        try checkGLUE(reference: "tiny_xlmr", files: Self.allFiles)
    }

    func testTinyCamemBERTMatchesTheRustLibraryOnAllGLUERows() throws {
        try checkGLUE(reference: "tiny_camembert", files: Self.allFiles)
    }

    func testTinySentencePieceMatchesTheRustLibraryOnGLUERows() throws {
        try checkGLUE(reference: "tiny_spm", files: Self.allFiles.subtracting(["SST-2/train.tsv"]))
    }

    private func checkGLUE(reference: String, files: Set<String>) throws {
        guard let dir = UnigramFixtures.fileDirectory(reference),
              let manifestURL = requireResource(TestPaths.fixture("tokenizers/unigram_manifest.json"), hint: Hint.unigramFixtures),
              let blobURL = requireResource(TestPaths.fixture("tokenizers/unigram_hashes.bin"), hint: Hint.unigramFixtures),
              requireResource(TestPaths.glueDirectory, hint: Hint.glue) != nil else { return }
        let manifest = try JSONDecoder().decode(GLUEManifest.self, from: Data(contentsOf: manifestURL))
        let blob = [UInt8](try Data(contentsOf: blobURL))
        let tokenizer = try loadTokenizer(directory: dir)
        let sections = manifest.sections.filter { $0.tokenizer == reference }
        XCTAssertEqual(Set(sections.map(\.file)), files, "\(reference): GLUE files in the fixture")
        XCTAssertEqual(sections.count, files.count, "\(reference): one section per file")

        var failures = 0
        var checked = 0
        for section in sections {
            XCTAssertEqual(section.maxLength, 512)
            guard let tsvURL = requireResource(TestPaths.glueDirectory.appendingPathComponent(section.file), hint: Hint.glue) else { continue }
            let rows = Array(try TSVFile(url: tsvURL).lines.dropFirst(section.header ? 1 : 0))
            guard rows.count == section.rows else {
                XCTFail("\(section.file): \(rows.count) rows, the fixture has \(section.rows) (data changed? \(Hint.unigramFixtures))")
                continue
            }
            var inputs: [(String, String?)] = []
            for row in rows {
                guard row.fields.count > section.columns.max() ?? 0 else {
                    XCTFail("\(section.file):\(row.number): only \(row.fields.count) fields")
                    return
                }
                inputs.append((row.fields[section.columns[0]], section.columns.count > 1 ? row.fields[section.columns[1]] : nil))
            }
            let ours = tokenizer.encodeBatch(inputs, maxLength: section.maxLength)
            var reader = RecordReader(bytes: blob, offset: section.offset)
            for (i, e) in ours.enumerated() {
                guard let (count, hash) = reader.next(), count > 0 else {
                    XCTFail("\(section.file) (\(reference)): fixture section ends or is malformed at row \(i)")
                    failures += 1
                    break
                }
                checked += 1
                if e.count != count || rowHash(e) != hash {
                    failures += 1
                    if failures <= 20 {
                        XCTFail("""
                            \(section.file):\(rows[i].number) (\(reference)): expected \(count) tokens, hash \(String(hash, radix: 16))
                              text: \(inputs[i].0.debugDescription)\(inputs[i].1.map { "\n  pair: \($0.debugDescription)" } ?? "")
                              our ids (\(e.count)): \(e.ids.map(String.init).joined(separator: " "))
                              our type ids: \(e.typeIds.map(String.init).joined(separator: " "))
                            """)
                    }
                }
            }
            XCTAssertEqual(reader.offset - section.offset, section.bytes, "\(section.file): fixture section length")
        }
        XCTAssertEqual(failures, 0, "\(reference): \(failures) GLUE encodings differ from the Rust library")
        XCTAssertEqual(checked, sections.reduce(0) { $0 + $1.rows }, "\(reference): rows checked")
        XCTAssertGreaterThan(checked, 20_000, "\(reference): rows checked")
    }
}
