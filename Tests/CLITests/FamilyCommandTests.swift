// Every encoder family through the real binary: lora train, predict, bench train and bench infer on its tiny checkpoint.
import Foundation
import TestSupport
import XCTest

final class FamilyCommandTests: XCTestCase {
    var scratch: URL!

    override func setUpWithError() throws {
        scratch = FileManager.default.temporaryDirectory.appendingPathComponent("lora-families-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: scratch) }

    /// The tiny checkpoint of each family, with where its special tokens sit.
    static let families: [(fixture: String, specials: [String: Int])] = [
        ("tiny-bert", bertIds), ("tiny-electra", bertIds), ("tiny-distilbert", bertIds),
        ("tiny-roberta", robertaIds), ("tiny-xlm-roberta", robertaIds), ("tiny-camembert", robertaIds),
        ("tiny-modernbert", ["[UNK]": 0, "[CLS]": 1, "[SEP]": 2, "[PAD]": 3, "[MASK]": 4]),
    ]
    static let bertIds = TinyModels.bertSpecials
    static let robertaIds = ["[CLS]": 0, "[PAD]": 1, "[SEP]": 2, "[UNK]": 3, "[MASK]": 4]

    func run(_ arguments: [String], file: StaticString = #filePath, line: UInt = #line) throws -> LoraProcess.Run {
        let r = try LoraProcess.run(arguments)
        XCTAssertEqual(r.status, 0, "lora \(arguments.joined(separator: " "))\n\(r.stderr)", file: file, line: line)
        return r
    }

    func testEveryFamilyTrainsPredictsAndBenchmarks() throws {
        for (fixture, specials) in Self.families {
            let (model, words) = try TinyModels.withVocabulary(fixture, specials: specials, in: scratch)
            // A two-label task whose label is visible in the text.
            var rows = ["text,label"]
            for i in 0..<24 {
                let label = i % 2
                let text = (0..<(4 + i % 5)).map { words[(i * 7 + $0 * (label + 2)) % (words.count / 2) + label * words.count / 2] }
                rows.append("\(text.joined(separator: " ")),\(label == 0 ? "no" : "yes")")
            }
            let data = scratch.appendingPathComponent("\(fixture).csv")
            try (rows.joined(separator: "\n") + "\n").write(to: data, atomically: true, encoding: .utf8)
            let out = scratch.appendingPathComponent("\(fixture)-run").path
            let train = try run(["train", "--model", model.path, "--train-file", data.path, "--dev-file", data.path, "--epochs", "2",
                                 "--batch-size", "8", "--max-length", "24", "--lr", "1e-3", "--threads", "1", "--out", out])
            XCTAssertTrue(FileManager.default.fileExists(atPath: out + "/adapter/adapter_model.safetensors"), "\(fixture): \(train.stderr)")
            let predicted = scratch.appendingPathComponent("\(fixture)-predictions.jsonl").path
            _ = try run(["predict", "--model", model.path, "--adapter", out + "/adapter", "--file", data.path, "--max-length", "24",
                         "--output", predicted])
            let lines = try String(contentsOfFile: predicted, encoding: .utf8).split(separator: "\n")
            XCTAssertEqual(lines.count, 24, fixture)
            XCTAssertTrue(lines.allSatisfy { $0.contains("\"yes\"") || $0.contains("\"no\"") }, "\(fixture): \(lines.first ?? "")")
            for method in ["lora", "full"] {
                let bench = try run(["bench", "train", "--model", model.path, "--method", method, "--batch", "4", "--seq", "16",
                                     "--steps", "1", "--warmup", "0", "--threads", "1", "--json"])
                XCTAssertTrue(bench.stdout.contains("\"tokens_per_s\""), "\(fixture) bench train \(method): \(bench.stdout)")
            }
            let infer = try run(["bench", "infer", "--model", model.path, "--batch", "2", "--seq", "16", "--steps", "1", "--warmup", "0",
                                 "--threads", "1", "--json"])
            XCTAssertTrue(infer.stdout.contains("\"tokens_per_s\""), "\(fixture) bench infer: \(infer.stdout)")
        }
    }
}

/// `lora reproduce --transfer-adapter`: the plan starts the LoRA runs of MRPC, RTE and STS-B
/// from the adapter, with its rank, alpha and targets, and leaves the others alone.
final class TransferAdapterPlanTests: XCTestCase {
    func testTransferAdapterGoesIntoThePlanOfMRPCRTEAndSTSB() throws {
        let model = try TestPaths.require(TestPaths.miniLMDirectory, hint: "scripts/fetch-model.sh installs it").get().path
        let adapter = TestPaths.fixture("interop/minilm-mrpc-adapter").path
        let r = try LoraProcess.run(["reproduce", "--model", model, "--data", "unused", "--out", "unused", "--budget", "quick",
                                     "--seeds", "42", "--transfer-adapter", adapter, "--print-plan"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let plan = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as! [String: Any]
        let runs = plan["runs"] as! [[String: Any]]
        XCTAssertEqual(runs.count, 10)
        let config = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: adapter + "/adapter_config.json"))) as! [String: Any]
        for run in runs {
            let task = run["task"] as! String, method = run["method"] as! String
            let transferred = method == "lora" && ["MRPC", "RTE", "STS-B"].contains(task)
            XCTAssertEqual(run["init_adapter"] as? String, transferred ? adapter : nil, "\(task) \(method)")
            if transferred {
                let lora = run["lora"] as! [String: Any]
                XCTAssertEqual((lora["r"] as! NSNumber).intValue, (config["r"] as! NSNumber).intValue, "\(task): the adapter's rank")
            }
        }
    }
}
