import Foundation
import XCTest
@testable import GLUE

final class TSVReaderTests: XCTestCase {
    private func parse(_ task: GLUETask, _ text: String, split: Split = .train) throws -> [Example] {
        try task.parse(Data(text.utf8), split: split, source: "mem.tsv")
    }

    // MARK: - Well-formed input

    func testHeaderlessCoLARowsKeepTextVerbatim() throws {
        let text = "gj04\t1\t\tThe sailors rode the breeze.\nclc95\t0\t*\tHe \"said\u{8} it.\ncj99\t1\t \tNo final newline."
        let examples = try parse(.cola, text)
        XCTAssertEqual(examples, [
            Example(textA: "The sailors rode the breeze.", textB: nil, label: .classIndex(1), line: 1),
            Example(textA: "He \"said\u{8} it.", textB: nil, label: .classIndex(0), line: 2),
            Example(textA: "No final newline.", textB: nil, label: .classIndex(1), line: 3),
        ])
    }

    func testHeaderIsLineOneAndTrailingSpaceKept() throws {
        let examples = try parse(.sst2, "sentence\tlabel\nit 's charming . \t1\nbad . \t0\n")
        XCTAssertEqual(examples.map(\.line), [2, 3])
        XCTAssertEqual(examples.map(\.textA), ["it 's charming . ", "bad . "])
        XCTAssertEqual(examples.map(\.label), [.classIndex(1), .classIndex(0)])
    }

    func testByteOrderMarkBeforeHeaderIsSkipped() throws {
        let text = "\u{FEFF}Quality\t#1 ID\t#2 ID\t#1 String\t#2 String\n1\t1\t2\tA \" b .\tC d .\n"
        let examples = try parse(.mrpc, text)
        XCTAssertEqual(examples, [Example(textA: "A \" b .", textB: "C d .", label: .classIndex(1), line: 2)])
    }

    func testCarriageReturnBeforeNewlineIsDropped() throws {
        let examples = try parse(.rte, "index\tsentence1\tsentence2\tlabel\r\n0\ta\tb\tnot_entailment\r\n")
        XCTAssertEqual(examples, [Example(textA: "a", textB: "b", label: .classIndex(1), line: 2)])
    }

    func testCombiningMarkAfterTabStaysInItsField() throws {
        // As Characters, "\t\u{301}" is one grapheme; the reader splits on bytes.
        let examples = try parse(.wnli, "index\tsentence1\tsentence2\tlabel\n0\t\u{301}a\t\u{301}\t1\n")
        XCTAssertEqual(examples.first?.textA, "\u{301}a")
        XCTAssertEqual(examples.first?.textB, "\u{301}")
    }

    func testSTSBScoresWithVaryingPrecision() throws {
        let header = "index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\tsentence1\tsentence2\tscore\n"
        let row = { (score: String) in "0\tg\tf\ty\t0\tnone\tnone\tA.\tB.\t\(score)\n" }
        let examples = try parse(.stsb, header + row("5.000") + row("3.8") + row("0.000") + row("3.79999995231628") + row(" 2 "))
        XCTAssertEqual(examples.map(\.label), [.score(5), .score(3.8), .score(0), .score(3.8), .score(2)])
        XCTAssertEqual(examples.first?.label.score, 5)
        XCTAssertNil(examples.first?.label.classIndex)
    }

    func testLabelTokensAreTrimmed() throws {
        let examples = try parse(.rte, "index\tsentence1\tsentence2\tlabel\n0\ta\tb\t entailment \n")
        XCTAssertEqual(examples.first?.label, .classIndex(0))
    }

    // MARK: - Content errors name the file and line

    func testMalformedRows() {
        let header = "index\tsentence1\tsentence2\tlabel\n"
        assertThrows(GLUEError.malformedRow(file: "mem.tsv", line: 3, expectedColumns: 4, foundColumns: 3)) {
            try parse(.rte, header + "0\ta\tb\tentailment\n1\ta\tentailment\n")
        }
        assertThrows(GLUEError.malformedRow(file: "mem.tsv", line: 2, expectedColumns: 4, foundColumns: 5)) {
            try parse(.rte, header + "0\ta\tb\tc\tentailment\n")
        }
        assertThrows(GLUEError.malformedRow(file: "mem.tsv", line: 3, expectedColumns: 4, foundColumns: 1)) {
            try parse(.rte, header + "0\ta\tb\tentailment\n\n1\ta\tb\tentailment\n")
        }
        // MNLI dev has 16 columns; a 12-column train row is malformed there.
        let train = "0\t1\t1e\tg\tbp\tbp\tp\tp\ta\tb\tneutral\tneutral\n"
        let devHeader = (GLUETask.mnli.splits[.dev]?.layout.columns ?? []).joined(separator: "\t") + "\n"
        assertThrows(GLUEError.malformedRow(file: "mem.tsv", line: 2, expectedColumns: 16, foundColumns: 12)) {
            try parse(.mnli, devHeader + train, split: .dev)
        }
    }

    func testUnexpectedHeader() {
        assertThrows(GLUEError.unexpectedHeader(file: "mem.tsv", line: 1, expected: ["sentence", "label"],
                                                found: ["text", "label"])) {
            try parse(.sst2, "text\tlabel\na\t1\n")
        }
        // A file of another task in the wrong place.
        assertThrows(GLUEError.unexpectedHeader(file: "mem.tsv", line: 1,
                                                expected: ["index", "question", "sentence", "label"],
                                                found: ["index", "sentence1", "sentence2", "label"])) {
            try parse(.qnli, "index\tsentence1\tsentence2\tlabel\n0\ta\tb\tentailment\n")
        }
    }

    func testUnknownLabels() {
        let header = "index\tsentence1\tsentence2\tlabel\n"
        assertThrows(GLUEError.unknownLabel(file: "mem.tsv", line: 3, value: "2", allowed: ["0", "1"])) {
            try parse(.wnli, header + "0\ta\tb\t1\n1\ta\tb\t2\n")
        }
        assertThrows(GLUEError.unknownLabel(file: "mem.tsv", line: 2, value: "Entailment",
                                            allowed: ["entailment", "not_entailment"])) {
            try parse(.rte, header + "0\ta\tb\tEntailment\n")
        }
        assertThrows(GLUEError.unknownLabel(file: "mem.tsv", line: 1, value: "", allowed: ["0", "1"])) {
            try parse(.cola, "gj04\t\t\tA sentence.\n")
        }
    }

    func testBadScores() {
        let header = "index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\tsentence1\tsentence2\tscore\n"
        let row = { (score: String) in header + "0\tg\tf\ty\t0\tnone\tnone\tA.\tB.\t\(score)\n" }
        for bad in ["abc", "", "nan", "inf", "-inf", "3,5", "5.0.0"] {
            assertThrows(GLUEError.unparsableScore(file: "mem.tsv", line: 2, value: bad)) { try parse(.stsb, row(bad)) }
        }
        assertThrows(GLUEError.scoreOutOfRange(file: "mem.tsv", line: 2, value: 5.5, range: 0...5)) {
            try parse(.stsb, row("5.5"))
        }
        assertThrows(GLUEError.scoreOutOfRange(file: "mem.tsv", line: 2, value: -0.25, range: 0...5)) {
            try parse(.stsb, row("-0.25"))
        }
    }

    func testEmptySplits() {
        assertThrows(GLUEError.emptySplit(file: "mem.tsv")) { try parse(.cola, "") }
        assertThrows(GLUEError.emptySplit(file: "mem.tsv")) { try parse(.sst2, "sentence\tlabel\n") }
        assertThrows(GLUEError.emptySplit(file: "mem.tsv")) { try parse(.sst2, "\u{FEFF}sentence\tlabel") }
        assertThrows(GLUEError.emptySplit(file: "mem.tsv")) { try parse(.sst2, "") }
    }

    func testInvalidUTF8() {
        var data = Data("sentence\tlabel\nok\t1\n".utf8)
        data.append(contentsOf: [0x61, 0xC3, 0x28, 0x09, 0x31, 0x0A])  // "a\xC3(" is not UTF-8
        assertThrows(GLUEError.invalidUTF8(file: "bytes.tsv", line: 3)) {
            try GLUETask.sst2.parse(data, split: .train, source: "bytes.tsv")
        }
    }

    func testSplitNotAvailable() {
        let task = GLUETask(name: "Custom", directoryName: "Custom", kind: .classification(labelTokens: ["a"], labelNames: ["a"]),
                            splits: [:], metrics: [.accuracy], primaryMetric: .accuracy)
        assertThrows(GLUEError.splitNotAvailable(task: "Custom", split: .dev)) {
            try task.parse(Data(), split: .dev, source: "x")
        }
    }

    func testErrorDescriptionsNameFileAndLine() {
        let error = GLUEError.malformedRow(file: "/d/RTE/dev.tsv", line: 7, expectedColumns: 4, foundColumns: 3)
        XCTAssertEqual(error.description, "/d/RTE/dev.tsv:7: expected 4 tab-separated columns, found 3")
        XCTAssertTrue(GLUEError.unknownLabel(file: "f", line: 2, value: "x", allowed: ["0", "1"])
            .description.hasPrefix("f:2:"))
    }

    // MARK: - Files on disk

    func testMissingDirectoriesAndFiles() throws {
        let root = try temporaryDirectory(self)
        let absent = root.appendingPathComponent("nope")
        assertThrows(GLUEError.missingDirectory(path: absent.path)) { try GLUETask.rte.read(.train, from: absent) }
        assertThrows(GLUEError.missingDirectory(path: root.appendingPathComponent("RTE").path)) {
            try GLUETask.rte.read(.train, from: root)
        }
        try FileManager.default.createDirectory(at: root.appendingPathComponent("RTE"), withIntermediateDirectories: true)
        assertThrows(GLUEError.missingFile(path: root.appendingPathComponent("RTE/dev.tsv").path)) {
            try GLUETask.rte.read(.dev, from: root)
        }
        // A directory where the file should be.
        try FileManager.default.createDirectory(at: root.appendingPathComponent("RTE/train.tsv"), withIntermediateDirectories: true)
        assertThrows(GLUEError.missingFile(path: root.appendingPathComponent("RTE/train.tsv").path)) {
            try GLUETask.rte.read(.train, from: root)
        }
    }

    func testReadFromDiskReportsFullPath() throws {
        let root = try temporaryDirectory(self)
        let directory = root.appendingPathComponent("WNLI")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let file = directory.appendingPathComponent("dev.tsv")
        try Data("index\tsentence1\tsentence2\tlabel\n0\ta\tb\t1\n1\ta\tb\n".utf8).write(to: file)
        assertThrows(GLUEError.malformedRow(file: file.path, line: 3, expectedColumns: 4, foundColumns: 3)) {
            try GLUETask.wnli.read(.dev, from: root)
        }
        assertThrows(GLUEError.malformedRow(file: file.path, line: 3, expectedColumns: 4, foundColumns: 3)) {
            try GLUETask.wnli.read(.train, fileAt: file)
        }
        try Data("index\tsentence1\tsentence2\tlabel\n0\ta\tb\t1\n".utf8).write(to: file)
        XCTAssertEqual(try GLUETask.wnli.read(.dev, from: root),
                       [Example(textA: "a", textB: "b", label: .classIndex(1), line: 2)])
    }

    // MARK: - Synthetic fixtures of the official MNLI, QNLI and QQP layouts

    func testMNLIFixtures() throws {
        let root = try glueFixtureRoot()
        let train = try GLUETask.mnli.read(.train, from: root)
        XCTAssertEqual(train.count, 5)
        XCTAssertEqual(train[0], Example(textA: "Conceptually cream skimming has two basic dimensions.",
                                         textB: "Product and geography are what make cream skimming work.",
                                         label: .classIndex(2), line: 2))
        XCTAssertEqual(train[2].textA, "He said \"the café was closed.")
        XCTAssertEqual(train[3].textA, "Gays and lesbians — 🙂 welcome.")
        XCTAssertEqual(classCounts(train), [0: 1, 1: 2, 2: 2])
        XCTAssertEqual(try GLUETask.mnliMismatched.read(.train, from: root), train)

        let matched = try GLUETask.mnli.read(.dev, from: root)
        XCTAssertEqual(matched.count, 3)
        XCTAssertEqual(matched.map(\.label), [.classIndex(2), .classIndex(0), .classIndex(1)], "gold_label, not label1")
        let mismatched = try GLUETask.mnliMismatched.read(.dev, from: root)
        XCTAssertEqual(mismatched.count, 4)
        XCTAssertEqual(mismatched.map(\.label), [.classIndex(0), .classIndex(1), .classIndex(2), .classIndex(2)])
        XCTAssertEqual(mismatched[2].textA, "\"Open the box")
        XCTAssertEqual(mismatched.map(\.line), [2, 3, 4, 5])
    }

    func testQNLIFixtures() throws {
        let root = try glueFixtureRoot()
        let train = try GLUETask.named("qnli").read(.train, from: root)
        XCTAssertEqual(train.count, 4)
        XCTAssertEqual(classCounts(train), [0: 2, 1: 2])
        XCTAssertEqual(train[3], Example(textA: "What is the name of the \"Sun King?",
                                         textB: "Louis XIV was known as the \"Sun King\" (le Roi Soleil).",
                                         label: .classIndex(0), line: 5))
        let dev = try GLUETask.qnli.read(.dev, from: root)
        XCTAssertEqual(dev.map(\.label), [.classIndex(0), .classIndex(1)])
    }

    func testQQPFixtures() throws {
        let root = try glueFixtureRoot()
        let train = try GLUETask.qqp.read(.train, from: root)
        XCTAssertEqual(train.count, 5)
        XCTAssertEqual(classCounts(train), [0: 3, 1: 2])
        XCTAssertEqual(train[1], Example(textA: "How do I control my horny emotions?",
                                         textB: "How do you control your horniness?", label: .classIndex(1), line: 3))
        XCTAssertEqual(train[4].textA, "Where can I find a \"power outlet for my laptop at Melbourne Airport?")
        let dev = try GLUETask.qqp.read(.dev, from: root)
        XCTAssertEqual(dev.map(\.label), [.classIndex(0), .classIndex(0), .classIndex(1)])
    }
}
