// The CSV, TSV and JSON Lines readers: RFC 4180 quoting, streaming across blocks, and every bad-input error.
import Foundation
import XCTest
import GLUE
@testable import DataFiles

final class DataFileReaderTests: XCTestCase {
    private var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("datafiles-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        DataFileReader.blockSize = 8 << 20
        try? FileManager.default.removeItem(at: directory)
    }

    private func file(_ name: String, _ content: String) throws -> String {
        try file(name, Data(content.utf8))
    }

    private func file(_ name: String, _ bytes: Data) throws -> String {
        let url = directory.appendingPathComponent(name)
        try bytes.write(to: url)
        return url.path
    }

    private func rows(_ path: String, _ columns: [String], format: DataFormat? = nil) throws -> [(Int, [String])] {
        let reader = try DataFileReader(path: path, format: format)
        let wanted = try columns.map { try reader.column($0, option: "test") }
        var out: [(Int, [String])] = []
        try reader.forEachRow(wanted) { out.append(($0, $1)) }
        return out
    }

    private func assertError(_ expected: DataFileError, _ body: () throws -> Void, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try body(), file: file, line: line) { error in
            XCTAssertEqual(error as? DataFileError, expected, "\(error)", file: file, line: line)
        }
    }

    func testCSVQuotingFollowsRFC4180() throws {
        let csv = "text,label\r\n\"a, comma\",x\r\n\"doubled \"\"quotes\"\"\",y\n\"two\nlines\",x\nplain \"inner\" quote,y\n\n\"\",z"
        for size in [8 << 20, 1, 2, 3, 5, 7, 13] {
            DataFileReader.blockSize = size
            let got = try rows(try file("q.csv", csv), ["text", "label"])
            XCTAssertEqual(got.map(\.0), [2, 3, 4, 6, 8], "block \(size)")
            XCTAssertEqual(got.map(\.1), [["a, comma", "x"], ["doubled \"quotes\"", "y"], ["two\nlines", "x"],
                                          ["plain \"inner\" quote", "y"], ["", "z"]], "block \(size)")
        }
    }

    func testTSVHasNoQuotingAndBOMIsSkipped() throws {
        var bytes = Data([0xEF, 0xBB, 0xBF])
        bytes.append(Data("sentence1\tsentence2\tlabel\n\"open quote\tb, c\t1\nd\te\t0".utf8))
        DataFileReader.blockSize = 4
        let path = try file("p.tsv", bytes)
        let reader = try DataFileReader(path: path)
        XCTAssertEqual(reader.format, .tsv)
        XCTAssertEqual(reader.columns, ["sentence1", "sentence2", "label"])
        XCTAssertEqual(try rows(path, ["sentence1", "sentence2", "label"]).map(\.1), [["\"open quote", "b, c", "1"], ["d", "e", "0"]])
    }

    func testJSONLinesKeepsKeyOrderAndNumbersAsWritten() throws {
        let path = try file("d.jsonl", "{\"id\": 7, \"review\": \"caf\\u00e9 \\\"ok\\\"\", \"label\": 1.0, \"flag\": true}\n\n  \n{\"label\": 2, \"review\": \"b\", \"id\": 8, \"flag\": false}\r\n")
        let reader = try DataFileReader(path: path)
        XCTAssertEqual(reader.columns, ["id", "review", "label", "flag"])
        XCTAssertEqual(try rows(path, ["review", "label", "id", "flag"]).map(\.1),
                       [["café \"ok\"", "1.0", "7", "true"], ["b", "2", "8", "false"]])
        XCTAssertEqual(try rows(path, ["review"]).map(\.0), [1, 4])
    }

    func testFormatFromExtensionOrOption() throws {
        let path = try file("data.txt", "a,label\nx,1\n")
        assertError(.unknownFormat(path: path)) { _ = try DataFileReader(path: path) }
        XCTAssertEqual(try DataFileReader(path: path, format: .csv).columns, ["a", "label"])
    }

    func testMalformedInputsNameTheFileAndLine() throws {
        let wrong = try file("w.csv", "text,label\na,1\nb,2,3\n")
        assertError(.fieldCount(path: wrong, line: 3, found: 3, expected: 2)) { _ = try rows(wrong, ["text"]) }
        let unclosed = try file("u.csv", "text,label\na,1\n\"never closed,2\nmore\n")
        assertError(.unclosedQuote(path: unclosed, line: 3, column: 1)) { _ = try rows(unclosed, ["text"]) }
        let after = try file("a.csv", "text,label\n\"x\"y,1\n")
        assertError(.textAfterQuote(path: after, line: 2, column: 1)) { _ = try rows(after, ["text"]) }
        let empty = try file("e.csv", "")
        assertError(.empty(path: empty)) { _ = try DataFileReader(path: empty) }
        let blank = try file("b.jsonl", "\n  \n")
        assertError(.empty(path: blank)) { _ = try DataFileReader(path: blank) }
        let header = try file("h.csv", "text,label\n")
        assertError(.headerOnly(path: header)) { _ = try DataFileReader(path: header) }
        let duplicate = try file("d.csv", "text,text\na,b\n")
        assertError(.duplicateColumn(path: duplicate, name: "text")) { _ = try DataFileReader(path: duplicate) }
        let missing = directory.appendingPathComponent("nope.csv").path
        assertError(.missingFile(path: missing)) { _ = try DataFileReader(path: missing) }
        let reader = try DataFileReader(path: wrong)
        assertError(.missingColumn(path: wrong, column: "review", option: "--text-column", present: ["text", "label"])) {
            _ = try reader.column("review", option: "--text-column")
        }
    }

    func testInvalidUTF8GivesTheByteOffset() throws {
        var bytes = Data("text,label\nok,1\n\"caf".utf8)
        bytes.append(contentsOf: [0xC3, 0x28])
        bytes.append(Data("\",2\n".utf8))
        let path = try file("bad.csv", bytes)
        assertError(.invalidUTF8(path: path, line: 3, offset: 20)) { _ = try rows(path, ["text"]) }
        var json = Data("{\"text\": \"a\"}\n{\"text\": \"".utf8)
        json.append(contentsOf: [0xFF])
        json.append(Data("\"}\n".utf8))
        let jpath = try file("bad.jsonl", json)
        assertError(.invalidUTF8(path: jpath, line: 2, offset: 24)) { _ = try rows(jpath, ["text"]) }
    }

    func testJSONLinesErrors() throws {
        let array = try file("arr.jsonl", "{\"text\": \"a\"}\n[1, 2]\n")
        assertError(.notAnObject(path: array, line: 2, found: "an array")) { _ = try rows(array, ["text"]) }
        let broken = try file("br.jsonl", "{\"text\": \"a\"}\n{\"text\": \"b\",}\n")
        XCTAssertThrowsError(try rows(broken, ["text"])) { error in
            guard case .invalidJSON(let p, 2, _, _)? = error as? DataFileError else { return XCTFail("\(error)") }
            XCTAssertEqual(p, broken)
        }
        let missingField = try file("mf.jsonl", "{\"text\": \"a\", \"label\": 1}\n{\"text\": \"b\"}\n")
        assertError(.missingField(path: missingField, line: 2, field: "label")) { _ = try rows(missingField, ["text", "label"]) }
        let null = try file("n.jsonl", "{\"text\": null}\n")
        assertError(.unusableValue(path: null, line: 1, field: "text", found: "null")) { _ = try rows(null, ["text"]) }
    }

    func testColumnChoiceFollowsRunGlue() throws {
        let pair = try DataFileReader(path: try file("p.csv", "idx,sentence2,sentence1,label\n1,b,a,0\n"))
        let c = try ColumnChoice.choose(in: pair, options: ColumnOptions(), needLabel: true)
        XCTAssertEqual([c.text, c.textPair, c.label], [2, 1, 3])
        let single = try DataFileReader(path: try file("s.csv", "id,label,review,other\n1,0,a,b\n"))
        let s = try ColumnChoice.choose(in: single, options: ColumnOptions(), needLabel: true)
        XCTAssertEqual([s.text, s.textPair, s.label], [2, nil, 1])
        let named = try ColumnChoice.choose(in: single, options: ColumnOptions(text: "other", textPair: "review", label: "id"), needLabel: true)
        XCTAssertEqual([named.text, named.textPair, named.label], [3, 2, 0])
        XCTAssertThrowsError(try ColumnChoice.choose(in: single, options: ColumnOptions(label: "y"), needLabel: true)) { error in
            XCTAssertEqual("\(error)", "\(single.path): no column \"y\" (--label-column); the columns are: id, label, review, other")
        }
        XCTAssertNil(try ColumnChoice.choose(in: single, options: ColumnOptions(label: "y"), needLabel: false).label)
    }

    func testLabelsAreSortedDistinctValuesOrScores() throws {
        func finish(_ labels: [String], _ type: TaskType? = nil) throws -> (LabelScheme, [Label]) {
            var c = LabelCollector(path: "f.csv", column: "label")
            for (i, l) in labels.enumerated() { try c.add(l, line: i + 2) }
            return try c.finish(taskType: type)
        }
        let ints = try finish(["10", "2", "-1", "2"])
        XCTAssertEqual(ints.0, .classes(["-1", "2", "10"]))
        XCTAssertEqual(ints.1, [.classIndex(2), .classIndex(1), .classIndex(0), .classIndex(1)])
        XCTAssertEqual(try finish(["b", "B", "a", "é"]).0, .classes(["B", "a", "b", "é"]))
        XCTAssertEqual(try finish(["1", "0.5", "3"]).0, .regression)
        XCTAssertEqual(try finish(["1.0", "2.0"]).1, [.score(1), .score(2)])
        XCTAssertEqual(try finish(["1", "2"], .regression).1, [.score(1), .score(2)])
        XCTAssertEqual(try finish(["1.5", "2"], .classification).0, .classes(["1.5", "2"]))
        XCTAssertThrowsError(try finish(["1.5", "high", "2"], .regression)) { error in
            XCTAssertEqual(error as? DataFileError, .notANumber(path: "f.csv", line: 3, column: "label", value: "high"))
        }
        XCTAssertThrowsError(try finish(["1", " "])) { error in
            XCTAssertEqual(error as? DataFileError, .emptyLabel(path: "f.csv", line: 3, column: "label"))
        }
        let scheme = LabelScheme.classes(["neg", "pos"])
        XCTAssertEqual(try scheme.label("pos", path: "d.csv", line: 4, column: "label", index: scheme.classIndex), .classIndex(1))
        XCTAssertThrowsError(try scheme.label("1", path: "d.csv", line: 4, column: "label", index: scheme.classIndex)) { error in
            XCTAssertEqual(error as? DataFileError, .unknownLabel(path: "d.csv", line: 4, value: "1", known: ["neg", "pos"]))
        }
        XCTAssertEqual(try scheme.label("1", path: "d.csv", line: 4, column: "label", index: scheme.classIndex, indexFallback: true), .classIndex(1))
    }

    func testUserTaskMetrics() throws {
        let t = try GLUETask.user(name: "tickets", scheme: .classes(["a", "b", "c"]), primary: "f1_macro")
        XCTAssertEqual(t.metrics, [.accuracy, .macroF1, .matthews])
        XCTAssertEqual(t.primaryMetric, .macroF1)
        XCTAssertEqual(t.numLabels, 3)
        XCTAssertEqual(try GLUETask.user(name: "s", scheme: .regression, primary: nil).primaryMetric, .pearson)
        XCTAssertThrowsError(try GLUETask.user(name: "s", scheme: .regression, primary: "accuracy"))
        let report = try t.evaluate(predictions: [.classIndex(0), .classIndex(1), .classIndex(2), .classIndex(1)],
                                    labels: [.classIndex(0), .classIndex(1), .classIndex(1), .classIndex(2)])
        XCTAssertEqual(report[.accuracy], 0.5)
        XCTAssertEqual(report[.macroF1]!, (1 + 0.5 + 0) / 3, accuracy: 1e-12)
    }

    func testCSVWritingRoundTrips() throws {
        let values = ["plain", "a, b", "say \"hi\"", "two\nlines", " padded", ""]
        let path = try file("out.csv", CSVWriting.row(["v", "w"]) + values.map { CSVWriting.row([$0, "x"]) }.joined())
        XCTAssertEqual(try rows(path, ["v"]).map { $0.1[0] }, values)
    }
}

extension DataFileReaderTests {
    func testUserTaskNames() {
        XCTAssertEqual(GLUETask.userTaskName(path: "data/reviews.csv"), "reviews")
        XCTAssertEqual(GLUETask.userTaskName(path: "examples/tickets/train.csv"), "tickets")
        XCTAssertEqual(GLUETask.userTaskName(path: "dev.jsonl"), URL(fileURLWithPath: ".").standardizedFileURL.lastPathComponent)
    }
}
