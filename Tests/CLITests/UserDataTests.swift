// Your own data through the real binary: train on the shipped CSV, predict names, evaluate; bad files refused.
import Foundation
import TestSupport
import XCTest

final class UserDataTests: XCTestCase {
    var scratch: URL!

    override func setUpWithError() throws {
        scratch = FileManager.default.temporaryDirectory.appendingPathComponent("lora-userdata-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: scratch) }

    var tickets: URL { TestPaths.repoRoot.appendingPathComponent("examples/tickets") }

    func model() throws -> String {
        try TestPaths.require(TestPaths.miniLMDirectory, hint: "scripts/fetch-model.sh installs it").get().path
    }

    func run(_ arguments: [String], file: StaticString = #filePath, line: UInt = #line) throws -> LoraProcess.Run {
        let r = try LoraProcess.run(arguments)
        XCTAssertEqual(r.status, 0, "\(arguments.joined(separator: " "))\n\(r.stderr)", file: file, line: line)
        return r
    }

    /// The README's example: train LoRA on examples/tickets, then predict and evaluate by label name.
    func testTrainPredictEvaluateOnTheShippedCSV() throws {
        let model = try model()
        let out = scratch.appendingPathComponent("run").path
        let train = try run(["train", "--model", model, "--train-file", tickets.appendingPathComponent("train.csv").path,
                             "--dev-file", tickets.appendingPathComponent("dev.csv").path, "--metric", "f1_macro",
                             "--epochs", "3", "--lr", "2e-3", "--max-length", "64", "--out", out])
        XCTAssertTrue(train.stderr.contains("3 classes: billing, delivery, technical"), train.stderr)
        XCTAssertTrue(train.stderr.contains("best checkpoint by f1_macro"), train.stderr)
        let labels = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out + "/adapter/labels.json"))) as! [String: Any]
        XCTAssertEqual(labels["id2label"] as? [String: String], ["0": "billing", "1": "delivery", "2": "technical"])
        let summary = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out + "/summary.json"))) as! [String: Any]
        XCTAssertEqual(summary["bestMetric"] as? String, "f1_macro")

        // predict --file writes names, probabilities and the id column, atomically, as JSON Lines and CSV.
        let jsonl = scratch.appendingPathComponent("p.jsonl").path
        _ = try run(["predict", "--model", model, "--adapter", out + "/adapter", "--file", tickets.appendingPathComponent("unlabelled.csv").path,
                     "--id-column", "ticket_id", "--output", jsonl])
        let lines = try String(contentsOfFile: jsonl, encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(lines.count, 12)
        for (i, l) in lines.enumerated() {
            let row = try JSONSerialization.jsonObject(with: Data(l.utf8)) as! [String: Any]
            XCTAssertEqual(row["id"] as? String, "T-\(1000 + i)")
            XCTAssertTrue(["billing", "delivery", "technical"].contains(row["label"] as? String ?? ""), "\(row)")
            let p = row["probabilities"] as! [Double]
            XCTAssertEqual(p.count, 3)
            XCTAssertEqual(p.reduce(0, +), 1, accuracy: 1e-4)
        }
        let csv = scratch.appendingPathComponent("p.csv").path
        _ = try run(["predict", "--model", model, "--adapter", out + "/adapter", "--file", tickets.appendingPathComponent("unlabelled.csv").path,
                     "--id-column", "ticket_id", "--output", csv])
        let csvLines = try String(contentsOfFile: csv, encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(csvLines.first, "id,label,probability_billing,probability_delivery,probability_technical")
        XCTAssertEqual(csvLines.count, 13)
        // The CSV's labels are the JSON Lines' labels.
        for (c, j) in zip(csvLines.dropFirst(), lines) {
            let row = try JSONSerialization.jsonObject(with: Data(j.utf8)) as! [String: Any]
            XCTAssertEqual(String(c.split(separator: ",")[1]), row["label"] as? String)
        }

        // eval --file reads the labels by name and reports the three classification metrics.
        let eval = try run(["eval", "--model", model, "--adapter", out + "/adapter", "--file", tickets.appendingPathComponent("dev.csv").path, "--json"])
        let report = try JSONSerialization.jsonObject(with: Data(eval.stdout.utf8)) as! [String: Any]
        XCTAssertEqual(report["examples"] as? Int, 60)
        for key in ["accuracy", "f1_macro", "matthews_correlation"] { XCTAssertNotNil(report[key] as? Double, key) }
        // The best dev score of training is what eval measures on the best adapter (merged there,
        // unmerged in training: at most one of the 60 answers may differ by rounding).
        XCTAssertEqual(report["f1_macro"] as! Double, summary["bestScore"] as! Double, accuracy: 0.03)
        XCTAssertEqual(report["primary"] as? String, "accuracy")

        // merge writes id2label into the merged model's config.json, for transformers' pipeline.
        let merged = scratch.appendingPathComponent("merged").path
        _ = try run(["merge", "--model", model, "--adapter", out + "/adapter", "--out", merged])
        let config = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: merged + "/config.json"))) as! [String: Any]
        XCTAssertEqual(config["id2label"] as? [String: String], ["0": "billing", "1": "delivery", "2": "technical"])
        XCTAssertEqual(config["label2id"] as? [String: Int], ["billing": 0, "delivery": 1, "technical": 2])
    }

    /// Every bad file ends with the file and line named, exit status 1, and no weights written.
    func testBadFilesAreRefusedWithTheLine() throws {
        let model = try model()
        let good = tickets.appendingPathComponent("train.csv").path
        func write(_ name: String, _ text: String) throws -> String {
            let url = scratch.appendingPathComponent(name)
            try Data(text.utf8).write(to: url)
            return url.path
        }
        func refuse(train: String, dev: String, says text: String, extra: [String] = [], line: UInt = #line) throws {
            let out = scratch.appendingPathComponent("out-\(line)")
            let r = try LoraProcess.run(["train", "--model", model, "--train-file", train, "--dev-file", dev, "--epochs", "1", "--out", out.path] + extra)
            XCTAssertEqual(r.status, 1, r.stderr, line: line)
            XCTAssertTrue(r.stderr.contains(text), "expected '\(text)' in:\n\(r.stderr)", line: line)
            XCTAssertFalse(r.stderr.contains("Fatal error"), r.stderr, line: line)
            let written = (try? FileManager.default.contentsOfDirectory(atPath: out.path)) ?? []
            XCTAssertFalse(written.contains("adapter") || written.contains("checkpoint.safetensors"), "\(written)", line: line)
        }
        let wrong = try write("wrong.csv", "text,label\nfine,a\ntoo,many,fields\n")
        try refuse(train: wrong, dev: good, says: "\(wrong):3: 3 fields, but the header has 2")
        let quote = try write("quote.csv", "text,label\n\"never closed,a\n")
        try refuse(train: quote, dev: good, says: "\(quote):2: the quoted field that opens in column 1 is never closed")
        try refuse(train: good, dev: good, says: "no column \"sentiment\" (--label-column); the columns are: text, label", extra: ["--label-column", "sentiment"])
        let header = try write("header.csv", "text,label\n")
        try refuse(train: header, dev: good, says: "\(header): the file has a header but no data rows")
        let emptyLabel = try write("emptylabel.csv", "text,label\nfine,a\nmissing,\n")
        try refuse(train: emptyLabel, dev: good, says: "\(emptyLabel):3: the label (column \"label\") is empty")
        let dev = try write("dev.csv", "text,label\nx,billing\ny,refunds\n")
        try refuse(train: good, dev: dev, says: "\(dev):3: label \"refunds\" is not one of the training labels: billing, delivery, technical")
        var bytes = Data("text,label\nok,a\n".utf8)
        bytes.append(contentsOf: [0x80])
        bytes.append(Data(",b\n".utf8))
        let utf8 = scratch.appendingPathComponent("utf8.csv")
        try bytes.write(to: utf8)
        try refuse(train: utf8.path, dev: good, says: "\(utf8.path):3: not valid UTF-8 (byte offset 16)")
        let notObject = try write("rows.jsonl", "{\"text\": \"a\", \"label\": 1}\n[\"b\", 2]\n")
        try refuse(train: notObject, dev: good, says: "\(notObject):2: a JSON Lines row must be an object, found an array")
        let mixed = try write("mixed.csv", "text,label\na,1.5\nb,high\n")
        try refuse(train: mixed, dev: good, says: "\(mixed):3: the label \"high\" (column \"label\") is not a finite number", extra: ["--task-type", "regression"])
        let empty = try write("empty.csv", "")
        try refuse(train: empty, dev: good, says: "\(empty): the file is empty")
    }

    /// Regression from JSON Lines (decimal labels), fully fine-tuned; predict gives scores.
    func testRegressionFromJSONLinesWithFullFineTuning() throws {
        let model = try model()
        let glue = try TestPaths.require(TestPaths.glueDirectory, hint: "set SWIFT_LORA_GLUE_DIR").get()
        let tsv = try String(contentsOf: glue.appendingPathComponent("STS-B/dev.tsv"), encoding: .utf8).split(separator: "\n").dropFirst().prefix(96)
        var jsonl = ""
        for line in tsv {
            let f = line.split(separator: "\t", omittingEmptySubsequences: false)
            let row: [String: Any] = ["sentence1": String(f[7]), "sentence2": String(f[8]), "similarity": Double(f[9])!]
            jsonl += String(decoding: try JSONSerialization.data(withJSONObject: row, options: [.sortedKeys]), as: UTF8.self) + "\n"
        }
        let data = scratch.appendingPathComponent("sts.jsonl")
        try Data(jsonl.utf8).write(to: data)
        let out = scratch.appendingPathComponent("full").path
        let train = try run(["train", "--model", model, "--train-file", data.path, "--dev-file", data.path, "--label-column", "similarity",
                             "--method", "full", "--epochs", "1", "--max-length", "64", "--out", out])
        XCTAssertTrue(train.stderr.contains("text: sentence1, pair: sentence2, label: similarity; regression; best checkpoint by pearson"), train.stderr)
        let config = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out + "/model/config.json"))) as! [String: Any]
        XCTAssertEqual(config["problem_type"] as? String, "regression")
        let predicted = try run(["predict", "--model", out + "/model", "--file", data.path])
        let rows = predicted.stdout.split(separator: "\n")
        XCTAssertEqual(rows.count, 96)
        let first = try JSONSerialization.jsonObject(with: Data(rows[0].utf8)) as! [String: Any]
        XCTAssertNotNil(first["score"] as? Double, "\(first)")
        XCTAssertNil(first["label"])
        let eval = try run(["eval", "--model", out + "/model", "--file", data.path, "--label-column", "similarity", "--metric", "spearman", "--json"])
        let report = try JSONSerialization.jsonObject(with: Data(eval.stdout.utf8)) as! [String: Any]
        XCTAssertEqual(report["primary"] as? String, "spearman")
        XCTAssertNotNil(report["pearson"] as? Double)
    }
}
