import XCTest
@testable import GLUE

final class TaskRegistryTests: XCTestCase {
    func testAllNineTasksAreRegisteredWithMNLITwice() {
        XCTAssertEqual(GLUETask.knownNames,
                       ["CoLA", "SST-2", "MRPC", "QQP", "STS-B", "MNLI", "MNLI-MM", "QNLI", "RTE", "WNLI"])
        XCTAssertEqual(Set(GLUETask.all.map(\.directoryName)).count, 9)
    }

    func testLookupIsCaseAndPunctuationInsensitive() throws {
        let cases: [(String, String)] = [
            ("sst2", "SST-2"), ("sst-2", "SST-2"), ("SST-2", "SST-2"), ("Sst_2", "SST-2"),
            ("stsb", "STS-B"), ("sts-b", "STS-B"), ("STS-B", "STS-B"),
            ("cola", "CoLA"), ("COLA", "CoLA"), ("mrpc", "MRPC"), ("qqp", "QQP"),
            ("mnli", "MNLI"), ("MNLI-m", "MNLI"), ("mnli_matched", "MNLI"),
            ("mnli-mm", "MNLI-MM"), ("MNLI_MM", "MNLI-MM"), ("mnli-mismatched", "MNLI-MM"),
            ("qnli", "QNLI"), ("rte", "RTE"), ("wnli", "WNLI"), (" wnli ", "WNLI"),
        ]
        for (input, expected) in cases {
            XCTAssertEqual(try GLUETask.named(input).name, expected, "lookup of \(input)")
        }
    }

    func testUnknownTaskListsKnownNames() {
        assertThrows(GLUEError.unknownTask(name: "sst3", known: GLUETask.knownNames)) { try GLUETask.named("sst3") }
        assertThrows(GLUEError.unknownTask(name: "", known: GLUETask.knownNames)) { try GLUETask.named("") }
        assertThrows(GLUEError.unknownTask(name: "--", known: GLUETask.knownNames)) { try GLUETask.named("--") }
        let message = GLUEError.unknownTask(name: "x", known: GLUETask.knownNames).description
        XCTAssertTrue(message.contains("CoLA, SST-2, MRPC, QQP, STS-B, MNLI, MNLI-MM, QNLI, RTE, WNLI"), message)
    }

    func testLabelsAndShapes() {
        let expected: [(GLUETask, Int, Bool, Bool, [String])] = [
            (.cola, 2, false, false, ["0", "1"]),
            (.sst2, 2, false, false, ["0", "1"]),
            (.mrpc, 2, true, false, ["0", "1"]),
            (.qqp, 2, true, false, ["0", "1"]),
            (.stsb, 1, true, true, []),
            (.mnli, 3, true, false, ["contradiction", "entailment", "neutral"]),
            (.mnliMismatched, 3, true, false, ["contradiction", "entailment", "neutral"]),
            (.qnli, 2, true, false, ["entailment", "not_entailment"]),
            (.rte, 2, true, false, ["entailment", "not_entailment"]),
            (.wnli, 2, true, false, ["0", "1"]),
        ]
        for (task, numLabels, pair, regression, tokens) in expected {
            XCTAssertEqual(task.numLabels, numLabels, task.name)
            XCTAssertEqual(task.isPairTask, pair, task.name)
            XCTAssertEqual(task.isRegression, regression, task.name)
            XCTAssertEqual(task.labelTokens, tokens, task.name)
            XCTAssertEqual(task.labelNames.count, tokens.count, task.name)
        }
        XCTAssertEqual(GLUETask.cola.labelNames, ["unacceptable", "acceptable"])
        XCTAssertEqual(GLUETask.stsb.kind, .regression(range: 0...5))
    }

    func testMetricsAndPrimaryMetric() {
        let expected: [(GLUETask, [Metric], Metric)] = [
            (.cola, [.matthews], .matthews),
            (.sst2, [.accuracy], .accuracy),
            (.mrpc, [.accuracy, .f1], .accuracy),
            (.qqp, [.accuracy, .f1], .accuracy),
            (.stsb, [.pearson, .spearman], .pearson),
            (.mnli, [.accuracy], .accuracy),
            (.mnliMismatched, [.accuracy], .accuracy),
            (.qnli, [.accuracy], .accuracy),
            (.rte, [.accuracy], .accuracy),
            (.wnli, [.accuracy], .accuracy),
        ]
        for (task, metrics, primary) in expected {
            XCTAssertEqual(task.metrics, metrics, task.name)
            XCTAssertEqual(task.primaryMetric, primary, task.name)
        }
    }

    func testSplitFilesAndLayouts() throws {
        for task in GLUETask.all where !task.name.hasPrefix("MNLI") {
            XCTAssertEqual(task.splitFileNames, [.train: "train.tsv", .dev: "dev.tsv"], task.name)
        }
        XCTAssertEqual(GLUETask.mnli.splitFileNames, [.train: "train.tsv", .dev: "dev_matched.tsv"])
        XCTAssertEqual(GLUETask.mnliMismatched.splitFileNames, [.train: "train.tsv", .dev: "dev_mismatched.tsv"])
        XCTAssertEqual(GLUETask.mnli.directoryName, "MNLI")
        XCTAssertEqual(GLUETask.mnliMismatched.directoryName, "MNLI")

        // (task, split) -> (columns, textA, textB, label, header)
        let layouts: [(GLUETask, Split, Int, Int, Int?, Int, Bool)] = [
            (.cola, .train, 4, 3, nil, 1, false),
            (.sst2, .train, 2, 0, nil, 1, true),
            (.mrpc, .train, 5, 3, 4, 0, true),
            (.qqp, .train, 6, 3, 4, 5, true),
            (.stsb, .train, 10, 7, 8, 9, true),
            (.mnli, .train, 12, 8, 9, 11, true),
            (.mnli, .dev, 16, 8, 9, 15, true),
            (.mnliMismatched, .dev, 16, 8, 9, 15, true),
            (.qnli, .dev, 4, 1, 2, 3, true),
            (.rte, .dev, 4, 1, 2, 3, true),
            (.wnli, .dev, 4, 1, 2, 3, true),
        ]
        for (task, split, count, a, b, label, header) in layouts {
            let layout = try XCTUnwrap(task.splits[split]?.layout, "\(task.name) \(split)")
            XCTAssertEqual(layout.columns.count, count, "\(task.name) \(split)")
            XCTAssertEqual(layout.textAColumn, a, "\(task.name) \(split)")
            XCTAssertEqual(layout.textBColumn, b, "\(task.name) \(split)")
            XCTAssertEqual(layout.labelColumn, label, "\(task.name) \(split)")
            XCTAssertEqual(layout.hasHeader, header, "\(task.name) \(split)")
        }
        XCTAssertEqual(GLUETask.mnli.splits[.dev]?.layout.columns.last, "gold_label")
        XCTAssertEqual(GLUETask.qqp.splits[.train]?.layout.columns,
                       ["id", "qid1", "qid2", "question1", "question2", "is_duplicate"])
    }

    func testFileURL() throws {
        let root = URL(fileURLWithPath: "/data/glue")
        XCTAssertEqual(try GLUETask.mnliMismatched.fileURL(for: .dev, in: root).path, "/data/glue/MNLI/dev_mismatched.tsv")
        XCTAssertEqual(try GLUETask.sst2.fileURL(for: .train, in: root).path, "/data/glue/SST-2/train.tsv")
    }
}
