// Bad options and inputs through the real binary: exit status 64 or 1 and a message naming what was wrong.
import Foundation
import TestSupport
import XCTest

final class HardeningTests: XCTestCase {
    var scratch: URL!

    override func setUpWithError() throws {
        scratch = FileManager.default.temporaryDirectory.appendingPathComponent("lora-hardening-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: scratch) }

    func resources() throws -> (model: String, glue: String) {
        (try TestPaths.require(TestPaths.miniLMDirectory, hint: "scripts/fetch-model.sh installs it").get().path,
         try TestPaths.require(TestPaths.glueDirectory, hint: "set SWIFT_LORA_GLUE_DIR").get().path)
    }

    func expect(_ arguments: [String], status: Int32, says text: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let r = try LoraProcess.run(arguments)
        XCTAssertEqual(r.status, status, "\(arguments.joined(separator: " "))\n\(r.stderr)", file: file, line: line)
        XCTAssertTrue(r.stderr.contains(text), "expected '\(text)' in:\n\(r.stderr)", file: file, line: line)
        XCTAssertFalse(r.stderr.contains("Fatal error") || r.stderr.contains("backtrace"), r.stderr, file: file, line: line)
    }

    /// Options out of range are usage errors (64) that name the option and the range.
    func testOptionsOutOfRangeAreUsageErrors() throws {
        let (model, glue) = try resources()
        let train = ["train", "--model", model, "--task", "mrpc", "--data", glue, "--out", scratch.appendingPathComponent("t").path]
        try expect(train + ["--checkpoint-every", "0"], status: 64, says: "--checkpoint-every is 0; it must be an integer ≥ 1")
        try expect(train + ["--eval-every", "0"], status: 64, says: "--eval-every is 0")
        try expect(train + ["--lr=-1"], status: 64, says: "--lr is -1")
        try expect(train + ["--max-length", "1"], status: 64, says: "--max-length is 1")
        try expect(train + ["--lora-dropout", "1"], status: 64, says: "--lora-dropout is 1; it must be in [0, 1)")
        try expect(train + ["--threads", "0"], status: 64, says: "--threads is 0")
        try expect(["params", "--model", model, "--num-labels=-3"], status: 64, says: "--num-labels is -3")
        try expect(["params", "--model", model, "--rank", "100000"], status: 64, says: "--rank is 100000")
        try expect(["params", "--model", model, "--rank", "1000"], status: 64, says: "--rank is 1000; it must be an integer in 1…384")
        try expect(["predict", "--model", model, "--ids", "--max-length", "0"], status: 64, says: "--max-length is 0")
        try expect(["predict", "--model", model, "--max-length", "2"], status: 64, says: "--max-length is 2; it must be an integer in 3…")
        try expect(["eval", "--model", model, "--task", "mrpc", "--data", glue, "--max-length=-1"], status: 64, says: "--max-length is -1")
    }

    /// Writers refuse to overwrite their input or a directory that holds files.
    func testWritersRefuseTheirInputAndNonEmptyDirectories() throws {
        let (model, glue) = try resources()
        let adapter = TestPaths.fixture("interop/minilm-mrpc-adapter").path
        try expect(["merge", "--model", model, "--adapter", adapter, "--out", model], status: 64, says: "is the input directory")
        let full = scratch.appendingPathComponent("full")
        try FileManager.default.createDirectory(at: full, withIntermediateDirectories: true)
        try Data("x".utf8).write(to: full.appendingPathComponent("notes.txt"))
        try expect(["merge", "--model", model, "--adapter", adapter, "--out", full.path], status: 64, says: "already holds files (notes.txt)")
        let forced = try LoraProcess.run(["merge", "--model", model, "--adapter", adapter, "--out", full.path, "--force"])
        XCTAssertEqual(forced.status, 0, forced.stderr)
        try expect(["train", "--model", model, "--task", "mrpc", "--data", glue, "--out", full.path], status: 64, says: "already holds files")
    }

    /// No trained head: eval refuses unless asked, predict warns and marks every line.
    func testARandomHeadIsNeverSilent() throws {
        let (model, glue) = try resources()
        try expect(["eval", "--model", model, "--task", "mrpc", "--data", glue, "--max-examples", "8"], status: 64,
                   says: "has no trained head for MRPC")
        let allowed = try LoraProcess.run(["eval", "--model", model, "--task", "mrpc", "--data", glue, "--max-examples", "8", "--allow-random-head"])
        XCTAssertEqual(allowed.status, 0, allowed.stderr)
        XCTAssertTrue(allowed.stderr.contains("warning:"), allowed.stderr)
        let process = Process()
        process.executableURL = try LoraProcess.binary()
        process.arguments = ["predict", "--model", model]
        let input = Pipe(), output = Pipe(), errors = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        input.fileHandleForWriting.write(Data("a sentence\n".utf8))
        try input.fileHandleForWriting.close()
        let out = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let err = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 0, err)
        XCTAssertTrue(out.contains("\"random_head\": true"), out)
        XCTAssertTrue(err.contains("warning:"), err)
    }

    /// A loss that explodes stops the run (exit 1) naming the step, as a NaN loss does.
    func testADivergingRunStops() throws {
        let (model, glue) = try resources()
        let out = scratch.appendingPathComponent("diverge")
        let r = try LoraProcess.run(["train", "--model", model, "--task", "mrpc", "--data", glue, "--method", "full", "--lr", "1000",
                                     "--warmup-ratio", "0", "--epochs", "1", "--max-train-examples", "160", "--max-dev-examples", "8",
                                     "--max-length", "32", "--threads", "1", "--out", out.path])
        XCTAssertEqual(r.status, 1, r.stderr)
        XCTAssertTrue(r.stderr.contains("more than 100 times") || r.stderr.contains("became nan") || r.stderr.contains("gradient norm became"), r.stderr)
    }

    /// --resume refuses a checkpoint of another run and names the field that differs.
    func testResumeRefusesAnotherRunsCheckpoint() throws {
        let (model, glue) = try resources()
        let out = scratch.appendingPathComponent("resume")
        let base = ["train", "--model", model, "--task", "mrpc", "--data", glue, "--epochs", "1", "--max-dev-examples", "8",
                    "--max-length", "32", "--threads", "1", "--checkpoint-every", "1", "--out", out.path]
        var env = ProcessInfo.processInfo.environment
        env["SWIFT_LORA_TEST_KILL"] = "resume:2"
        let first = try LoraProcess.run(base + ["--max-train-examples", "64"], environment: env)
        XCTAssertNotEqual(first.status, 0, "the kill hook stops the run after step 2")
        XCTAssertTrue(FileManager.default.fileExists(atPath: out.appendingPathComponent("checkpoint.safetensors").path))
        try expect(base + ["--max-train-examples", "48", "--resume"], status: 1, says: "cannot resume: it was made by a different run (max_train_examples: the checkpoint has 64, this run has 48)")
        try expect(base + ["--max-train-examples", "64", "--resume", "--seed", "7"], status: 1, says: "seed: the checkpoint has 42, this run has 7")
        let resumed = try LoraProcess.run(base + ["--max-train-examples", "64", "--resume"])
        XCTAssertEqual(resumed.status, 0, resumed.stderr)
    }

    /// SIGTERM mid-run: exit 128 + 15, and no temporary file is left behind.
    func testInterruptedRunLeavesNoTemporaryFiles() throws {
        let (model, glue) = try resources()
        let out = scratch.appendingPathComponent("interrupted")
        let process = Process()
        process.executableURL = try LoraProcess.binary()
        process.arguments = ["train", "--model", model, "--task", "mrpc", "--data", glue, "--method", "full", "--epochs", "1",
                             "--max-train-examples", "400", "--max-dev-examples", "8", "--max-length", "64", "--threads", "1",
                             "--checkpoint-every", "1", "--out", out.path]
        process.standardError = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        // Wait until checkpoints are being written, then interrupt.
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline && !FileManager.default.fileExists(atPath: out.appendingPathComponent("checkpoint.safetensors").path) {
            usleep(50_000)
        }
        usleep(300_000)
        kill(process.processIdentifier, SIGTERM)
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 143)
        let left = (try? FileManager.default.contentsOfDirectory(atPath: out.path)) ?? []
        XCTAssertFalse(left.contains { $0.contains(".tmp") }, "\(left)")
    }
}
