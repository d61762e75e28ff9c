// The study end to end through the real binary: child processes, a killed run, the reader.
import Foundation
import Study
import TestSupport
import XCTest

/// Runs `lora reproduce` and `lora train` and reads what they wrote with the study reader,
/// so the report is tested on the files the tool really writes (not on hand-made fixtures).
final class StudyPipelineTests: XCTestCase {
    func requireResources() throws -> (model: String, glue: String) {
        let model = try TestPaths.require(TestPaths.miniLMDirectory, hint: "scripts/fetch-model.sh installs it").get()
        let glue = try TestPaths.require(TestPaths.glueDirectory, hint: "set SWIFT_LORA_GLUE_DIR").get()
        return (model.path, glue.path)
    }

    func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("lora-study-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: url) }
        return url
    }

    /// Each run is a child process; one is SIGKILLed at its second step: the parent records
    /// it (exit status, stderr tail) in failed.json and the report, finishes the others,
    /// exits 1; the next invocation retries it and the study completes with every figure.
    func testReproduceSurvivesAKilledChildAndRetriesIt() throws {
        let (model, glue) = try requireResources()
        let study = try temporaryDirectory().appendingPathComponent("study")
        let arguments = ["reproduce", "--model", model, "--data", glue, "--out", study.path, "--budget", "smoke",
                         "--tasks", "rte", "--seeds", "42,43", "--latency-rounds", "2"]
        var env = ProcessInfo.processInfo.environment
        env["SWIFT_LORA_TEST_KILL"] = "RTE-lora-seed43:2"
        let first = try LoraProcess.run(arguments, environment: env)
        XCTAssertEqual(first.status, 1, "a failed child makes the study exit 1\n" + first.stderr)
        let killed = study.appendingPathComponent("runs/RTE-lora-seed43")
        let failure = try JSONDecoder().decode(RunFailure.self, from: Data(contentsOf: killed.appendingPathComponent("failed.json")))
        XCTAssertEqual(failure.signalled, true)
        XCTAssertEqual(failure.exitStatus, 9)
        XCTAssertFalse(FileManager.default.fileExists(atPath: killed.appendingPathComponent("summary.json").path))
        for other in ["RTE-full-seed42", "RTE-lora-seed42", "RTE-full-seed43"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: study.appendingPathComponent("runs/\(other)/summary.json").path), other)
        }
        let report = try String(contentsOf: study.appendingPathComponent("report.md"), encoding: .utf8)
        XCTAssertTrue(report.contains("RTE-lora-seed43: its process failed (signal 9 (SIGKILL))"), report)

        let second = try LoraProcess.run(arguments)
        XCTAssertEqual(second.status, 0, second.stderr)
        XCTAssertTrue(second.stderr.contains("RTE-full-seed42: done, skipped"), second.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: killed.appendingPathComponent("failed.json").path))

        let data = try StudyData.load(from: study)
        XCTAssertEqual(data.runs.count, 4)
        XCTAssertEqual(Set(data.runs.compactMap(\.seed)), [42, 43])
        let results = StudyAnalysis.analyze(data)
        for run in results.runs {
            XCTAssertEqual(run.status, "finished", run.directory ?? "")
            let memory = try XCTUnwrap(run.memory, run.directory ?? "")
            let average = try XCTUnwrap(memory.averageRSSMiB), peak = try XCTUnwrap(memory.peakRSSMiB)
            XCTAssertGreaterThan(average, 10)
            XCTAssertGreaterThanOrEqual(peak, average * 0.99)
            XCTAssertGreaterThan(try XCTUnwrap(memory.activationsPeakMiB), 0)
            XCTAssertGreaterThan(try XCTUnwrap(run.power?.cpuSeconds), 0)
        }
        XCTAssertEqual(results.runs.filter(\.isMedian).count, 2, "one median run per method")
        let latency = try XCTUnwrap(results.task("RTE")?.latency)
        XCTAssertEqual(latency.rounds, 2)
        for figures in [latency.fft, latency.loraMerged, latency.loraUnmerged] {
            let f = try XCTUnwrap(figures)
            XCTAssertGreaterThan(f.devPassMedianSeconds, 0)
            XCTAssertGreaterThanOrEqual(try XCTUnwrap(f.singleP95Seconds), try XCTUnwrap(f.singleP50Seconds))
        }
        XCTAssertLessThan(try XCTUnwrap(latency.mergedVsUnmergedMaxAbsLogitDifference), 1e-3)
        XCTAssertEqual(results.claims.map(\.id), ["parameters", "scores", "inference_latency", "memory", "energy"])
        XCTAssertEqual(results.claims.first?.holds, true, "LoRA trains < 1 % of MiniLM's parameters")
        let scores = try XCTUnwrap(results.task("RTE"))
        XCTAssertEqual(scores.fftSeedScores.count, 2)
        XCTAssertEqual(scores.loraSeedScores.count, 2)
        let manifest = try XCTUnwrap(data.manifest)
        XCTAssertEqual(manifest.seeds, [42, 43])
        XCTAssertNotNil(manifest.version)
        XCTAssertEqual(manifest.plan?.count, 2)
    }

    /// `--methods full,lora,lora+,pissa`: the four methods' runs, in their own directories, with
    /// LoRA+'s ratio and PiSSA's initialisation in their summaries; the report's Table 2 and the
    /// "Beyond the paper" section show the two additions and their goals are checked.
    func testReproduceWithTheExtraMethods() throws {
        let (model, glue) = try requireResources()
        let study = try temporaryDirectory().appendingPathComponent("study")
        let r = try LoraProcess.run(["reproduce", "--model", model, "--data", glue, "--out", study.path, "--budget", "smoke",
                                     "--tasks", "rte", "--seeds", "42", "--latency-rounds", "1", "--methods", "full,lora,lora+,pissa"])
        XCTAssertEqual(r.status, 0, r.stderr)
        for name in ["RTE-full-seed42", "RTE-lora-seed42", "RTE-loraplus-seed42", "RTE-pissa-seed42"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: study.appendingPathComponent("runs/\(name)/summary.json").path), name)
        }
        func options(_ name: String) throws -> [String: Any] {
            let summary = try JSONSerialization.jsonObject(with: Data(contentsOf: study.appendingPathComponent("runs/\(name)/summary.json"))) as! [String: Any]
            return summary["options"] as! [String: Any]
        }
        XCTAssertEqual((try options("RTE-loraplus-seed42")["loraPlusRatio"] as? NSNumber)?.doubleValue, 16)
        XCTAssertEqual((try options("RTE-pissa-seed42")["lora"] as? [String: Any])?["initialisation"] as? String, "pissa")
        XCTAssertNil(try options("RTE-lora-seed42")["loraPlusRatio"])
        let results = StudyAnalysis.analyze(try StudyData.load(from: study))
        XCTAssertEqual(results.task("RTE")?.additions?.map(\.method), [.loraPlus, .pissa])
        XCTAssertEqual(results.claims.count, 5)
        XCTAssertEqual(results.additionGoals?.map(\.id), ["loraplus_scores", "loraplus_time_energy", "pissa_scores", "pissa_time_energy"])
        let report = try String(contentsOf: study.appendingPathComponent("report.md"), encoding: .utf8)
        XCTAssertTrue(report.contains("| LoRA+ (ours) |") && report.contains("| PiSSA (ours) |"), report)
        XCTAssertTrue(report.contains("## Beyond the paper: LoRA+, PiSSA against FFT at iso-accuracy"), report)
        // A PiSSA adapter is saved for the original base (rank 2r).
        let adapter = try JSONSerialization.jsonObject(with: Data(contentsOf: study.appendingPathComponent("runs/RTE-pissa-seed42/adapter/adapter_config.json"))) as! [String: Any]
        XCTAssertEqual((adapter["r"] as? NSNumber)?.intValue, 16)
    }

    /// `lora train`'s own output (log.jsonl, summary.json) read by the study reader: the seed
    /// from the directory name, every evaluation, the parameter counts and paths relative to
    /// the run directory.
    func testTrainOutputReadsThroughTheStudyReader() throws {
        let (model, glue) = try requireResources()
        let study = try temporaryDirectory()
        let run = study.appendingPathComponent("runs/MRPC-lora-seed7")
        let r = try LoraProcess.run(["train", "--model", model, "--task", "mrpc", "--data", glue, "--method", "lora", "--epochs", "2",
                             "--max-train-examples", "32", "--max-dev-examples", "16", "--max-length", "64", "--seed", "7",
                             "--eval-every", "1", "--threads", "1", "--out", run.path])
        XCTAssertEqual(r.status, 0, r.stderr)
        let data = try StudyData.load(from: study)
        let loaded = try XCTUnwrap(data.runs.first)
        XCTAssertEqual(loaded.seed, 7)
        XCTAssertEqual(loaded.method, .lora)
        XCTAssertEqual(loaded.evals.count, 4, "2 steps per epoch, evaluated every step")
        XCTAssertEqual(loaded.summary?.weightsPath, "adapter")
        let results = StudyAnalysis.analyze(data)
        let result = try XCTUnwrap(results.run(task: "MRPC", method: .lora))
        XCTAssertEqual(result.status, "finished")
        XCTAssertEqual(result.steps, 4)
        XCTAssertEqual(result.evaluations, 4)
        XCTAssertLessThan(try XCTUnwrap(result.trainableParameters), try XCTUnwrap(result.totalParameters) / 100)
        XCTAssertEqual(results.task("MRPC")?.loraSeedScores.map(\.seed), [7])
    }
}
