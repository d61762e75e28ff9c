// `lora study-run`: one run of a study in a process of its own (what `lora reproduce` spawns).
import ArgumentParser
import Foundation
import Encoders
import GLUE
import Profiling
import SafeTensors
import Tensors
import Training

/// Trains one planned run (resuming from its checkpoint if there is one) with the profiler
/// sampling every 0.5 s, and writes the run directory's `log.jsonl`, `summary.json`,
/// `profile.jsonl`, `profile-summary.json` and `memory.json`. Its memory, CPU time and energy
/// are this run's alone, because nothing else ran in this process.
struct StudyRunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "study-run",
        abstract: "Train one run of a study plan (spawned by `lora reproduce`, one process per run).",
        shouldDisplay: false
    )

    @Option(help: "Hugging Face base model directory.") var model: String
    @Option(help: "GLUE data directory.") var data: String
    @Option(help: "The run's plan entry (plan.json, written by lora reproduce).") var plan: String
    @Option(help: "The run directory.") var dir: String
    @Option(help: "Threads (default: all cores).") var threads: Int?

    /// Test hook: `SWIFT_LORA_TEST_KILL=<run directory name>:<step>` makes that run SIGKILL
    /// itself after the step, as the kernel's OOM killer or a user would.
    static let killHookVariable = "SWIFT_LORA_TEST_KILL"

    func run() throws {
        let runDir = URL(fileURLWithPath: dir)
        let planned = try JSONDecoder().decode(PlannedRun.self, from: Data(contentsOf: URL(fileURLWithPath: plan)))
        Threads.configure(threads)
        let task = try CLI.task(planned.task)
        let tokenizer = try CLI.tokenizer(model)
        let taskData = try TaskData.load(task: task, dataDirectory: URL(fileURLWithPath: data), tokenizer: tokenizer,
                                         maxLength: planned.maxLength, maxTrainExamples: planned.maxTrainExamples,
                                         maxDevExamples: planned.maxDevExamples)
        let m = try CLI.loadModel(model, task: task, seed: planned.seed)
        let trainer = try Trainer(model: m, task: task, train: taskData.train, dev: taskData.dev,
                                  options: planned.options,
                                  outputDirectory: runDir, baseModelPath: model)
        trainer.addInputIdentity(modelDirectory: URL(fileURLWithPath: model), maxLength: planned.maxLength,
                                 maxTrainExamples: planned.maxTrainExamples, maxDevExamples: planned.maxDevExamples)
        if let hook = ProcessInfo.processInfo.environment[Self.killHookVariable] {
            let parts = hook.split(separator: ":")
            if parts.count == 2, String(parts[0]) == runDir.lastPathComponent, let step = Int(parts[1]) {
                trainer.afterStep = { if $0 == step { kill(getpid(), SIGKILL) } }
            }
        }
        try FileManager.default.createDirectory(at: runDir, withIntermediateDirectories: true)
        let resume = FileManager.default.fileExists(atPath: runDir.appendingPathComponent("checkpoint.safetensors").path)
        // A resumed run appends to its profile: the clock restarts, so the samples of the
        // earlier process are kept in a file of their own.
        let profileURL = runDir.appendingPathComponent("profile.jsonl")
        if resume, FileManager.default.fileExists(atPath: profileURL.path) {
            let kept = runDir.appendingPathComponent("profile-before-resume-\(Int(Date().timeIntervalSince1970)).jsonl")
            try? FileManager.default.moveItem(at: profileURL, to: kept)
        }
        let profileLog = try SampleLog(url: profileURL)
        let sampler = ProfilingSampler(interval: 0.5) { profileLog.append($0) }
        sampler.start()
        let summary: TrainingSummary
        do { summary = try trainer.run(resume: resume) } catch { sampler.stop(); throw error }
        sampler.stop()
        let profile = sampler.summary()
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys]
        try AtomicFile.write(enc.encode(profile), to: runDir.appendingPathComponent("profile-summary.json"))
        let trainableBytes = Double(m.parameterCounts.trainable * 4)
        let memory: [String: JSONValue] = [
            "weights_bytes": .number(Double(m.parameterCounts.total * 4)),
            "gradients_bytes": .number(trainableBytes),
            "optimizer_bytes": .number(2 * trainableBytes),
            "activations_peak_bytes": .number(Double(m.activationPeakFloats * 4)),
            "activations_source": .string("arena high-water mark"),
            "peak_rss_bytes": .number((profile.processPeakRSSMiB ?? profile.peakRSSMiB) * 1_048_576),
            "average_rss_bytes": .number(profile.averageRSSMiB * 1_048_576),
            "cpu_seconds": .number(profile.cpuSeconds),
            "resumed": .bool(resume),
        ]
        try AtomicFile.write(JSONValue.encodeObject(memory), to: runDir.appendingPathComponent("memory.json"))
        CLI.note(String(format: "%@ %@ seed %llu: best %@ %.4f in %.0f s", planned.task, planned.method.rawValue, planned.seed,
                        summary.bestMetric, summary.bestScore ?? .nan, summary.trainSeconds))
    }
}

/// Appends profiling samples to a JSON-lines file from the sampler thread.
final class SampleLog: @unchecked Sendable {
    private let handle: FileHandle
    private let lock = NSLock()
    private let encoder = JSONEncoder()

    init(url: URL) throws {
        _ = FileManager.default.createFile(atPath: url.path, contents: nil)  // a failure surfaces as FileHandle's error
        handle = try FileHandle(forWritingTo: url)
        encoder.outputFormatting = .sortedKeys
    }

    deinit { try? handle.close() }

    func append(_ sample: Sample) {
        lock.lock()
        defer { lock.unlock() }
        if var line = try? encoder.encode(sample) {
            line.append(0x0A)
            try? handle.write(contentsOf: line)
        }
    }
}
