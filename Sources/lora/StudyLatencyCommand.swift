// `lora study-latency`: Table 3's timings, FFT vs merged vs unmerged LoRA, interleaved in one fresh process.
import ArgumentParser
import Foundation
import Encoders
import GLUE
import Profiling
import SafeTensors
import Tensors
import Training

/// Times one task's three inference configurations on the path `lora predict` uses (adapters
/// merged or not, then the inference weight layout):
///
/// - A: the fully fine-tuned model (`--fft-model`);
/// - B: the base model with the LoRA adapter merged into its weights;
/// - C: the base model with the adapter computed beside each frozen layer (unmerged).
///
/// After one warm-up pass of each, `--rounds` rounds each time a full dev-set pass in batches
/// of 32 of A, then B, then C. Then single-example latency: every dev example at batch 1,
/// A, B and C in turn on the same example. All three models live in this one process, so
/// they share its state (caches, clock, neighbours) and drift hits all three alike.
struct StudyLatencyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "study-latency",
        abstract: "Time FFT, merged and unmerged LoRA inference on a task's dev set, interleaved (spawned by `lora reproduce`).",
        shouldDisplay: false
    )

    @Option(help: "Base model directory.") var model: String
    @Option(help: "GLUE data directory.") var data: String
    @Option(help: "GLUE task.") var task: String
    @Option(help: "The fully fine-tuned model directory.") var fftModel: String
    @Option(help: "The LoRA adapter directory.") var adapter: String
    @Option(help: "Truncate inputs to this many tokens.") var maxLength: Int
    @Option(help: "Use only the first N dev examples.") var maxDevExamples: Int?
    @Option(help: "Timed rounds (A B C each) after the warm-up.") var rounds: Int = 7
    @Option(help: "Batch size of the dev-set passes.") var batchSize: Int = 32
    @Option(help: "Threads (default: all cores).") var threads: Int?
    @Option(help: "Where to write the timings (JSON).") var out: String
    @Option(help: "Recorded in the output: the runs the models come from.") var fftRun: String?
    @Option(help: "Recorded in the output: the runs the models come from.") var loraRun: String?

    func validate() throws {
        guard rounds >= 1 else { throw ValidationError("--rounds must be at least 1") }
        guard batchSize >= 1 else { throw ValidationError("--batch-size must be at least 1") }
    }

    func run() throws {
        Threads.configure(threads)
        let t = try CLI.task(task)
        let data = try TaskData.load(task: t, dataDirectory: URL(fileURLWithPath: self.data), tokenizer: CLI.tokenizer(model),
                                     maxLength: maxLength, maxDevExamples: maxDevExamples, splits: [.dev])
        let dev = data.dev
        let fft = try CLI.loadModel(fftModel, task: t)
        fft.useInferenceLayout()
        let merged = try CLI.loadModel(model, task: t, adapter: adapter)
        merged.mergeAdapters()
        merged.useInferenceLayout()
        let unmerged = try CLI.loadModel(model, task: t, adapter: adapter)
        unmerged.useInferenceLayout()
        let models: [(String, EncoderModel)] = [("fft", fft), ("lora_merged", merged), ("lora_unmerged", unmerged)]

        // Batches are made once; every configuration runs the very same ones.
        var batches: [EncoderBatch] = []
        var start = 0
        while start < dev.count {
            let end = min(dev.count, start + batchSize)
            batches.append(Batching.batch(dev, indices: Array(start..<end)[...], regression: t.isRegression).0)
            start = end
        }
        let singles = dev.indices.map { Batching.batch(dev, indices: [$0][...], regression: t.isRegression).0 }

        // Warm-up, and the merged/unmerged agreement check on the first batch.
        var firstLogits: [String: [Float]] = [:]
        for (name, m) in models {
            for (i, b) in batches.enumerated() {
                let logits = try m.predict(b)
                if i == 0 { firstLogits[name] = logits }
            }
        }
        var maxDiff: Float = 0
        if let a = firstLogits["lora_merged"], let b = firstLogits["lora_unmerged"] {
            for i in a.indices { maxDiff = max(maxDiff, abs(a[i] - b[i])) }
        }
        var passes: [String: [Double]] = [:]
        for round in 1...rounds {
            for (name, m) in models {
                let t0 = MonotonicClock.seconds()
                for b in batches { _ = try m.predict(b) }
                passes[name, default: []].append(MonotonicClock.seconds() - t0)
            }
            CLI.note(String(format: "%@ latency | round %d/%d | fft %.3f s | merged %.3f s | unmerged %.3f s", t.name, round, rounds,
                            passes["fft"]!.last!, passes["lora_merged"]!.last!, passes["lora_unmerged"]!.last!))
        }
        var single: [String: [Double]] = [:]
        for b in singles {
            for (name, m) in models {
                let t0 = MonotonicClock.seconds()
                _ = try m.predict(b)
                single[name, default: []].append(MonotonicClock.seconds() - t0)
            }
        }
        CLI.note("\(t.name) latency | \(singles.count) single examples timed")
        var configurations: [String: JSONValue] = [:]
        for (name, _) in models {
            let xs = single[name] ?? []
            let sorted = xs.sorted()
            configurations[name] = .object([
                "dev_pass_seconds": .array((passes[name] ?? []).map { .number($0) }),
                "single_example_p50_seconds": sorted.isEmpty ? .null : .number(Self.quantile(sorted, 0.5)),
                "single_example_p95_seconds": sorted.isEmpty ? .null : .number(Self.quantile(sorted, 0.95)),
                "single_example_mean_seconds": sorted.isEmpty ? .null : .number(xs.reduce(0, +) / Double(xs.count)),
            ])
        }
        let result: [String: JSONValue] = [
            "task": .string(t.name), "dev_examples": .number(Double(dev.count)), "batch_size": .number(Double(batchSize)),
            "rounds": .number(Double(rounds)), "warmup_rounds": .number(1), "order": .array(models.map { .string($0.0) }),
            "threads": .number(Double(Threads.count)),
            "fft_run": fftRun.map { .string($0) } ?? .null, "lora_run": loraRun.map { .string($0) } ?? .null,
            "merged_vs_unmerged_max_abs_logit_difference": .number(Double(maxDiff)),
            "configurations": .object(configurations),
        ]
        try AtomicFile.write(JSONValue.encodeObject(result), to: URL(fileURLWithPath: out))
    }

    /// The `p`-quantile of sorted values, linearly interpolated (numpy's default).
    static func quantile(_ sorted: [Double], _ p: Double) -> Double {
        let position = p * Double(sorted.count - 1)
        let lo = Int(position.rounded(.down)), hi = min(sorted.count - 1, lo + 1)
        return sorted[lo] + (sorted[hi] - sorted[lo]) * (position - Double(lo))
    }
}
