import Foundation
import Profiling

/// Everything one run directory (`STUDY/runs/<TASK>-<method>-seed<N>/`, or `<TASK>-<method>/`
/// for a study of one seed) holds; each file may be absent.
public struct RunData: Sendable {
    /// GLUE task name, as in the directory name (`SST-2`).
    public var task: String
    /// `full` or `lora`, from the directory name.
    public var method: StudyMethod
    /// The seed, from the directory name or else the summary's options.
    public var seed: UInt64?
    /// `failed.json`: how the run's process last failed (it is retried on the next invocation).
    public var failure: RunFailure?
    /// The run directory.
    public var directory: URL
    /// `log.jsonl`, parsed.
    public var log: RunLogFile?
    /// `summary.json`.
    public var summary: RunSummary?
    /// `profile.jsonl`: profiler samples, in time order.
    public var samples: [Sample]?
    /// `profile-summary.json`.
    public var profileSummary: ProfileSummary?
    /// `memory.json`.
    public var memory: MemoryBreakdown?
    /// `inference.json`.
    public var inference: InferenceTimings?

    /// Creates run data from its parts (tests and tools that hold runs in memory).
    public init(task: String, method: StudyMethod, directory: URL, log: RunLogFile? = nil,
                summary: RunSummary? = nil, samples: [Sample]? = nil, profileSummary: ProfileSummary? = nil,
                memory: MemoryBreakdown? = nil, inference: InferenceTimings? = nil) {
        self.task = task
        self.method = method
        self.directory = directory
        self.log = log
        self.summary = summary
        self.samples = samples
        self.profileSummary = profileSummary
        self.memory = memory
        self.inference = inference
    }

    /// Reads a run directory's files; absent files are `nil`.
    ///
    /// - Throws: ``StudyError`` naming the file (and line) of a file that is malformed.
    public static func load(task: String, method: StudyMethod, directory: URL) throws -> RunData {
        var run = RunData(task: task, method: method, directory: directory)
        run.log = try RunLogFile.load(from: directory.appendingPathComponent("log.jsonl"))
        run.summary = try JSONFiles.decode(RunSummary.self, at: directory.appendingPathComponent("summary.json"))
        run.profileSummary = try JSONFiles.decode(ProfileSummary.self, at: directory.appendingPathComponent("profile-summary.json"))
        run.memory = try JSONFiles.decode(MemoryBreakdown.self, at: directory.appendingPathComponent("memory.json"))
        run.inference = try JSONFiles.decode(InferenceTimings.self, at: directory.appendingPathComponent("inference.json"))
        run.failure = try JSONFiles.decode(RunFailure.self, at: directory.appendingPathComponent("failed.json"))
        run.seed = run.summary?.options?.seed
        let profileURL = directory.appendingPathComponent("profile.jsonl")
        if let file = try JSONFiles.lines(at: profileURL) {
            var samples: [Sample] = []
            samples.reserveCapacity(file.lines.count)
            for (number, data) in file.lines {
                samples.append(try JSONFiles.decode(Sample.self, from: data, path: profileURL.path, line: number))
            }
            // A last line still being appended is dropped if it does not parse.
            if let (number, data) = file.incompleteLastLine,
               let sample = try? JSONFiles.decode(Sample.self, from: data, path: profileURL.path, line: number) {
                samples.append(sample)
            }
            run.samples = samples.sorted { $0.t < $1.t }
        }
        return run
    }

    /// Evaluations from the log, or none.
    public var evals: [EvalRecord] { log?.evals ?? [] }

    /// Whether power was measured: the profile summary says `rapl` or `nvml`, or, without a
    /// summary, some sample carries energy. `false` when nothing says it was.
    public var powerMeasured: Bool {
        if let kind = profileSummary?.powerSource { return kind != .notMeasured }
        return samples?.contains { $0.energyJoules != nil } ?? false
    }
}

/// A study directory read into memory: its manifest and every run.
public struct StudyData: Sendable {
    /// The study directory.
    public var directory: URL
    /// `study.json`, if present.
    public var manifest: StudyManifest?
    /// The runs found under `runs/`, in the paper's task order, FFT before LoRA, then by seed.
    public var runs: [RunData]
    /// `latency/<TASK>.json` by task name: Table 3's interleaved timings.
    public var latency: [String: LatencyMeasurement] = [:]
    /// Things that were skipped while reading (e.g. a directory name that is not
    /// `<TASK>-full` or `<TASK>-lora`).
    public var warnings: [String]

    /// Creates study data from its parts.
    public init(directory: URL, manifest: StudyManifest? = nil, runs: [RunData] = [], warnings: [String] = [],
                latency: [String: LatencyMeasurement] = [:]) {
        self.directory = directory
        self.manifest = manifest
        self.runs = runs
        self.warnings = warnings
        self.latency = latency
    }

    /// Reads `study.json` and every `runs/<TASK>-<method>/` directory.
    ///
    /// - Throws: ``StudyError/notAStudyDirectory(path:)`` if `directory` is not a directory;
    ///   ``StudyError/malformedJSON(path:line:reason:)`` for any malformed file.
    public static func load(from directory: URL) throws -> StudyData {
        let fm = FileManager.default
        var isDirectory: ObjCBool = false
        guard fm.fileExists(atPath: directory.path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw StudyError.notAStudyDirectory(path: directory.path)
        }
        var study = StudyData(directory: directory)
        study.manifest = try JSONFiles.decode(StudyManifest.self, at: directory.appendingPathComponent("study.json"))
        let runsDirectory = directory.appendingPathComponent("runs")
        let names = (try? fm.contentsOfDirectory(atPath: runsDirectory.path)) ?? []
        for name in names.sorted() where !name.hasPrefix(".") {
            let url = runsDirectory.appendingPathComponent(name)
            guard fm.fileExists(atPath: url.path, isDirectory: &isDirectory), isDirectory.boolValue else { continue }
            guard let parsed = parseRunName(name) else {
                study.warnings.append("runs/\(name): not a <TASK>-full[-seedN] or <TASK>-lora[-seedN] directory; skipped")
                continue
            }
            var run = try RunData.load(task: parsed.task, method: parsed.method, directory: url)
            if let seed = parsed.seed { run.seed = seed }
            study.runs.append(run)
        }
        study.runs.sort { a, b in
            let (ia, ib) = (PaperFigures.taskIndex(a.task) ?? Int.max, PaperFigures.taskIndex(b.task) ?? Int.max)
            if ia != ib { return ia < ib }
            if a.task != b.task { return a.task < b.task }
            if a.method != b.method { return a.method < b.method }
            return (a.seed ?? 0) < (b.seed ?? 0)
        }
        let latencyDirectory = directory.appendingPathComponent("latency")
        for name in ((try? fm.contentsOfDirectory(atPath: latencyDirectory.path)) ?? []).sorted() where name.hasSuffix(".json") {
            if let m = try JSONFiles.decode(LatencyMeasurement.self, at: latencyDirectory.appendingPathComponent(name)) {
                study.latency[m.task ?? String(name.dropLast(5))] = m
            }
        }
        return study
    }

    /// Splits `SST-2-lora-seed42` into (`SST-2`, `.lora`, 42) and `SST-2-lora` into (`SST-2`,
    /// `.lora`, nil); `nil` for other names.
    public static func parseRunName(_ name: String) -> (task: String, method: StudyMethod, seed: UInt64?)? {
        var rest = Substring(name)
        var seed: UInt64?
        if let dash = rest.lastIndex(of: "-"), rest[rest.index(after: dash)...].hasPrefix("seed"),
           let value = UInt64(rest[rest.index(dash, offsetBy: 5)...]) {
            seed = value
            rest = rest[..<dash]
        }
        guard let dash = rest.lastIndex(of: "-") else { return nil }
        let task = String(rest[..<dash])
        guard !task.isEmpty, let method = StudyMethod(rawValue: String(rest[rest.index(after: dash)...]).lowercased()) else {
            return nil
        }
        return (task, method, seed)
    }

    /// Every run of `task` and `method` (one per seed), in seed order (task names compared
    /// without case or punctuation).
    public func runs(task: String, method: StudyMethod) -> [RunData] {
        let key = PaperFigures.taskKey(task)
        return runs.filter { PaperFigures.taskKey($0.task) == key && $0.method == method }
    }

    /// The run of `task` and `method` whose Table 2 score is the median over its seeds (the
    /// lower middle one for an even count; ties by seed); runs without a score count only
    /// when none has one. `nil` when there is no run.
    public func medianRun(task: String, method: StudyMethod) -> RunData? {
        let all = runs(task: task, method: method)
        let metric = PaperFigures.taskIndex(task) != nil ? PaperFigures.metric(task: task) : nil
        let scored = all.compactMap { run -> (RunData, Double)? in
            let score = metric.flatMap { StudyAnalysis.bestScore(of: run, metric: $0) } ?? StudyAnalysis.bestPrimary(of: run)
            return score.map { (run, $0) }
        }.sorted { $0.1 != $1.1 ? $0.1 < $1.1 : ($0.0.seed ?? 0) < ($1.0.seed ?? 0) }
        guard !scored.isEmpty else { return all.first }
        return scored[(scored.count - 1) / 2].0
    }

    /// The run of `task` and `method` that Tables 3–6 use: the median run.
    public func run(task: String, method: StudyMethod) -> RunData? {
        medianRun(task: task, method: method)
    }

    /// The report's task columns: the paper's five tasks in its order, then any other task
    /// of the manifest or the runs, in the order first seen.
    public var tasks: [String] {
        var result = PaperFigures.tasks
        for task in (manifest?.tasks ?? []) + runs.map(\.task) {
            let key = PaperFigures.taskKey(task)
            if !result.contains(where: { PaperFigures.taskKey($0) == key }) { result.append(task) }
        }
        return result
    }
}
