// `mpirun -np N lora train`: the weights do not depend on N, a killed process ends the job and the restart resumes, and two network namespaces over TCP give the same weights.
import Foundation
import SafeTensors
import Study
import TestSupport
import XCTest

/// Data-parallel training through the real binary under Open MPI's `mpirun`, on this machine
/// (`--oversubscribe`, one thread per process).
///
/// Equality is per tensor: `‖W_N − W_1‖₂ / ‖W_1‖₂ ≤ 1e-5`. The processes split each batch, so
/// the gradient's sums over tokens are added in another order and the weights differ by
/// rounding, which Adam's normalised steps carry on. Attention key biases are the exception:
/// softmax is unchanged by adding the same number to every score of a query, so their true
/// gradient is exactly zero and what every run computes for them is rounding noise, which Adam
/// turns into steps of up to `lr`. They are held to `|Δ| ≤ 2 Σ lr` instead.
final class DataParallelTests: XCTestCase {
    static let tolerance = 1e-5

    func resources() throws -> (model: String, glue: String, mpirun: URL) {
        let model = try TestPaths.require(TestPaths.miniLMDirectory, hint: "scripts/fetch-model.sh installs it").get()
        let glue = try TestPaths.require(TestPaths.glueDirectory, hint: "set SWIFT_LORA_GLUE_DIR").get()
        let path = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin").split(separator: ":").map { URL(fileURLWithPath: String($0)).appendingPathComponent("mpirun") }
        let found = path.first { FileManager.default.isExecutableFile(atPath: $0.path) } ?? URL(fileURLWithPath: "/usr/bin/mpirun")
        let mpirun = try TestPaths.require(found, hint: "Open MPI's mpirun is needed: scripts/setup.sh installs it (apt-get install openmpi-bin libopenmpi-dev)").get()
        return (model.path, glue.path, mpirun)
    }

    func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("lora-mpi-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: url) }
        return url
    }

    /// 42 SST-2 examples in batches of 8: 6 steps, the last of 2 examples (with 4 processes two
    /// have nothing to compute), dropout on (the model's 0.1, and 0.1 on LoRA's input).
    func trainArguments(_ r: (model: String, glue: String, mpirun: URL), method: String, out: URL) -> [String] {
        var a = ["train", "--model", r.model, "--task", "sst2", "--data", r.glue, "--max-train-examples", "42",
                 "--max-dev-examples", "30", "--batch-size", "8", "--epochs", "1", "--max-length", "32", "--keep", "last",
                 "--threads", "1", "--method", method, "--out", out.path]
        a += method == "lora" ? ["--lora-dropout", "0.1"] : ["--lr", "5e-5"]
        return a
    }

    static var mpiEnvironment: [String: String] {
        var env = ProcessInfo.processInfo.environment
        env["OMPI_ALLOW_RUN_AS_ROOT"] = "1"
        env["OMPI_ALLOW_RUN_AS_ROOT_CONFIRM"] = "1"
        return env
    }

    func mpirun(_ r: (model: String, glue: String, mpirun: URL), processes: Int, _ arguments: [String],
                options: [String] = [], environment: [String: String] = mpiEnvironment) throws -> LoraProcess.Run {
        let binary = try LoraProcess.binary()
        return try LoraProcess.run(executable: r.mpirun,
                                   ["--oversubscribe", "--bind-to", "none", "--mca", "btl_vader_single_copy_mechanism", "none"]
                                       + options + ["-np", String(processes), binary.path] + arguments,
                                   environment: environment)
    }

    func weightsFile(_ run: URL, method: String) -> URL {
        run.appendingPathComponent(method == "lora" ? "adapter/adapter_model.safetensors" : "model/model.safetensors")
    }

    /// Σ lr over the run's steps (from its log).
    func learningRateSum(_ run: URL) throws -> Double {
        let lines = try String(contentsOf: run.appendingPathComponent("log.jsonl"), encoding: .utf8).split(separator: "\n")
        return try lines.reduce(0.0) { sum, line in
            let record = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            return record?["type"] as? String == "step" ? sum + (record?["lr"] as? Double ?? 0) : sum
        }
    }

    /// Asserts that `candidate`'s weights equal `reference`'s (see the type's comment); returns the
    /// largest relative difference seen.
    @discardableResult
    func assertSameWeights(_ reference: URL, _ candidate: URL, method: String, _ label: String,
                           file: StaticString = #filePath, line: UInt = #line) throws -> Double {
        let a = try SafeTensorsFile(url: weightsFile(reference, method: method))
        let b = try SafeTensorsFile(url: weightsFile(candidate, method: method))
        XCTAssertEqual(Set(a.names), Set(b.names), "\(label): the tensors differ", file: file, line: line)
        let keyBiasBound = 2 * (try learningRateSum(reference))
        var worst = 0.0
        for name in a.names {
            let x = try a.floats(name), y = try b.floats(name)
            guard x.count == y.count else { XCTFail("\(label): \(name) has \(y.count) values, not \(x.count)", file: file, line: line); continue }
            if name.contains("attention.self.key.bias") {
                let d = zip(x, y).map { abs(Double($0) - Double($1)) }.max() ?? 0
                XCTAssertLessThanOrEqual(d, keyBiasBound, "\(label): \(name) (zero true gradient) moved apart by more than 2 Σ lr", file: file, line: line)
                continue
            }
            let rel = Approx.relativeL2(y, x)
            worst = max(worst, rel)
            XCTAssertLessThanOrEqual(rel, Self.tolerance, "\(label): \(name) differs by \(rel) relative", file: file, line: line)
        }
        return worst
    }

    /// The step records' loss and gradient norm, in order.
    func stepFigures(_ run: URL) throws -> [(loss: Double, norm: Double)] {
        let lines = try String(contentsOf: run.appendingPathComponent("log.jsonl"), encoding: .utf8).split(separator: "\n")
        return try lines.compactMap { line in
            let record = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            guard record?["type"] as? String == "step", let loss = record?["loss"] as? Double, let norm = record?["grad_norm"] as? Double else { return nil }
            return (loss, norm)
        }
    }

    func summaryScore(_ run: URL) throws -> Double? {
        let object = try JSONSerialization.jsonObject(with: Data(contentsOf: run.appendingPathComponent("summary.json"))) as? [String: Any]
        return object?["bestScore"] as? Double
    }

    func checkExactness(method: String) throws {
        let r = try resources()
        let dir = try temporaryDirectory()
        let single = dir.appendingPathComponent("n1")
        // Without mpirun: a plain single process, MPI never opened.
        let plain = try LoraProcess.run(trainArguments(r, method: method, out: single))
        XCTAssertEqual(plain.status, 0, plain.stderr)
        XCTAssertFalse(plain.stderr.contains("data-parallel"), plain.stderr)
        for n in [2, 4] {
            let out = dir.appendingPathComponent("n\(n)")
            let run = try mpirun(r, processes: n, trainArguments(r, method: method, out: out))
            XCTAssertEqual(run.status, 0, "mpirun -np \(n):\n" + run.stderr)
            XCTAssertTrue(run.stderr.contains("data-parallel: \(n) processes"), run.stderr)
            // Process 0 alone writes: one progress stream, one log.
            XCTAssertEqual(run.stderr.components(separatedBy: "eval at step 6").count - 1, 1, run.stderr)
            let worst = try assertSameWeights(single, out, method: method, "\(method), \(n) processes against 1")
            print("\(method): \(n) processes against 1: largest per-tensor relative difference \(worst)")
            XCTAssertEqual(try summaryScore(out), try summaryScore(single), "\(method), \(n) processes: the dev score differs")
            // Each step's loss and (clipped-before) gradient norm are the whole batch's: a wrong
            // share scaling would change them even where clipping and Adam hide it in the weights.
            let reference = try stepFigures(single), steps = try stepFigures(out)
            XCTAssertEqual(steps.count, reference.count)
            for (i, (a, b)) in zip(reference, steps).enumerated() {
                XCTAssertEqual(b.loss, a.loss, accuracy: 1e-5 * max(1, abs(a.loss)), "\(method), \(n) processes: loss of step \(i + 1)")
                XCTAssertEqual(b.norm, a.norm, accuracy: 1e-5 * max(1e-3, abs(a.norm)), "\(method), \(n) processes: gradient norm of step \(i + 1)")
            }
            let log = try String(contentsOf: out.appendingPathComponent("log.jsonl"), encoding: .utf8)
            XCTAssertTrue(log.contains("\"allreduce_seconds\""), "the step records carry the all-reduce time")
            XCTAssertTrue(log.contains("\"processes\":\(n)"), "the start record names the process count")
        }
    }

    func testLoRAWeightsDoNotDependOnTheProcessCount() throws { try checkExactness(method: "lora") }

    func testFullFineTuningWeightsDoNotDependOnTheProcessCount() throws { try checkExactness(method: "full") }

    /// Process 1 is SIGKILLed after step 3: mpirun ends the job, naming it, and exits non-zero;
    /// the checkpoint of step 2 is intact, and the restart with --resume ends with the weights of
    /// an uninterrupted run.
    func testAKilledProcessEndsTheJobAndTheRestartResumes() throws {
        let r = try resources()
        let dir = try temporaryDirectory()
        let whole = dir.appendingPathComponent("whole"), killed = dir.appendingPathComponent("killed")
        let reference = try mpirun(r, processes: 2, trainArguments(r, method: "lora", out: whole) + ["--checkpoint-every", "2"])
        XCTAssertEqual(reference.status, 0, reference.stderr)
        var env = Self.mpiEnvironment
        env["SWIFT_LORA_TEST_KILL"] = "killed:3:1"
        let first = try mpirun(r, processes: 2, trainArguments(r, method: "lora", out: killed) + ["--checkpoint-every", "2"], environment: env)
        XCTAssertNotEqual(first.status, 0, "the job ends with an error when a process dies")
        XCTAssertTrue(first.stderr.contains("rank 1"), "the message names the process that died:\n" + first.stderr)
        XCTAssertTrue(FileManager.default.fileExists(atPath: killed.appendingPathComponent("checkpoint.safetensors").path))
        XCTAssertFalse(FileManager.default.fileExists(atPath: killed.appendingPathComponent("summary.json").path))
        let second = try mpirun(r, processes: 2, trainArguments(r, method: "lora", out: killed) + ["--checkpoint-every", "2", "--resume"])
        XCTAssertEqual(second.status, 0, second.stderr)
        XCTAssertTrue(second.stderr.contains("resumed from"), second.stderr)
        try assertSameWeights(whole, killed, method: "lora", "resumed after a killed process against an uninterrupted run")
    }

    /// Two processes in two network namespaces joined by a veth pair, Open MPI's TCP transport
    /// between them (its launcher reaches the second namespace through `ip netns exec` instead
    /// of ssh): the weights of the single-process run.
    func testTwoNetworkNamespacesOverTCPGiveTheSameWeights() throws {
        let r = try resources()
        guard getuid() == 0 else {
            XCTFail("this test makes network namespaces (ip netns, a veth pair) and needs root; CI runs it as root")
            return
        }
        let ip = try TestPaths.require(URL(fileURLWithPath: "/usr/sbin/ip"), hint: "apt-get install iproute2").get()
        let dir = try temporaryDirectory()
        let tag = String(getpid() % 100_000), subnet = "10.231.\(getpid() % 200 + 20)"
        let (nsA, nsB, vethA, vethB) = ("lora-\(tag)-a", "lora-\(tag)-b", "lv\(tag)a", "lv\(tag)b")
        let (hostA, hostB) = ("\(subnet).1", "\(subnet).2")
        addTeardownBlock {
            _ = try? LoraProcess.run(executable: ip, ["netns", "delete", nsA])
            _ = try? LoraProcess.run(executable: ip, ["netns", "delete", nsB])
        }
        for args in [["netns", "add", nsA], ["netns", "add", nsB],
                     ["link", "add", vethA, "type", "veth", "peer", "name", vethB],
                     ["link", "set", vethA, "netns", nsA], ["link", "set", vethB, "netns", nsB],
                     ["-n", nsA, "addr", "add", "\(hostA)/24", "dev", vethA], ["-n", nsB, "addr", "add", "\(hostB)/24", "dev", vethB],
                     ["-n", nsA, "link", "set", "lo", "up"], ["-n", nsB, "link", "set", "lo", "up"],
                     ["-n", nsA, "link", "set", vethA, "up"], ["-n", nsB, "link", "set", vethB, "up"]] {
            let run = try LoraProcess.run(executable: ip, args)
            guard run.status == 0 else {
                XCTFail("ip \(args.joined(separator: " ")) failed (the test needs CAP_NET_ADMIN and CAP_SYS_ADMIN): \(run.stderr)")
                return
            }
        }
        // Open MPI's launcher runs "AGENT HOST COMMAND"; the agent runs COMMAND in HOST's namespace.
        let agent = dir.appendingPathComponent("netns-agent.sh")
        try """
        #!/bin/sh
        host="$1"; shift
        case "$host" in
          \(hostA)) ns=\(nsA) ;;
          \(hostB)) ns=\(nsB) ;;
          *) echo "netns-agent: unknown host $host" >&2; exit 1 ;;
        esac
        exec \(ip.path) netns exec "$ns" sh -c "$*"
        """.write(to: agent, atomically: true, encoding: .utf8)
        chmod(agent.path, 0o755)

        let single = dir.appendingPathComponent("n1"), split = dir.appendingPathComponent("netns")
        let plain = try LoraProcess.run(trainArguments(r, method: "lora", out: single))
        XCTAssertEqual(plain.status, 0, plain.stderr)
        let binary = try LoraProcess.binary()
        let run = try LoraProcess.run(
            executable: ip,
            ["netns", "exec", nsA, r.mpirun.path, "--bind-to", "none",
             "--mca", "plm_rsh_agent", agent.path, "--mca", "btl", "tcp,self",
             "--mca", "btl_tcp_if_include", "\(subnet).0/24", "--mca", "oob_tcp_if_include", "\(subnet).0/24",
             "--host", "\(hostA),\(hostB)", "-np", "2", binary.path] + trainArguments(r, method: "lora", out: split),
            environment: Self.mpiEnvironment)
        XCTAssertEqual(run.status, 0, "mpirun across the namespaces:\n" + run.stderr)
        XCTAssertTrue(run.stderr.contains("data-parallel: 2 processes"), run.stderr)
        try assertSameWeights(single, split, method: "lora", "two namespaces over TCP against one process")
    }

    /// `mpirun -np 2 lora reproduce`: each process trains every other run of the plan (each in
    /// its own child process) and times every other task; process 0 writes the report, whose
    /// runs and scores are those of the same study on one process.
    func testReproduceSpreadsTheRunsOverTheProcesses() throws {
        let r = try resources()
        let dir = try temporaryDirectory()
        func arguments(_ out: URL) -> [String] {
            ["reproduce", "--model", r.model, "--data", r.glue, "--out", out.path, "--budget", "smoke", "--tasks", "rte",
             "--seeds", "42,43", "--latency-rounds", "1", "--threads", "1"]
        }
        let one = dir.appendingPathComponent("one"), two = dir.appendingPathComponent("two")
        let single = try LoraProcess.run(arguments(one))
        XCTAssertEqual(single.status, 0, single.stderr)
        let spread = try mpirun(r, processes: 2, arguments(two))
        XCTAssertEqual(spread.status, 0, spread.stderr)
        XCTAssertTrue(spread.stderr.contains("[process 1/2]"), spread.stderr)
        // Lines "[process R/2] [i/4] RUN: … epochs": which process trained which run.
        var trainedBy: [String: Int] = [:]
        for line in spread.stderr.split(separator: "\n") where line.hasPrefix("[process ") && line.contains(" epochs, batch ") {
            let words = line.split(separator: " ")
            guard words.count > 3, let rank = Int(words[1].prefix { $0 != "/" }) else { continue }
            trainedBy[String(words[3].dropLast())] = rank
        }
        XCTAssertEqual(Set(trainedBy.keys), ["RTE-full-seed42", "RTE-lora-seed42", "RTE-full-seed43", "RTE-lora-seed43"], spread.stderr)
        XCTAssertEqual(trainedBy.values.filter { $0 == 0 }.count, 2, "each process trains half of the runs")
        XCTAssertTrue(FileManager.default.fileExists(atPath: two.appendingPathComponent("report.md").path))
        let a = StudyAnalysis.analyze(try StudyData.load(from: one)), b = StudyAnalysis.analyze(try StudyData.load(from: two))
        XCTAssertEqual(a.runs.map(\.directory), b.runs.map(\.directory))
        let ta = try XCTUnwrap(a.task("RTE")), tb = try XCTUnwrap(b.task("RTE"))
        XCTAssertEqual(ta.fftSeedScores, tb.fftSeedScores, "the same runs give the same scores")
        XCTAssertEqual(ta.loraSeedScores, tb.loraSeedScores)
        XCTAssertNotNil(tb.latency, "a process timed the task")
        XCTAssertEqual(a.claims.map(\.id), b.claims.map(\.id))
    }

    /// Without mpirun, `lora` never opens libmpi (a library path that does not exist is not
    /// noticed); started as one of an mpirun job with no Open MPI to open, it says so and fails.
    func testOpenMPIIsOpenedOnlyUnderMPIRun() throws {
        let model = try TestPaths.require(TestPaths.miniLMDirectory, hint: "scripts/fetch-model.sh installs it").get()
        let glue = try TestPaths.require(TestPaths.glueDirectory, hint: "set SWIFT_LORA_GLUE_DIR").get()
        let dir = try temporaryDirectory()
        var env = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("OMPI_") && !$0.key.hasPrefix("PMIX_") }
        env["LORA_MPI_LIBRARY"] = "/nonexistent/libmpi.so.40"
        let r = (model: model.path, glue: glue.path, mpirun: URL(fileURLWithPath: "/usr/bin/mpirun"))
        let plain = try LoraProcess.run(trainArguments(r, method: "lora", out: dir.appendingPathComponent("plain")), environment: env)
        XCTAssertEqual(plain.status, 0, plain.stderr)
        env["OMPI_COMM_WORLD_SIZE"] = "2"
        env["OMPI_COMM_WORLD_RANK"] = "0"
        let launched = try LoraProcess.run(trainArguments(r, method: "lora", out: dir.appendingPathComponent("launched")), environment: env)
        XCTAssertNotEqual(launched.status, 0)
        XCTAssertTrue(launched.stderr.contains("MPI: cannot open /nonexistent/libmpi.so.40"), launched.stderr)
        XCTAssertTrue(launched.stderr.contains("install Open MPI"), launched.stderr)
    }
}
