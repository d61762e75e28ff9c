import ArgumentParser
import Foundation
import InputValidation
import Encoders
import GLUE
import Profiling
import Tensors
import Training

/// Options shared by `lora bench train` and `lora bench infer`.
struct WorkloadOptions: ParsableArguments {
    @Option(help: "Hugging Face model directory.")
    var model: String

    @Option(help: "Sequences per batch.")
    var batch: Int = 16

    @Option(help: "Tokens per sequence for the fixed-shape workload (random ids, no padding).")
    var seq: Int = 128

    @Option(help: "Use real batches of this GLUE task instead of fixed shapes (train: the first batches of the train split in file order; infer: the whole dev set).")
    var task: String?

    @Option(help: "GLUE data directory (with --task).")
    var data: String?

    @Option(help: "Maximum tokens per input with --task.")
    var maxLength: Int = 128

    @Option(help: "Timed steps (the median is reported).")
    var steps: Int = 5

    @Option(help: "Untimed warm-up steps.")
    var warmup: Int = 1

    @Option(help: "Threads (default: all cores).")
    var threads: Int?

    @Flag(help: "Print one JSON object.")
    var json = false

    func validate() throws {
        try CLI.usage {
            let rules = ValueRules(source: nil)
            try rules.within(batch, 1...65_536, key: "--batch")
            try rules.within(seq, 1...EncoderConfig.maxSequenceLength, key: "--seq")
            try rules.within(maxLength, 2...EncoderConfig.maxSequenceLength, key: "--max-length")
            try rules.within(steps, 1...1_000_000, key: "--steps")
            try rules.within(warmup, 0...1_000_000, key: "--warmup")
        }
        try CLI.validateThreads(threads)
        if task != nil && data == nil { throw ValidationError("--task needs --data") }
    }

    /// The batches of the workload: fixed-shape random ids, or real tokenized task batches.
    func batches(model m: EncoderModel, count: Int, split: Split) throws -> (batches: [(EncoderBatch, BatchLabels)], task: GLUETask?) {
        if let task {
            guard let data else { throw ValidationError("--task needs --data") }
            let t = try CLI.task(task)
            let limit = split == .train ? batch * count : nil
            let td = try TaskData.load(task: t, dataDirectory: URL(fileURLWithPath: data), tokenizer: CLI.tokenizer(model),
                                       maxLength: maxLength, maxTrainExamples: limit, splits: [split])
            let examples = split == .train ? td.train : td.dev
            guard !examples.isEmpty else { throw ValidationError("\(t.name): no \(split) examples") }
            var out: [(EncoderBatch, BatchLabels)] = []
            var start = 0
            while start < examples.count && (split == .dev || out.count < count) {
                let end = min(examples.count, start + batch)
                out.append(Batching.batch(examples, indices: Array(start..<end)[...], regression: t.isRegression))
                start = end
            }
            return (out, t)
        }
        var rng = RandomGenerator(seed: 17)
        let k = m.config.labelCount
        var out: [(EncoderBatch, BatchLabels)] = []
        let reserved = min(1000, m.config.vocabularySize / 2)   // avoid special-token ids (the first ids of every vocabulary here)
        for _ in 0..<count {
            let seqs = (0..<batch).map { _ in (0..<seq).map { _ in Int32(reserved + Int(rng.next() % UInt64(m.config.vocabularySize - reserved))) } }
            let labels: BatchLabels = m.config.isRegression ? .targets((0..<batch).map { _ in rng.nextUniform() })
                                                            : .classes((0..<batch).map { _ in Int32(rng.next() % UInt64(k)) })
            out.append((EncoderBatch(sequences: seqs), labels))
        }
        return (out, nil)
    }
}

/// Results of a model benchmark, printed as a table or one JSON object.
struct BenchResult {
    var workload: String
    var secondsPerStep: Double
    var tokensPerSecond: Double
    var gflops: Double
    var gemmShare: Double
    var peakRSSMiB: Double
    var extra: [(String, String)] = []

    func print(json: Bool) {
        if json {
            var fields = [
                "\"workload\": \"\(workload)\"",
                String(format: "\"s_per_step\": %.6f", secondsPerStep),
                String(format: "\"tokens_per_s\": %.1f", tokensPerSecond),
                String(format: "\"gflops\": %.2f", gflops),
                String(format: "\"gemm_share\": %.4f", gemmShare),
                String(format: "\"peak_rss_mib\": %.1f", peakRSSMiB),
            ]
            fields += extra.map { "\"\($0.0)\": \($0.1)" }
            Swift.print("{" + fields.joined(separator: ", ") + "}")
        } else {
            Swift.print(workload)
            Swift.print(String(format: "  s/step        %.4f", secondsPerStep))
            Swift.print(String(format: "  tokens/s      %.0f", tokensPerSecond))
            Swift.print(String(format: "  GFLOP/s       %.1f", gflops))
            Swift.print(String(format: "  GEMM share    %.1f%%", gemmShare * 100))
            Swift.print(String(format: "  peak RSS      %.0f MiB", peakRSSMiB))
            for (k, v) in extra {
                let shown = v.hasPrefix("\"") && v.hasSuffix("\"") ? String(v.dropFirst().dropLast()) : v  // a JSON string, bare
                Swift.print("  \(k.padding(toLength: 13, withPad: " ", startingAt: 0)) \(shown)")
            }
        }
    }
}

func median(_ xs: [Double]) -> Double {
    let s = xs.sorted()
    guard !s.isEmpty else { return .nan }
    return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
}

/// `lora bench train`: seconds per training step, tokens/s, GFLOP/s, GEMM share, peak RSS.
struct TrainBench: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "train", abstract: "Time training steps (forward, backward, clipping, AdamW).")

    @OptionGroup var workload: WorkloadOptions

    @Option(help: "lora or full.")
    var method: FineTuningMethod = .lora

    @Option(help: "Dropout: 'default' (the model's) or a probability for hidden and attention dropout.")
    var dropout: String = "default"

    @OptionGroup var lora: LoRAOptions

    func run() throws {
        Threads.configure(workload.threads)
        let m = try CLI.loadModel(workload.model, task: workload.task.map { try CLI.task($0) } ?? nil)
        if dropout != "default" {
            guard let p = Float(dropout), p >= 0, p < 1 else { throw ValidationError("--dropout must be 'default' or a probability") }
            m.setDropout(hidden: p, attention: p)
        }
        switch method {
        case .full: m.setFullFineTuning()
        case .lora:
            var rng = RandomGenerator(seed: 1)
            try m.attachLoRA(try lora.config(family: m.config.family), rng: &rng)
        }
        let opt = AdamWOptimizer(store: m.parameters, config: AdamWConfig())
        let (batches, _) = try workload.batches(model: m, count: workload.warmup + workload.steps, split: .train)
        var rng = RandomGenerator(seed: 3)
        var times: [Double] = [], gemm: [Double] = [], tokens = 0, flops = 0.0
        for (i, (batch, labels)) in batches.enumerated() {
            let timed = i >= workload.warmup
            Gemm.profiledNanoseconds = 0
            Gemm.profiling = timed
            let t0 = MonotonicClock.seconds()
            m.parameters.zeroGradients()
            _ = try m.forwardBackward(batch, labels: labels, training: true, rng: &rng)
            GradientClipping.clip(m.parameters, maxNorm: 1)
            opt.step(learningRate: 1e-5)
            let dt = MonotonicClock.seconds() - t0
            Gemm.profiling = false
            if timed {
                times.append(dt)
                gemm.append(Double(Gemm.profiledNanoseconds) / 1e9 / dt)
                tokens += batch.tokenCount
                flops += m.trainingFlops(batch)
            }
        }
        let total = times.reduce(0, +)
        let name = workload.task.map { "train \(method.rawValue) \($0) batches of \(workload.batch)" } ?? "train \(method.rawValue) \(workload.batch)x\(workload.seq)"
        BenchResult(workload: name, secondsPerStep: median(times), tokensPerSecond: Double(tokens) / total, gflops: flops / total / 1e9,
                    gemmShare: median(gemm), peakRSSMiB: Double(ProcessMemory.peakRSSBytes ?? 0) / 1_048_576,
                    extra: [("steps", "\(times.count)"), ("dropout", "\"\(dropout)\"")]).print(json: workload.json)
    }
}

/// `lora bench infer`: inference time of a merged model (dev set in batches, or batch-1 latency).
struct InferBench: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "infer", abstract: "Time inference (eval mode, adapters merged): a whole dev set in batches, or fixed shapes.")

    @OptionGroup var workload: WorkloadOptions

    @Option(help: "A PEFT adapter to merge into the model (merged inference is the plain model's cost).")
    var adapter: String?

    @Flag(help: "Keep the adapter unmerged (to measure the unmerged cost).")
    var unmerged = false

    @OptionGroup var fp32: FP32GemmOptions

    @Flag(help: "Run the encoder's Linears in int8: weights per output channel, activations per row at run time, int32 products (as ONNX Runtime's quantize_dynamic). Embeddings, LayerNorms, attention and the head stay fp32.")
    var int8 = false

    func run() throws {
        Threads.configure(workload.threads)
        let m = try CLI.loadModel(workload.model, task: workload.task.map { try CLI.task($0) } ?? nil, adapter: adapter)
        try fp32.apply()
        CLI.prepareForInference(m, int8: int8, merge: !unmerged)
        let (batches, _) = try workload.batches(model: m, count: 1, split: .dev)
        var times: [Double] = [], gemm: [Double] = []
        let tokens = batches.reduce(0) { $0 + $1.0.tokenCount }
        let flops = batches.reduce(0.0) { $0 + m.predictionFlops($1.0) }
        for i in 0..<(workload.warmup + workload.steps) {
            Gemm.profiledNanoseconds = 0
            Gemm.profiling = i >= workload.warmup
            let t0 = MonotonicClock.seconds()
            for (b, _) in batches { _ = try m.predict(b) }
            let dt = MonotonicClock.seconds() - t0
            Gemm.profiling = false
            if i >= workload.warmup {
                times.append(dt)
                gemm.append(Double(Gemm.profiledNanoseconds) / 1e9 / dt)
            }
        }
        let med = median(times)
        let name = workload.task.map { "infer \($0) dev in batches of \(workload.batch)" } ?? "infer \(workload.batch)x\(workload.seq)"
        BenchResult(workload: name, secondsPerStep: med, tokensPerSecond: Double(tokens) / med, gflops: flops / med / 1e9,
                    gemmShare: median(gemm), peakRSSMiB: Double(ProcessMemory.peakRSSBytes ?? 0) / 1_048_576,
                    extra: [("batches", "\(batches.count)"), ("merged", unmerged ? "false" : "true"), ("fp32_gemm", "\"\(Linear.backend.rawValue)\"")]).print(json: workload.json)
    }
}

/// `lora bench load`: time to load a checkpoint and the resident memory it needs.
struct LoadBench: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "load", abstract: "Time loading a model directory and compare peak resident memory with the safetensors file's size.")

    @Option(help: "Hugging Face model directory.")
    var model: String

    @Flag(help: "Print one JSON object.")
    var json = false

    func run() throws {
        let weights = URL(fileURLWithPath: model).appendingPathComponent("model.safetensors")
        let fileBytes = (try? FileManager.default.attributesOfItem(atPath: weights.path)[.size] as? NSNumber)?.doubleValue ?? 0
        let before = Double(ProcessMemory.currentRSSBytes ?? 0)
        let t0 = MonotonicClock.seconds()
        let m = try EncoderModel.load(directory: URL(fileURLWithPath: model))
        let seconds = MonotonicClock.seconds() - t0
        let peak = Double(ProcessMemory.peakRSSBytes ?? 0)
        let params = m.parameterCounts.total
        let ratio = peak / max(fileBytes, 1)
        if json {
            print(String(format: "{\"load_seconds\": %.3f, \"file_mib\": %.1f, \"peak_rss_mib\": %.1f, \"rss_before_mib\": %.1f, \"peak_rss_over_file\": %.3f, \"parameters\": %d}",
                         seconds, fileBytes / 1_048_576, peak / 1_048_576, before / 1_048_576, ratio, params))
        } else {
            print(String(format: "loaded %@ (%@ parameters) in %.3f s", model, CLI.grouped(params), seconds))
            print(String(format: "file %.1f MiB, peak RSS %.1f MiB (%.2f× the file; %.1f MiB before loading)",
                         fileBytes / 1_048_576, peak / 1_048_576, ratio, before / 1_048_576))
        }
    }
}
