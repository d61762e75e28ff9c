import Foundation
import TestSupport
import XCTest

/// Runs the `lora` executable itself: argument parsing, the OpenBLAS re-exec at start-up, exit
/// codes and error messages. The binary is `$SWIFT_LORA_BIN`, else `.build/release/lora`
/// (`scripts/test.sh` builds it for the smoke study before the unit tests run).
final class CommandLineTests: XCTestCase {
    func run(_ arguments: [String], environment: [String: String]? = nil) throws -> LoraProcess.Run {
        try LoraProcess.run(arguments, environment: environment)
    }

    /// `lora params` on the tiny RoBERTa fixture (2 layers, hidden 36, 2 labels): r = 8 on
    /// query and value gives 2 · 2 · 8 · (36 + 36) adapter parameters, and the head
    /// (dense 36×36 + 36, out_proj 2×36 + 2) trains too. Run without
    /// `OPENBLAS_THREAD_TIMEOUT` so the start-up re-exec is taken.
    func testParamsCountsAdaptersAndHead() throws {
        var env = ProcessInfo.processInfo.environment
        env.removeValue(forKey: "OPENBLAS_THREAD_TIMEOUT")
        let model = TestPaths.fixture("encoders/tiny-roberta").path
        let r = try run(["params", "--model", model, "--method", "lora"], environment: env)
        XCTAssertEqual(r.status, 0, r.stderr)
        let adapters = 2 * 2 * 8 * (36 + 36), head = 36 * 36 + 36 + 2 * 36 + 2
        let n = adapters + head
        let expected = "\(n / 1000),\(String(n % 1000).leftPadded(to: 3))"
        XCTAssertTrue(r.stdout.contains("trainable:           \(expected)"), r.stdout)
        XCTAssertTrue(r.stdout.contains("adapters 2,304 + head 1,406"), r.stdout)

        let full = try run(["params", "--model", model, "--method", "full"])
        XCTAssertEqual(full.status, 0, full.stderr)
        XCTAssertTrue(full.stdout.contains("26,330"), full.stdout)
    }

    /// Bad input: each error names what was wrong, and the exit status is non-zero.
    func testBadInputFailsWithAClearMessage() throws {
        let model = TestPaths.fixture("encoders/tiny-roberta").path
        let unknown = try run(["train", "--model", model, "--task", "NOPE", "--data", "/nonexistent", "--out", NSTemporaryDirectory() + "lora-cli-test"])
        XCTAssertNotEqual(unknown.status, 0)
        XCTAssertTrue(unknown.stderr.contains("unknown GLUE task \"NOPE\""), unknown.stderr)

        let noModel = try run(["params", "--model", "/nonexistent/model-dir"])
        XCTAssertNotEqual(noModel.status, 0)
        XCTAssertTrue(noModel.stderr.contains("/nonexistent/model-dir"), noModel.stderr)

        let badFlag = try run(["params", "--model", model, "--no-such-flag"])
        XCTAssertNotEqual(badFlag.status, 0)
        XCTAssertTrue(badFlag.stderr.contains("no-such-flag"), badFlag.stderr)
    }
}

extension String {
    func leftPadded(to width: Int) -> String { String(repeating: "0", count: max(0, width - count)) + self }
}

/// `--fp32-gemm`: auto falls back to OpenBLAS without oneDNN; onednn then fails, naming the library.
final class FP32GemmOptionTests: XCTestCase {
    func testMissingOneDNNFallsBackUnderAutoAndFailsWhenAskedFor() throws {
        let model = try TestPaths.require(TestPaths.miniLMDirectory, hint: "scripts/fetch-model.sh installs it").get()
        var env = ProcessInfo.processInfo.environment
        env["LORA_ONEDNN_LIBRARY"] = "/nonexistent/libdnnl.so.2"
        let base = ["bench", "infer", "--model", model.path, "--batch", "1", "--seq", "16", "--steps", "1", "--warmup", "0", "--json"]
        let auto = try LoraProcess.run(base, environment: env)
        XCTAssertEqual(auto.status, 0, auto.stderr)
        XCTAssertTrue(auto.stdout.contains("\"fp32_gemm\":\"openblas\"") || auto.stdout.contains("\"fp32_gemm\": \"openblas\""), auto.stdout)
        let forced = try LoraProcess.run(base + ["--fp32-gemm", "onednn"], environment: env)
        XCTAssertNotEqual(forced.status, 0)
        XCTAssertTrue(forced.stderr.contains("cannot open /nonexistent/libdnnl.so.2"), forced.stderr)
        env["LORA_ONEDNN_LIBRARY"] = nil
        let found = try LoraProcess.run(base + ["--fp32-gemm", "onednn"], environment: env)
        XCTAssertEqual(found.status, 0, "oneDNN is installed by scripts/setup.sh (libdnnl2): " + found.stderr)
    }
}
