// `lora reproduce`: the paper's study, one child process per run, resumable, then the report.
import ArgumentParser
import Foundation
import Encoders
import GLUE
import Profiling
import SafeTensors
import Study
import Tensors
import Training
import Collectives

/// Plans the study, runs each (task, method, seed) with `lora study-run` in a child process of
/// its own, then times each task's FFT, merged and unmerged LoRA models (its median runs)
/// with `lora study-latency` in one fresh process, and writes the report.
///
/// The parent holds no model. A child that fails, crashes or is killed leaves
/// `runs/RUN/failed.json` (its exit status and the last lines of its stderr); the other runs
/// go on, and the next invocation retries it from its checkpoint.
struct ReproduceCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reproduce",
        abstract: "Run the paper's study (full fine-tuning and LoRA on each task, several seeds) and write report.md, results.json and plots.",
        discussion: """
        Each run (task, method, seed) trains in a child process of its own, into OUT/runs/TASK-METHOD-seedN/; \
        finished runs are not run again, and an interrupted or failed one resumes from its checkpoint. Then, \
        per task, the FFT and LoRA runs with the median score are timed (FFT, merged and unmerged LoRA, \
        interleaved) into OUT/latency/TASK.json. Budgets: smoke (a few steps per run), quick (per-task \
        caps; three seeds in about 2 hours with all-MiniLM-L6-v2 on 2 cores), paper (Table 7 as published).
        """
    )

    /// The tasks a transfer adapter starts (the LoRA paper's MNLI warm start: MRPC, RTE, STS-B).
    static let transferTasks: Set<String> = ["MRPC", "RTE", "STS-B"]

    @Option(help: "Hugging Face model directory.") var model: String
    @Option(help: "GLUE data directory.") var data: String
    @Option(help: "Study directory.") var out: String
    @Option(help: "Comma-separated tasks.") var tasks: String = "sst2,mrpc,cola,rte,stsb"
    @Option(help: "smoke, quick or paper.") var budget: StudyBudget = .quick
    @Option(help: "Comma-separated seeds (default: smoke 42,43; quick 42,43,44; paper 42–46).") var seeds: String?
    @Option(help: "Comma-separated methods: full, lora (the paper's two, the default), lora+ (LoRA+ with ratio 16 on LoRA's plan), pissa (PiSSA-initialised LoRA on LoRA's plan).")
    var methods: String = "full,lora"
    @Option(help: "Results of the Python reference runner (scripts/reference/peft_glue_runner.py) for the LoRA(ref) row.") var reference: String?
    @Option(help: "Timed rounds of the latency measurement (FFT, merged, unmerged each).") var latencyRounds: Int = 5
    @Option(help: "A PEFT adapter (trained by you, e.g. on MNLI) that the LoRA runs of MRPC, RTE and STS-B start from, as the LoRA paper did; its rank, alpha and targets replace the plan's, and a head of another label count is re-initialised.")
    var transferAdapter: String?
    @Option(help: "Threads (default: all cores).") var threads: Int?
    @Flag(help: "Print the plan as JSON (for the reference runner) and exit.") var printPlan = false
    @Flag(help: "Only regenerate the report from the run logs.") var reportOnly = false

    func validate() throws {
        guard latencyRounds >= 1 else { throw ValidationError("--latency-rounds must be at least 1") }
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
        _ = try seedList()
    }

    /// `--methods` as study methods, in the report's order.
    func methodsList() throws -> [StudyMethod] {
        var out: [StudyMethod] = []
        for part in methods.split(separator: ",") {
            let name = part.trimmingCharacters(in: .whitespaces).lowercased()
            let method: StudyMethod? = name == "lora+" ? .loraPlus : StudyMethod(rawValue: name)
            guard let method else { throw ValidationError("--methods: '\(name)' is not one of full, lora, lora+, pissa") }
            if !out.contains(method) { out.append(method) }
        }
        guard !out.isEmpty else { throw ValidationError("--methods: no method given") }
        return out.sorted()
    }

    func seedList() throws -> [UInt64] {
        guard let seeds else { return budget.defaultSeeds }
        let parts = seeds.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        let values = try parts.map { part -> UInt64 in
            guard let v = UInt64(part) else { throw ValidationError("--seeds: '\(part)' is not a non-negative integer") }
            return v
        }
        guard !values.isEmpty else { throw ValidationError("--seeds: no seed given") }
        guard Set(values).count == values.count else { throw ValidationError("--seeds: a seed is repeated") }
        return values
    }

    func run() throws {
        let group = try MPIProcessGroup.current()
        // Every process reaches the failure count's all-reduce, so an exit status ends them together.
        try CLI.runAsProcess(of: group, command: "reproduce", stopsEveryProcess: { $0 is ExitCode }) { try study(group: group) }
    }

    func study(group: ProcessGroup) throws {
        let taskList = try tasks.split(separator: ",").map { try CLI.task(String($0).trimmingCharacters(in: .whitespaces)) }
        let seedValues = try seedList()
        let methodList = try methodsList()
        var plan = StudyPlan.runs(tasks: taskList, budget: budget, seeds: seedValues, methods: methodList)
        if let transferAdapter {
            let family = try EncoderConfig.load(from: URL(fileURLWithPath: model).appendingPathComponent("config.json")).family
            let from = try PEFTAdapter.describe(URL(fileURLWithPath: transferAdapter), family: family).lora
            for i in plan.indices where plan[i].method == .lora && Self.transferTasks.contains(plan[i].task) {
                plan[i].initAdapter = transferAdapter
                plan[i].lora = LoRAConfig(rank: from.rank, alpha: from.alpha, dropout: plan[i].lora.dropout, targets: from.targets, rsLoRA: from.rsLoRA)
            }
        }
        if printPlan {
            let data = try JSONValue.encodeObject(["budget": .string(budget.rawValue), "seeds": .array(seedValues.map { .number(Double($0)) }),
                                                   "runs": .array(plan.map { .object($0.json) })])
            print(String(decoding: data, as: UTF8.self))
            return
        }
        let outURL = URL(fileURLWithPath: out, isDirectory: true)
        let fm = FileManager.default
        // Under mpirun: process p of N trains the plan's runs p, p + N, … and times tasks p, p + N, …
        // (each in its own child process, as without MPI); process 0 writes the manifest and the report.
        let (rank, size) = (group.rank, group.size)
        let threads = self.threads ?? CLI.threadsPerProcess(group)
        func note(_ text: String) { CLI.note(size > 1 ? "[process \(rank)/\(size)] " + text : text) }
        if group.isWriter { try fm.createDirectory(at: outURL.appendingPathComponent("runs"), withIntermediateDirectories: true) }
        var failures = 0
        if !reportOnly {
            if group.isWriter { try writeManifest(outURL, tasks: taskList, seeds: seedValues, plan: plan, methods: methodList) }
            try group.barrier()
            if size > 1 { note("\(size) processes: this one trains runs \(rank + 1), \(rank + 1 + size), … of \(plan.count)") }
            for (i, run) in plan.enumerated() where i % size == rank {
                let dir = outURL.appendingPathComponent("runs/\(run.directoryName)")
                if fm.fileExists(atPath: dir.appendingPathComponent("summary.json").path) {
                    note("[\(i + 1)/\(plan.count)] \(run.directoryName): done, skipped")
                    continue
                }
                note("[\(i + 1)/\(plan.count)] \(run.directoryName): \(run.epochs) epochs, batch \(run.batchSize), lr \(run.learningRate)")
                if try !train(run, directory: dir, threads: threads, note: note) { failures += 1 }
            }
            // Latency needs each task's finished runs, which other processes may have trained.
            try group.barrier()
            for (j, task) in taskList.enumerated() where j % size == rank {
                if try !timeLatency(task, plan: plan, study: outURL, threads: threads, note: note) { failures += 1 }
            }
            var total = [Double(failures)]
            try group.allreduce(&total, .sum)
            failures = Int(total[0])
            try group.barrier()
            if failures > 0 && group.isWriter { CLI.note("\(failures) child process(es) failed; run the same command again to retry them") }
        }
        guard group.isWriter else {
            if failures > 0 { throw ExitCode(1) }
            return
        }
        try StudyReport.write(studyDirectory: outURL, referenceResults: reference.map { URL(fileURLWithPath: $0) },
                              options: ReportOptions(studyDirectoryLabel: out, referenceLabel: reference))
        CLI.note("report: \(outURL.appendingPathComponent("report.md").relativePath)")
        if failures > 0 { throw ExitCode(1) }
    }

    /// `study.json`: model, budget, seeds, machine, command, the `lora` version and the plan.
    func writeManifest(_ outURL: URL, tasks: [GLUETask], seeds: [UInt64], plan: [PlannedRun], methods: [StudyMethod]) throws {
        let config = try EncoderConfig.load(from: URL(fileURLWithPath: model).appendingPathComponent("config.json"))
        var planRows: [JSONValue] = []
        for task in tasks {
            for method in methods {
                guard let r = plan.first(where: { $0.task == task.name && $0.studyMethod == method }) else { continue }
                var row = r.json
                row["seed"] = nil
                planRows.append(.object(row))
            }
        }
        // A study extended by a later invocation (more methods or seeds) keeps the version
        // and command of the runs already there, and records the new ones beside them.
        let manifestURL = outURL.appendingPathComponent("study.json")
        var earlier: [String: JSONValue] = [:]
        if let data = try? Data(contentsOf: manifestURL), case let .object(o)? = try? JSONDecoder().decode(JSONValue.self, from: data) {
            earlier = o
        }
        let command = (["lora"] + CommandLine.arguments.dropFirst()).joined(separator: " "), version = Self.version()
        let study: [String: JSONValue] = [
            "model": .string(URL(fileURLWithPath: model).standardizedFileURL.lastPathComponent),
            "model_family": .string(config.family.name),
            "budget": .string(budget.rawValue),
            "seeds": .array(seeds.map { .number(Double($0)) }),
            "machine": .string("\(System.coreCount) cores, \(Self.memoryDescription()), \(PowerSource.detect().description)"),
            "command": earlier["command"] ?? .string(command),
            "version": earlier["version"] ?? .string(version),
            "tasks": .array(tasks.map { .string($0.name) }),
            "plan": .array(planRows),
        ]
        var manifest = study
        if earlier["command"] != nil, earlier["command"] != .string(command) || earlier["version"] != .string(version) {
            var extensions: [JSONValue] = []
            if case let .array(list)? = earlier["extended_by"] { extensions = list }
            let entry: JSONValue = .object(["command": .string(command), "version": .string(version)])
            if !extensions.contains(entry) { extensions.append(entry) }
            manifest["extended_by"] = .array(extensions)
        }
        try AtomicFile.write(JSONValue.encodeObject(manifest), to: manifestURL)
    }

    /// Trains one run in a child process; false (and `failed.json`) when the child failed.
    func train(_ run: PlannedRun, directory dir: URL, threads: Int?, note: (String) -> Void) throws -> Bool {
        let fm = FileManager.default
        try fm.createDirectory(at: dir, withIntermediateDirectories: true)
        let failedURL = dir.appendingPathComponent("failed.json")
        try? fm.removeItem(at: failedURL)
        let planURL = dir.appendingPathComponent("plan.json")
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys]
        try AtomicFile.write(enc.encode(run), to: planURL)
        var arguments = ["study-run", "--model", model, "--data", data, "--plan", planURL.relativePath, "--dir", dir.relativePath]
        if let threads { arguments += ["--threads", String(threads)] }
        let started = Date()
        let outcome = try ChildProcess.runLora(arguments, forward: note)
        if outcome.succeeded { return true }
        let record: [String: JSONValue] = [
            "run": .string(run.directoryName), "exit_status": .number(Double(outcome.status)), "signalled": .bool(outcome.signalled),
            "outcome": .string(outcome.description), "stderr_tail": .array(outcome.stderrTail.map { .string($0) }),
            "started": .number(started.timeIntervalSince1970), "ended": .number(Date().timeIntervalSince1970),
        ]
        try AtomicFile.write(JSONValue.encodeObject(record), to: failedURL)
        note("\(run.directoryName): FAILED (\(outcome.description)); recorded in \(failedURL.relativePath); going on with the other runs")
        return false
    }

    /// Times a task's median FFT and LoRA runs in one child process, into `latency/TASK.json`;
    /// skipped (true) when that file already holds those runs or a run is missing, false when
    /// the child failed.
    func timeLatency(_ task: GLUETask, plan: [PlannedRun], study outURL: URL, threads: Int?, note: (String) -> Void) throws -> Bool {
        let study = try StudyData.load(from: outURL)
        guard let full = study.medianRun(task: task.name, method: .full), let lora = study.medianRun(task: task.name, method: .lora),
              full.summary != nil, lora.summary != nil else {
            note("\(task.name) latency: needs a finished FFT and LoRA run; skipped")
            return true
        }
        let latencyDir = outURL.appendingPathComponent("latency")
        try FileManager.default.createDirectory(at: latencyDir, withIntermediateDirectories: true)
        let outFile = latencyDir.appendingPathComponent("\(task.name).json")
        let fftName = full.directory.lastPathComponent, loraName = lora.directory.lastPathComponent
        if let existing = study.latency[task.name], existing.fftRun == fftName, existing.loraRun == loraName {
            note("\(task.name) latency: done (\(fftName), \(loraName)), skipped")
            return true
        }
        guard let planned = plan.first(where: { $0.task == task.name }) else { return true }
        note("\(task.name) latency: \(fftName) vs \(loraName) merged and unmerged, \(latencyRounds) interleaved rounds")
        var arguments = ["study-latency", "--model", model, "--data", data, "--task", task.name,
                         "--fft-model", full.directory.appendingPathComponent("model").relativePath,
                         "--adapter", lora.directory.appendingPathComponent("adapter").relativePath,
                         "--max-length", String(planned.maxLength), "--rounds", String(latencyRounds),
                         "--out", outFile.relativePath, "--fft-run", fftName, "--lora-run", loraName]
        if let cap = planned.maxDevExamples { arguments += ["--max-dev-examples", String(cap)] }
        if let threads { arguments += ["--threads", String(threads)] }
        let outcome = try ChildProcess.runLora(arguments, forward: note)
        if outcome.succeeded { return true }
        note("\(task.name) latency: FAILED (\(outcome.description)):\n  " + outcome.stderrTail.suffix(5).joined(separator: "\n  "))
        return false
    }

    static func memoryDescription() -> String {
        let pages = sysconf(Int32(_SC_PHYS_PAGES)), size = sysconf(Int32(_SC_PAGESIZE))
        return String(format: "%.0f GiB", Double(pages) * Double(size) / 1_073_741_824)
    }

    /// The `lora` version: `$SWIFT_LORA_VERSION`, else the git commit of the repository the
    /// executable was built in (with `-dirty` for uncommitted changes), else "unknown".
    static func version() -> String {
        if let v = ProcessInfo.processInfo.environment["SWIFT_LORA_VERSION"], !v.isEmpty { return v }
        var dir = URL(fileURLWithPath: ChildProcess.executableFile).deletingLastPathComponent()
        for _ in 0..<6 {
            if FileManager.default.fileExists(atPath: dir.appendingPathComponent(".git").path) { break }
            dir = dir.deletingLastPathComponent()
        }
        func git(_ args: [String]) -> String? {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            p.arguments = ["git", "-C", dir.path] + args
            let pipe = Pipe()
            p.standardOutput = pipe
            p.standardError = FileHandle.nullDevice
            guard (try? p.run()) != nil else { return nil }
            let data = pipe.fileHandleForReading.readDataToEndOfFile()
            p.waitUntilExit()
            guard p.terminationStatus == 0 else { return nil }
            return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        }
        guard let commit = git(["rev-parse", "--short=12", "HEAD"]), !commit.isEmpty else { return "unknown" }
        let dirty = git(["status", "--porcelain", "--untracked-files=no"]).map { !$0.isEmpty } ?? false
        return commit + (dirty ? "-dirty" : "")
    }
}
