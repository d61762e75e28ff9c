import Foundation
import Profiling
import XCTest
@testable import Study

/// Builds synthetic study directories in a temporary folder.
///
/// The default study: model `bert-tiny`, tasks MRPC and RTE, both methods, power not measured.
///
/// MRPC (accuracy): FFT evaluations at train seconds 10/20/30 score 0.70/0.80/0.86; LoRA at
/// 5/10/15/20/25 score 0.68/0.78/0.84/0.85/0.849. Threshold = min(0.86, 0.85) − 0.005 = 0.845:
/// FFT reaches it at 30 s (epoch 3), LoRA at 20 s (epoch 4). Each evaluation takes 1 s of
/// wall time, so the profile times of the reaches are 33 s (FFT) and 24 s (LoRA). CPU seconds
/// grow at 2 cores (FFT) and 1.5 cores (LoRA): 66 and 36 CPU-s, estimated 660 J and 360 J at 10 W.
///
/// RTE (accuracy): FFT best 0.60, LoRA best 0.65 → threshold 0.595. RTE-lora has no
/// inference.json and no memory.json (its RSS comes from the profile summary).
struct StudyFixture {
    let root: URL
    var study: URL { root.appendingPathComponent("study") }

    /// A fresh, empty temporary folder (created on the first write).
    init() {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("study-tests-\(UUID().uuidString)")
    }

    func remove() {
        try? FileManager.default.removeItem(at: root)
    }

    static let mib = 1_048_576.0
    static let startTime = 1_700_000_000.0

    /// Writes the default study; `power` makes the profiles carry RAPL energy at 50 W (FFT)
    /// and 40 W (LoRA).
    func writeDefaultStudy(power: Bool = false) throws {
        try writeJSON(["model": "bert-tiny", "model_family": "bert", "budget": "quick", "machine": "2-core test VM",
                       "command": "lora study --budget quick", "tasks": ["MRPC", "RTE"]],
                      to: study.appendingPathComponent("study.json"))
        // MRPC
        try writeRun(task: "MRPC", method: "full", trainable: 4_386_178, total: 4_386_178, adapter: 0,
                     evals: [(1, 10, 0.70), (2, 20, 0.80), (3, 30, 0.86)], metric: "accuracy",
                     cores: 2, watts: power ? 50 : nil, rssBase: 500, duration: 40,
                     memory: [16.7, 16.7, 33.4, 120, 700, 600],
                     inference: ["fft": [0.5, 0.3, 0.4]])
        try writeRun(task: "MRPC", method: "lora", trainable: 24_962, total: 4_394_370, adapter: 8_192,
                     evals: [(1, 5, 0.68), (2, 10, 0.78), (3, 15, 0.84), (4, 20, 0.85), (5, 25, 0.849)], metric: "accuracy",
                     cores: 1.5, watts: power ? 40 : nil, rssBase: 350, duration: 35,
                     memory: [16.8, 0.1, 0.2, 100, 450, 400],
                     inference: ["lora_merged": [0.42, 0.40, 0.44], "lora_unmerged": [0.5, 0.6, 0.55]])
        // RTE
        try writeRun(task: "RTE", method: "full", trainable: 4_386_178, total: 4_386_178, adapter: 0,
                     evals: [(1, 50, 0.55), (2, 100, 0.60)], metric: "accuracy",
                     cores: 2, watts: power ? 50 : nil, rssBase: 800, duration: 110,
                     memory: [16.7, 16.7, 33.4, 400, 1100, 900], inference: ["fft": [1.2]])
        try writeRun(task: "RTE", method: "lora", trainable: 24_962, total: 4_394_370, adapter: 8_192,
                     evals: [(1, 40, 0.58), (2, 80, 0.65)], metric: "accuracy",
                     cores: 1.5, watts: power ? 40 : nil, rssBase: 300, duration: 90, memory: nil, inference: nil)
    }

    /// Writes one run directory with a log, summary, profile, profile summary and optional
    /// memory and inference files.
    ///
    /// - Parameters:
    ///   - evals: (epoch, train seconds, primary) per evaluation; each evaluation takes 1 s of
    ///     wall time, logged at start + train seconds + evaluations so far.
    ///   - memory: weights, gradients, optimizer, activations, peak RSS, average RSS, in MiB.
    func writeRun(task: String, method: String, trainable: Int, total: Int, adapter: Int,
                  evals: [(epoch: Double, seconds: Double, primary: Double)], metric: String,
                  cores: Double, watts: Double?, rssBase: Double, duration: Double,
                  memory: [Double]?, inference: [String: [Double]]?) throws {
        let dir = study.appendingPathComponent("runs/\(task)-\(method)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let start = Self.startTime
        var lines: [[String: Any]] = [[
            "type": "start", "time": start, "task": task, "method": method, "trainable_parameters": trainable,
            "total_parameters": total, "train_examples": 100, "dev_examples": 40, "steps_per_epoch": 10, "epochs": 5,
        ]]
        var previousSeconds = 0.0
        for (index, eval) in evals.enumerated() {
            // Two steps between evaluations.
            for half in 1 ... 2 {
                let seconds = previousSeconds + (eval.seconds - previousSeconds) * Double(half) / 2
                lines.append(["type": "step", "time": start + seconds + Double(index), "step": Double(index * 20 + half * 10),
                              "epoch": eval.epoch - 1 + Double(half) / 2, "loss": 0.5, "lr": 1e-4, "grad_norm": 1.0,
                              "tokens": 1000, "seconds": 0.1, "train_seconds": seconds])
            }
            previousSeconds = eval.seconds
            lines.append(["type": "eval", "time": start + eval.seconds + Double(index + 1), "step": Double((index + 1) * 20),
                          "epoch": eval.epoch, "metrics": [metric: eval.primary, "f1": eval.primary - 0.01],
                          "primary": eval.primary, "metric": metric, "train_seconds": eval.seconds,
                          "eval_seconds": Double(index + 1)])
        }
        let best = evals.map(\.primary).max()
        let trainSeconds = evals.last?.seconds ?? 0
        lines.append(["type": "end", "time": start + duration, "steps": evals.count * 20, "best_score": best ?? NSNull(),
                      "train_seconds": trainSeconds, "stopped_early": false])
        try writeLines(lines, to: dir.appendingPathComponent("log.jsonl"))

        let bestEval = evals.max { $0.primary < $1.primary }
        var options: [String: Any] = ["method": method, "epochs": 5, "batchSize": 16, "learningRate": method == "lora" ? 4e-4 : 3e-5,
                                      "weightDecay": 0.01, "warmupRatio": 0.06, "seed": 42]
        if method == "lora" { options["lora"] = ["rank": 8, "alpha": 8, "dropout": 0, "targets": ["query", "value"], "rsLoRA": false] }
        try writeJSON([
            "task": task, "method": method, "trainableParameters": trainable, "totalParameters": total,
            "adapterParameters": adapter, "trainExamples": 100, "devExamples": 40, "steps": evals.count * 20,
            "epochsCompleted": evals.last?.epoch ?? 0, "bestScore": best ?? NSNull(), "bestMetric": metric,
            "bestEpoch": bestEval?.epoch ?? 0, "bestStep": 0, "finalMetrics": [metric: evals.last?.primary ?? 0],
            "trainSeconds": trainSeconds, "evalSeconds": Double(evals.count), "wallSeconds": duration,
            "stoppedEarly": false, "weightsPath": dir.appendingPathComponent("model").path, "options": options,
        ], to: dir.appendingPathComponent("summary.json"))

        var samples: [Sample] = []
        var t = 0.5
        while t <= duration + 1e-9 {
            samples.append(Sample(t: t, rssMiB: rssBase + t, peakRSSMiB: rssBase + t, cpuUtilisation: cores,
                                  cpuSeconds: cores * t, powerWatts: watts, energyJoules: watts.map { $0 * t }))
            t += 0.5
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        var profile = Data()
        for sample in samples {
            profile += try encoder.encode(sample) + Data("\n".utf8)
        }
        try profile.write(to: dir.appendingPathComponent("profile.jsonl"))
        let source: PowerSource = watts == nil ? .notMeasured(reason: "no RAPL or NVML in this container")
            : .rapl(domains: ["package-0"])
        let summary = ProfileSummary(samples: samples, powerSource: source, logicalCores: 2)
        try encoder.encode(summary).write(to: dir.appendingPathComponent("profile-summary.json"))

        if let memory {
            try writeJSON(["weights_bytes": memory[0] * Self.mib, "gradients_bytes": memory[1] * Self.mib,
                           "optimizer_bytes": memory[2] * Self.mib, "activations_peak_bytes": memory[3] * Self.mib,
                           "peak_rss_bytes": memory[4] * Self.mib, "average_rss_bytes": memory[5] * Self.mib],
                          to: dir.appendingPathComponent("memory.json"))
        }
        if let inference {
            try writeJSON(["dev_examples": 40, "batch_size": 64, "repeats": inference.values.first?.count ?? 0,
                           "seconds": inference], to: dir.appendingPathComponent("inference.json"))
        }
    }

    func writeJSON(_ object: [String: Any], to url: URL) throws {
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys]).write(to: url)
    }

    func writeLines(_ objects: [[String: Any]], to url: URL) throws {
        var data = Data()
        for object in objects {
            data += try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]) + Data("\n".utf8)
        }
        try data.write(to: url)
    }

    func read(_ relativePath: String) throws -> String {
        try String(contentsOf: study.appendingPathComponent(relativePath), encoding: .utf8)
    }
}

/// The Markdown table row that starts with `label` (the first cell), split into cells.
func tableRow(_ markdown: String, startingWith label: String, after heading: String? = nil) -> [String]? {
    var text = Substring(markdown)
    if let heading, let range = markdown.range(of: heading) { text = markdown[range.upperBound...] }
    for line in text.split(separator: "\n") where line.hasPrefix("| ") {
        let cells = line.dropFirst(2).dropLast(2).components(separatedBy: " | ")
        if cells.first == label { return Array(cells) }
    }
    return nil
}
