import Foundation
import XCTest
@testable import GLUE

/// Reads every real GLUE file in `../shared/glue` (or `$SWIFT_LORA_GLUE_DIR`) and checks the
/// row and label counts that its README states. (MNLI, QNLI and QQP are not in that directory;
/// their readers are tested on synthetic fixtures in `TSVReaderTests`.)
final class RealGLUEDataTests: XCTestCase {
    private func check(_ task: GLUETask, _ split: Split, rows: Int, counts: [Int: Int]?,
                       file: StaticString = #filePath, line: UInt = #line) throws -> [Example] {
        let root = try glueDataRoot(file: file, line: line)
        let examples = try task.read(split, from: root)
        XCTAssertEqual(examples.count, rows, "\(task.name) \(split) rows", file: file, line: line)
        if let counts {
            XCTAssertEqual(classCounts(examples), counts, "\(task.name) \(split) label counts", file: file, line: line)
        }
        let pair = task.isPairTask
        XCTAssertTrue(examples.allSatisfy { ($0.textB != nil) == pair }, "\(task.name) pair texts", file: file, line: line)
        XCTAssertTrue(examples.allSatisfy { !$0.textA.isEmpty }, "\(task.name) empty textA", file: file, line: line)
        // Lines are consecutive: one row per line, header (when present) on line 1.
        let first = task.splits[split]?.layout.hasHeader == true ? 2 : 1
        XCTAssertEqual(examples.first?.line, first, file: file, line: line)
        XCTAssertEqual(examples.last?.line, first + rows - 1, file: file, line: line)
        return examples
    }

    func testCoLA() throws {
        // No header; labels 1/0 = acceptable/unacceptable.
        let train = try check(.cola, .train, rows: 8551, counts: [1: 6023, 0: 2528])
        let dev = try check(.cola, .dev, rows: 1043, counts: [1: 721, 0: 322])
        // Train lines 7130-7132 contain a backspace (U+0008), kept verbatim.
        XCTAssertEqual(train.filter { $0.textA.unicodeScalars.contains("\u{8}") }.map(\.line), [7130, 7131, 7132])
        // Dev has no final newline; its last row is still read.
        XCTAssertEqual(dev.last?.textA, "John talked to Bill about himself.")
        XCTAssertEqual(dev.last?.label, .classIndex(1))
    }

    func testSST2() throws {
        let train = try check(.sst2, .train, rows: 67349, counts: [1: 37569, 0: 29780])
        _ = try check(.sst2, .dev, rows: 872, counts: [1: 444, 0: 428])
        XCTAssertEqual(train.first?.textA, "hide new secretions from the parental units ")
        XCTAssertTrue(train.allSatisfy { $0.textA.hasSuffix(" ") }, "every SST-2 sentence ends with a space")
    }

    func testMRPC() throws {
        // Header preceded by a UTF-8 byte-order mark.
        let train = try check(.mrpc, .train, rows: 3668, counts: [1: 2474, 0: 1194])
        _ = try check(.mrpc, .dev, rows: 408, counts: [1: 279, 0: 129])
        XCTAssertEqual(train.first?.textA.hasPrefix("Amrozi accused his brother"), true)
        // The row restored into train (#1 ID 2750203, #2 ID 2750153) is on line 93.
        XCTAssertEqual(train.first { $0.line == 93 }?.textA.hasPrefix("Officials at Brandeis said"), true)
        XCTAssertEqual(train.first { $0.line == 93 }?.label, .classIndex(1))
    }

    func testRTE() throws {
        // entailment = class 0, not_entailment = class 1.
        let train = try check(.rte, .train, rows: 2490, counts: [0: 1249, 1: 1241])
        let dev = try check(.rte, .dev, rows: 277, counts: [0: 146, 1: 131])
        // The mojibake "â\u{80}\u{99}" is kept as it is (train index 287, dev index 238).
        let mojibake = "\u{E2}\u{80}\u{99}"
        XCTAssertEqual(train.filter { ($0.textA + ($0.textB ?? "")).contains(mojibake) }.map(\.line), [289])
        XCTAssertEqual(dev.filter { ($0.textA + ($0.textB ?? "")).contains(mojibake) }.map(\.line), [240])
    }

    func testWNLI() throws {
        // The README states "train 323/312 (1/0)", but the file (whose sha256 matches the README)
        // has 323 rows labelled 0 and 312 labelled 1, which is also the split of GLUE's WNLI
        // (not_entailment 323, entailment 312); the dev counts match the README as written.
        _ = try check(.wnli, .train, rows: 635, counts: [0: 323, 1: 312])
        _ = try check(.wnli, .dev, rows: 71, counts: [1: 31, 0: 40])
    }

    func testSTSB() throws {
        let train = try check(.stsb, .train, rows: 5749, counts: nil)
        let dev = try check(.stsb, .dev, rows: 1500, counts: nil)
        for (name, examples) in [("train", train), ("dev", dev)] {
            let scores = examples.compactMap(\.label.score)
            XCTAssertEqual(scores.count, examples.count, "\(name): every label is a score")
            XCTAssertEqual(scores.min(), 0, name)
            XCTAssertEqual(scores.max(), 5, name)
        }
        // Sums computed independently with Python's csv (QUOTE_NONE) and float().
        XCTAssertEqual(train.compactMap(\.label.score).reduce(0.0) { $0 + Double($1) }, 15528.043396825336, accuracy: 1e-3)
        XCTAssertEqual(dev.compactMap(\.label.score).reduce(0.0) { $0 + Double($1) }, 3545.8613333333324, accuracy: 1e-3)
        XCTAssertEqual(dev.first, Example(textA: "A man with a hard hat is dancing.",
                                          textB: "A man wearing a hard hat is dancing.", label: .score(5), line: 2))
        // Train index 2918 (line 2920) has U+0012 inside sentence1, kept verbatim.
        XCTAssertEqual(train.filter { $0.textA.unicodeScalars.contains("\u{12}") }.map(\.line), [2920])
    }

    func testLookupThenReadEveryPresentTask() throws {
        let root = try glueDataRoot()
        for name in ["cola", "sst2", "mrpc", "sts-b", "rte", "wnli"] {
            let task = try GLUETask.named(name)
            for split in Split.allCases {
                XCTAssertFalse(try task.read(split, from: root).isEmpty, "\(name) \(split)")
            }
        }
        // MNLI, QNLI and QQP are not in the shared data: a typed error names the missing directory.
        for task in [GLUETask.mnli, .qnli, .qqp] {
            assertThrows(GLUEError.missingDirectory(path: root.appendingPathComponent(task.directoryName).path)) {
                try task.read(.train, from: root)
            }
        }
    }
}
