import Foundation
import Tensors
import SafeTensors
import Encoders
import GLUE
import InputValidation
import Collectives

/// Fine-tuning method.
public enum FineTuningMethod: String, Sendable, Codable, CaseIterable {
    /// LoRA adapters plus the classification head; the encoder is frozen.
    case lora
    /// Every parameter is trained.
    case full
}

/// Hyper-parameters and run options of one fine-tuning run.
public struct TrainingOptions: Sendable, Codable, Equatable {
    public var method: FineTuningMethod = .lora
    public var lora = LoRAConfig()
    public var epochs: Int = 3
    public var batchSize: Int = 16
    public var learningRate: Float = 5e-4
    public var weightDecay: Double = 0.01
    public var warmupRatio: Double = 0.06
    public var maxGradNorm: Double = 1.0
    public var seed: UInt64 = 42
    /// Evaluate on dev every N optimizer steps as well as at each epoch end (nil: epoch ends only).
    public var evalEvery: Int?
    /// Evaluate E times per epoch, evenly spaced: after the epoch's step `j·S/E` (integer
    /// division; S steps per epoch, j = 1…E−1) and at its end (nil: epoch ends only).
    public var evalsPerEpoch: Int?
    /// Write a resumable checkpoint every N steps as well as at each epoch end.
    public var checkpointEvery: Int = 200
    /// Stop as soon as the dev primary metric reaches this value (iso-accuracy protocol).
    public var stopAtScore: Double?
    /// Stop after this many steps (for tests that simulate a killed run).
    public var stopAfterSteps: Int?
    /// Evaluation batch size.
    public var evalBatchSize: Int = 64
    /// LoRA+'s learning-rate ratio λ (B matrices and biases at λ·lr); nil: plain LoRA.
    public var loraPlusRatio: Double?
    /// A PEFT adapter directory LoRA starts from (its A, B and, when its label count is the
    /// task's, its head); `lora` must then hold the adapter's rank, α and targets.
    public var initAdapter: String?
    /// Which weights OUT/adapter (or OUT/model) holds at the end; nil: `.best`.
    public var keep: KeptWeights?

    /// Defaults: LoRA r = 8, α = 8 on query/value, 3 epochs, batch 16, lr 5e-4.
    public init() {}
}

/// Which weights a run writes: those of its best evaluation, or of its last step.
public enum KeptWeights: String, Sendable, Codable, Equatable, CaseIterable {
    case best
    case last
}

/// Errors of a training run.
public enum TrainingError: Error, CustomStringConvertible {
    case nonFiniteLoss(step: Int, loss: Float, checkpoint: String?)
    case nonFiniteGradient(step: Int, norm: Double, checkpoint: String?)
    case diverged(step: Int, loss: Float, firstLoss: Float, checkpoint: String?)
    case emptyTrainingSet
    case checkpointMismatch(path: String, reason: String)
    case memoryPlan(plan: String, availableMiB: Double)
    /// Data-parallel processes hold different weights (at the start: different model files).
    case processesDisagree(step: Int)
    /// Process 0 could not resume; the other processes report its reason.
    case resumeFailedOnProcessZero(String)
    /// Data-parallel processes read different data or options.
    case processesReadDifferentInputs

    /// Whether every process of a data-parallel run raises this error at the same step (it
    /// comes from reduced values, or process 0's outcome is broadcast), so that they can all
    /// stop without aborting the job.
    public var isRaisedByEveryProcess: Bool {
        switch self {
        case .nonFiniteLoss, .nonFiniteGradient, .diverged, .processesDisagree, .resumeFailedOnProcessZero,
             .processesReadDifferentInputs, .checkpointMismatch: true
        case .emptyTrainingSet, .memoryPlan: false
        }
    }

    static func lastGood(_ checkpoint: String?) -> String {
        checkpoint.map { "The last good checkpoint is \($0)." } ?? "No checkpoint was written before it."
    }

    public var description: String {
        switch self {
        case let .nonFiniteLoss(step, loss, checkpoint):
            "loss became \(loss) at step \(step); stopped. " + Self.lastGood(checkpoint)
        case let .nonFiniteGradient(step, norm, checkpoint):
            "the gradient norm became \(norm) at step \(step); stopped. " + Self.lastGood(checkpoint)
        case let .diverged(step, loss, first, checkpoint):
            "the mean loss of the last steps grew to \(loss) at step \(step), more than 100 times the first step's \(first): training diverged "
                + "(try a lower --lr); stopped. " + Self.lastGood(checkpoint)
        case let .memoryPlan(plan, available):
            "this run needs about " + plan + String(format: ", more than the %.0f MiB available; lower --batch-size, --max-length or --rank", available)
        case .emptyTrainingSet: "the training set is empty"
        case let .processesDisagree(step):
            step == 0 ? "the processes loaded different weights: every host needs the same model directory"
                : "the processes' weights differ after step \(step): the all-reduce did not give every process the same sum"
        case let .resumeFailedOnProcessZero(reason): "process 0 could not resume: \(reason)"
        case .processesReadDifferentInputs:
            "the processes read different data, options or model files (every host needs the same files and the same command)"
        case let .checkpointMismatch(path, reason): "\(path): cannot resume: \(reason)"
        }
    }
}

/// What a finished run reports (written as summary.json).
public struct TrainingSummary: Codable, Sendable {
    public var task: String
    public var method: FineTuningMethod
    public var options: TrainingOptions
    public var trainableParameters: Int
    public var totalParameters: Int
    public var adapterParameters: Int
    public var trainExamples: Int
    public var devExamples: Int
    public var steps: Int
    public var epochsCompleted: Double
    public var bestScore: Double?
    public var bestMetric: String
    public var bestEpoch: Double
    public var bestStep: Int
    public var finalMetrics: [String: Double]
    public var trainSeconds: Double
    public var evalSeconds: Double
    public var wallSeconds: Double
    public var stoppedEarly: Bool
    public var reachedScoreAtSeconds: Double?
    /// The best weights' directory, relative to the run directory (`adapter` or `model`).
    public var weightsPath: String
}

/// Fine-tunes an `EncoderModel` on a tokenized GLUE task.
///
/// Each epoch shuffles the training set from the seed, packs batches without padding,
/// runs forward/backward, clips the global gradient norm, and updates with AdamW on a
/// linear warm-up/decay schedule. It evaluates on dev at each epoch end (and every
/// `evalEvery` steps), logs every step and evaluation to `log.jsonl`, keeps the best
/// weights (a PEFT adapter for LoRA, a Hugging Face model for full fine-tuning) and writes
/// resumable checkpoints. Every file is written atomically.
public final class Trainer {
    public let model: EncoderModel
    public let task: GLUETask
    public let train: [TokenizedExample]
    public let dev: [TokenizedExample]
    public let options: TrainingOptions
    public let outputDirectory: URL
    /// Path of the base model, recorded in the adapter's config.
    public let baseModelPath: String
    /// Called with a one-line progress report (step, loss, lr, tokens/s, ETA).
    public var progress: (String) -> Void = { FileHandle.standardError.write(Data(($0 + "\n").utf8)) }
    /// What a warm start (`options.initAdapter`) took from its adapter.
    public private(set) var warmStart: PEFTAdapter.LoadedAdapter?
    /// Called after each optimizer step (and its evaluation and checkpoint) with the step number.
    public var afterStep: ((Int) -> Void)?

    let optimizer: AdamWOptimizer
    let schedule: LinearSchedule
    let stepsPerEpoch: Int
    /// The processes training together (`SingleProcess` without mpirun). Each computes its
    /// share of every batch; process 0 alone writes files and progress.
    public let group: ProcessGroup
    let reduction: GradientReduction?

    /// Prepares the model for `options.method` (attaching adapters for LoRA) and the optimizer;
    /// `group` holds the processes of a data-parallel run. Full fine-tuning's gradients are
    /// reduced in buckets of `bucketBytes` started during the backward pass (0: one call after it).
    public init(model: EncoderModel, task: GLUETask, train: [TokenizedExample], dev: [TokenizedExample],
                options: TrainingOptions, outputDirectory: URL, baseModelPath: String,
                group: ProcessGroup = SingleProcess(), bucketBytes: Int = 8 << 20) throws {
        guard !train.isEmpty else { throw TrainingError.emptyTrainingSet }
        try options.validate()
        if options.method == .lora { try options.lora.validate(for: model.config, source: nil) }
        self.model = model
        self.task = task
        self.train = train
        self.dev = dev
        self.options = options
        self.outputDirectory = outputDirectory
        self.baseModelPath = baseModelPath
        self.group = group
        switch options.method {
        case .full: model.setFullFineTuning()
        case .lora:
            if let dir = options.initAdapter {
                let head = try PEFTAdapter.load(URL(fileURLWithPath: dir), into: model, headOfAnotherSize: .reinitialise)
                guard model.loraConfig.map({ $0.rank == options.lora.rank && $0.alpha == options.lora.alpha
                    && $0.targets == options.lora.targets && $0.rsLoRA == options.lora.rsLoRA }) ?? false else {
                    throw InvalidValue(source: nil, key: "--init-adapter", value: dir,
                                       allowed: "an adapter whose rank, alpha and targets are the run's (take them from it: PEFTAdapter.describe)")
                }
                model.setAdapterDropout(options.lora.dropout)
                warmStart = head
            } else {
                var rng = RandomGenerator(seed: options.seed ^ 0x4C6F_5241)
                try model.attachLoRA(options.lora, rng: &rng)
            }
        }
        optimizer = AdamWOptimizer(store: model.parameters, config: AdamWConfig(weightDecay: options.weightDecay))
        if let ratio = options.loraPlusRatio { optimizer.useLoRAPlus(ratio: ratio) }
        stepsPerEpoch = (train.count + options.batchSize - 1) / options.batchSize
        schedule = LinearSchedule(peak: options.learningRate, totalSteps: stepsPerEpoch * options.epochs, warmupRatio: options.warmupRatio)
        let longest = (train + dev).map(\.ids.count).max() ?? 1
        let localBatch = (min(options.batchSize, train.count) + group.size - 1) / group.size
        memoryPlan = MemoryPlan.plan(model: model, batchSize: localBatch, longest: longest)
        // The host's processes each hold a whole model: together they must fit.
        if let available = MemoryPlan.availableBytes(), memoryPlan.total * Double(group.localSize) > available {
            let plan = group.localSize > 1 ? "\(group.localSize) × (\(memoryPlan.description)) for this host's processes" : memoryPlan.description
            throw TrainingError.memoryPlan(plan: plan, availableMiB: available / 1_048_576)
        }
        identity = Trainer.identity(task: task, options: options, train: train, dev: dev)
        // Full fine-tuning's gradients travel while the backward pass goes on; LoRA's in one call.
        reduction = group.size > 1
            ? GradientReduction(group: group, model: model, overlap: options.method == .full && bucketBytes > 0, bucketBytes: bucketBytes) : nil
    }

    /// A progress line, from process 0 only.
    func say(_ line: String) { if group.isWriter { progress(line) } }

    /// What the run's memory was planned at (checked against the available memory at start).
    public let memoryPlan: MemoryPlan
    /// What a checkpoint of this run must agree on to be resumed; callers add fields the
    /// trainer cannot see (the model's digest, the data files, the maximum length, caps).
    public var identity: RunIdentity

    /// Adds what only the caller knows to `identity`: the model's content digest, the maximum
    /// length and the example caps.
    public func addInputIdentity(modelDirectory: URL, maxLength: Int, maxTrainExamples: Int?, maxDevExamples: Int?) {
        identity.fields["model_digest"] = RunIdentity.fileDigest(modelDirectory.appendingPathComponent("model.safetensors")) ?? "unreadable"
        identity.fields["max_length"] = String(maxLength)
        identity.fields["max_train_examples"] = maxTrainExamples.map(String.init) ?? "all"
        identity.fields["max_dev_examples"] = maxDevExamples.map(String.init) ?? "all"
    }

    static func identity(task: GLUETask, options o: TrainingOptions, train: [TokenizedExample], dev: [TokenizedExample]) -> RunIdentity {
        var f: [String: String] = [
            "task": task.name, "method": o.method.rawValue, "epochs": String(o.epochs), "batch_size": String(o.batchSize),
            "learning_rate": String(o.learningRate), "weight_decay": String(o.weightDecay), "warmup_ratio": String(o.warmupRatio),
            "max_grad_norm": String(o.maxGradNorm), "seed": String(o.seed), "eval_every": o.evalEvery.map(String.init) ?? "none",
            "evals_per_epoch": o.evalsPerEpoch.map(String.init) ?? "1", "checkpoint_every": String(o.checkpointEvery),
            "stop_at_score": o.stopAtScore.map { String($0) } ?? "none",
            "train_examples": String(train.count), "dev_examples": String(dev.count),
            "train_data_digest": RunIdentity.examplesDigest(train), "dev_data_digest": RunIdentity.examplesDigest(dev),
        ]
        if o.method == .lora {
            f["lora_rank"] = String(o.lora.rank)
            f["lora_alpha"] = String(o.lora.alpha)
            f["lora_dropout"] = String(o.lora.dropout)
            f["lora_targets"] = o.lora.targets.map(\.rawValue).joined(separator: ",")
            f["lora_rslora"] = String(o.lora.rsLoRA)
            if let ratio = o.loraPlusRatio { f["loraplus_ratio"] = String(ratio) }
            if let dir = o.initAdapter { f["init_adapter"] = dir }
            if let initialisation = o.lora.initialisation { f["lora_init"] = initialisation.rawValue }
        }
        return RunIdentity(fields: f)
    }

    var logURL: URL { outputDirectory.appendingPathComponent("log.jsonl") }
    var checkpointURL: URL { outputDirectory.appendingPathComponent("checkpoint.safetensors") }
    /// Where the best weights go: `adapter/` (LoRA) or `model/` (full fine-tuning).
    public var weightsURL: URL { outputDirectory.appendingPathComponent(options.method == .lora ? "adapter" : "model") }

    /// Mutable progress of a run, saved in checkpoints.
    struct RunState: Codable {
        var step = 0
        var epoch = 0
        var batchInEpoch = 0
        /// Unused since dropout masks are keyed per example (`DropoutStream.key`); kept so that
        /// checkpoints written before still decode.
        var dropoutRNG: RandomGenerator
        var bestScore: Double?
        var bestStep = 0
        var bestEpoch = 0.0
        var trainSeconds = 0.0
        var evalSeconds = 0.0
        var reachedScoreAtSeconds: Double?
        var logBytes: UInt64 = 0
        var lastMetrics: [String: Double] = [:]
        /// The first step's loss (the divergence check compares with it).
        var firstLoss: Float?
        /// The last (up to) 10 losses.
        var recentLosses: [Float]?
    }

    /// Runs (or, with `resume`, continues) training; returns the summary also written to summary.json.
    public func run(resume: Bool = false) throws -> TrainingSummary {
        let writer = group.isWriter
        if writer { try FileManager.default.createDirectory(at: outputDirectory, withIntermediateDirectories: true) }
        let wallStart = Date()
        var state = RunState(dropoutRNG: RandomGenerator(seed: options.seed ^ 0xD80F))
        if group.size > 1 { try shareInitialWeights() }
        if resume, let resumed = try resumedState() {
            state = resumed
            say("resumed from \(checkpointURL.path) at step \(state.step)")
        } else if writer {
            try? FileManager.default.removeItem(at: logURL)  // RunLog creates it afresh
        }
        let log = writer ? try RunLog(url: logURL, truncateTo: state.logBytes) : RunLog.discarding()
        if state.step == 0, let warm = warmStart, let dir = options.initAdapter {
            let head = warm.headReinitialised
                ? "its head (\(warm.adapterHeadLabels.map(String.init) ?? "?") outputs) is not this task's (\(model.config.labelCount)): the head is re-initialised"
                : warm.loadedHead.isEmpty ? "it has no head: the head is the model's" : "its head too"
            say("warm start from \(dir): A and B of every adapter, \(head)")
            try log.write(["type": .string("warm_start"), "adapter": .string(dir), "head_reinitialised": .bool(warm.headReinitialised),
                           "head_loaded": .array(warm.loadedHead.map { .string($0) })])
        }
        if state.step > 0 {
            try log.write(["type": .string("resume"), "step": .number(Double(state.step)), "train_seconds": .number(state.trainSeconds)])
        } else {
            let counts = model.parameterCounts
            try log.write(["type": .string("start"), "task": .string(task.name), "method": .string(options.method.rawValue),
                           "trainable_parameters": .number(Double(counts.trainable)), "total_parameters": .number(Double(counts.total)),
                           "processes": .number(Double(group.size)),
                           "train_examples": .number(Double(train.count)), "dev_examples": .number(Double(dev.count)),
                           "steps_per_epoch": .number(Double(stepsPerEpoch)), "epochs": .number(Double(options.epochs))])
        }
        let totalSteps = stepsPerEpoch * options.epochs
        var stoppedEarly = false
        var tokensSinceReport = 0
        var reportClock = Date()
        let sessionStartStep = state.step
        let sessionStart = Date()

        training: while state.epoch < options.epochs {
            let order = Batching.epochOrder(count: train.count, seed: options.seed, epoch: state.epoch)
            while state.batchInEpoch < stepsPerEpoch {
                if let stop = options.stopAfterSteps, state.step >= stop { stoppedEarly = true; break training }
                let lo = state.batchInEpoch * options.batchSize, hi = min(train.count, lo + options.batchSize)
                // This process's share of the batch; each example's dropout masks are keyed by
                // its place in the epoch, so the step does not depend on how the batch is shared.
                let share = DataShard.share(of: lo..<hi, rank: group.rank, size: group.size)
                let t0 = Date()
                model.parameters.zeroGradients()
                reduction?.begin()
                var loss: Float = 0
                var tokens = 0
                if !share.isEmpty {
                    let (batch, labels) = Batching.batch(train, indices: order[share], regression: task.isRegression)
                    let keys = share.map { DropoutStream.key(seed: options.seed, epoch: state.epoch, position: $0) }
                    (loss, _) = try model.forwardBackward(batch, labels: labels, training: true, dropout: DropoutStream(keys: keys),
                                                          gradientScale: Float(share.count) / Float(hi - lo))
                    tokens = batch.tokenCount
                }
                var reduceSeconds = 0.0
                if let reduction {
                    reduceSeconds = try reduction.finish()
                    let t1 = Date()
                    var sums = [Double(loss) * Double(share.count), Double(tokens)]
                    try group.allreduce(&sums, .sum)
                    reduceSeconds += Date().timeIntervalSince(t1)
                    loss = Float(sums[0] / Double(hi - lo))
                    tokens = Int(sums[1])
                }
                guard loss.isFinite else {
                    let cp = lastCheckpoint()
                    try log.write(["type": .string("error"), "step": .number(Double(state.step + 1)), "message": .string("non-finite loss \(loss)")])
                    throw TrainingError.nonFiniteLoss(step: state.step + 1, loss: loss, checkpoint: cp)
                }
                if state.firstLoss == nil { state.firstLoss = loss }
                let window = Array(((state.recentLosses ?? []) + [loss]).suffix(10))
                state.recentLosses = window
                // The mean of the last 10 losses against the first, or against a uniform guess's
                // cross-entropy ln(k) when the first batch happened to be easy.
                let recent = window.reduce(0, +) / Float(window.count)
                let reference = max(state.firstLoss ?? loss, task.isRegression ? 0 : Float(Foundation.log(Double(max(2, model.config.labelCount)))))
                if reference > 0, recent > 100 * reference {
                    try log.write(["type": .string("error"), "step": .number(Double(state.step + 1)), "message": .string("diverged: mean loss \(recent), first \(reference)")])
                    throw TrainingError.diverged(step: state.step + 1, loss: recent, firstLoss: reference, checkpoint: lastCheckpoint())
                }
                let norm = GradientClipping.clip(model.parameters, maxNorm: options.maxGradNorm)
                guard norm.isFinite else {
                    try log.write(["type": .string("error"), "step": .number(Double(state.step + 1)), "message": .string("non-finite gradient norm \(norm)")])
                    throw TrainingError.nonFiniteGradient(step: state.step + 1, norm: norm, checkpoint: lastCheckpoint())
                }
                let lr = schedule.learningRate(at: state.step)
                optimizer.step(learningRate: lr)
                state.step += 1
                state.batchInEpoch += 1
                let dt = Date().timeIntervalSince(t0)
                state.trainSeconds += dt
                tokensSinceReport += tokens
                let epochPosition = Double(state.epoch) + Double(state.batchInEpoch) / Double(stepsPerEpoch)
                var record: [String: JSONValue] = [
                    "type": .string("step"), "step": .number(Double(state.step)), "epoch": .number(epochPosition),
                    "loss": .number(Double(loss)), "lr": .number(Double(lr)), "grad_norm": .number(norm),
                    "tokens": .number(Double(tokens)), "seconds": .number(dt), "train_seconds": .number(state.trainSeconds)]
                if reduction != nil { record["allreduce_seconds"] = .number(reduceSeconds) }
                try log.write(record)
                let now = Date()
                if now.timeIntervalSince(reportClock) >= 2 || state.step == totalSteps {
                    let rate = Double(tokensSinceReport) / max(now.timeIntervalSince(reportClock), 1e-9)
                    let perStep = now.timeIntervalSince(sessionStart) / Double(max(1, state.step - sessionStartStep))
                    let eta = perStep * Double(totalSteps - state.step)
                    say(String(format: "%@ %@ | step %d/%d | epoch %.2f | loss %.4f | lr %.2e | %.0f tok/s | ETA %@",
                                    task.name, options.method.rawValue, state.step, totalSteps, epochPosition, loss, lr, rate, Self.duration(eta)))
                    tokensSinceReport = 0
                    reportClock = now
                }
                let epochEnd = state.batchInEpoch == stepsPerEpoch
                if epochEnd || (options.evalEvery.map { state.step % $0 == 0 } ?? false) || isEvaluationPoint(state.batchInEpoch) {
                    if try evaluate(&state, log: log, epochPosition: epochPosition) {
                        stoppedEarly = true
                        break training
                    }
                }
                if epochEnd {
                    state.epoch += 1
                    state.batchInEpoch = 0
                }
                if epochEnd || state.step % options.checkpointEvery == 0 {
                    if try !WeightsDigest.agree(model.parameters, group: group) { throw TrainingError.processesDisagree(step: state.step) }
                    state.logBytes = log.bytesWritten
                    if writer { try saveCheckpoint(state) }
                }
                afterStep?(state.step)
                if epochEnd { break }
            }
        }
        // --keep last: the weights of the last step (a simulated kill keeps none: it resumes).
        if options.keep == .last, !(stoppedEarly && options.stopAfterSteps != nil) { try saveWeights() }
        if writer, !stoppedEarly || options.stopAfterSteps == nil {
            try? FileManager.default.removeItem(at: checkpointURL)
        }
        let counts = model.parameterCounts
        let summary = TrainingSummary(
            task: task.name, method: options.method, options: options,
            trainableParameters: counts.trainable, totalParameters: counts.total,
            adapterParameters: model.adapters.reduce(0) { $0 + $1.a.count + $1.b.count },
            trainExamples: train.count, devExamples: dev.count, steps: state.step,
            epochsCompleted: Double(state.epoch) + Double(state.batchInEpoch) / Double(stepsPerEpoch),
            bestScore: state.bestScore, bestMetric: task.primaryMetric.rawValue, bestEpoch: state.bestEpoch, bestStep: state.bestStep,
            finalMetrics: state.lastMetrics, trainSeconds: state.trainSeconds, evalSeconds: state.evalSeconds,
            wallSeconds: Date().timeIntervalSince(wallStart), stoppedEarly: stoppedEarly,
            reachedScoreAtSeconds: state.reachedScoreAtSeconds, weightsPath: weightsURL.lastPathComponent)
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys]
        if writer { try AtomicFile.write(enc.encode(summary), to: outputDirectory.appendingPathComponent("summary.json")) }
        try log.write(["type": .string("end"), "steps": .number(Double(state.step)), "best_score": state.bestScore.map { .number($0) } ?? .null,
                       "train_seconds": .number(state.trainSeconds), "stopped_early": .bool(stoppedEarly)])
        return summary
    }

    /// The checkpoint on disk, if any (what a stopped run can resume from).
    func lastCheckpoint() -> String? {
        FileManager.default.fileExists(atPath: checkpointURL.path) ? checkpointURL.relativePath : nil
    }

    /// Whether the epoch's `batch`-th step (1-based) is one of the `evalsPerEpoch` points.
    func isEvaluationPoint(_ batch: Int) -> Bool {
        guard let e = options.evalsPerEpoch, e > 1 else { return false }
        return (1..<e).contains { $0 * stepsPerEpoch / e == batch }
    }

    /// Evaluates on dev, logs, keeps the best weights. Returns true when `stopAtScore` is reached.
    func evaluate(_ state: inout RunState, log: RunLog, epochPosition: Double) throws -> Bool {
        let t0 = Date()
        let report = try evaluateDev()
        state.evalSeconds += Date().timeIntervalSince(t0)
        state.lastMetrics = report.dictionary
        let score = report.primaryValue
        var metrics: [String: JSONValue] = [:]
        for (k, v) in report.dictionary { metrics[k] = .number(v) }
        try log.write(["type": .string("eval"), "step": .number(Double(state.step)), "epoch": .number(epochPosition),
                       "metrics": .object(metrics), "primary": .number(score), "metric": .string(report.primary.rawValue),
                       "train_seconds": .number(state.trainSeconds), "eval_seconds": .number(state.evalSeconds)])
        say(String(format: "%@ %@ | eval at step %d (epoch %.2f): %@ = %.4f", task.name, options.method.rawValue,
                        state.step, epochPosition, report.primary.rawValue, score))
        if state.bestScore.map({ score > $0 }) ?? true {
            state.bestScore = score
            state.bestStep = state.step
            state.bestEpoch = epochPosition
            if options.keep != .last { try saveWeights() }
        }
        if let target = options.stopAtScore, score >= target {
            state.reachedScoreAtSeconds = state.trainSeconds
            return true
        }
        return false
    }

    /// Writes the current weights (adapter or full model) atomically: into a temporary
    /// directory, then renamed over the previous one.
    func saveWeights() throws {
        guard group.isWriter else { return }
        let fm = FileManager.default
        let tmp = outputDirectory.appendingPathComponent(".\(weightsURL.lastPathComponent).tmp")
        try? fm.removeItem(at: tmp)
        let token = TemporaryFiles.register(tmp)
        defer { TemporaryFiles.unregister(token) }
        do {
            switch options.method {
            case .lora: try PEFTAdapter.save(model, to: tmp, baseModelPath: baseModelPath)
            case .full:
                try model.saveModel(to: tmp)
                try EncoderModel.copyTokenizerFiles(from: URL(fileURLWithPath: baseModelPath), to: tmp)
            }
        } catch {
            try? fm.removeItem(at: tmp)
            throw error
        }
        let old = outputDirectory.appendingPathComponent(".\(weightsURL.lastPathComponent).old")
        try? fm.removeItem(at: old)
        if fm.fileExists(atPath: weightsURL.path) { try fm.moveItem(at: weightsURL, to: old) }
        try fm.moveItem(at: tmp, to: weightsURL)
        try? fm.removeItem(at: old)
    }

    /// The dev metrics. With several processes each predicts its share of the dev set, the
    /// logits are summed into one table (each row is non-zero on one process only), and every
    /// process computes the same metrics from it, so that they agree on the best step and on
    /// stopping.
    func evaluateDev() throws -> MetricReport {
        guard group.size > 1 else { return try Evaluation.evaluate(model: model, task: task, examples: dev, batchSize: options.evalBatchSize) }
        let k = model.config.labelCount
        let mine = DataShard.share(of: 0..<dev.count, rank: group.rank, size: group.size)
        var all = [Float](repeating: 0, count: dev.count * k)
        let part = try Evaluation.logits(model: model, examples: dev[mine], batchSize: options.evalBatchSize)
        all.replaceSubrange(mine.lowerBound * k ..< mine.upperBound * k, with: part)
        if !all.isEmpty { try all.withUnsafeMutableBufferPointer { try group.allreduceSum($0.baseAddress!, count: $0.count) } }
        return try Evaluation.report(task: task, logits: all, labelCount: k, examples: dev)
    }

    /// Gives every process process 0's trainable weights (its initial adapters and head), then
    /// checks that all the weights agree.
    func shareInitialWeights() throws {
        // Different data (or options) would make the processes call the collectives differently.
        if try !group.agree(on: identity.digest) { throw TrainingError.processesReadDifferentInputs }
        for p in optimizer.parameters { try group.broadcast(p.value.pointer, count: p.count) }
        if try !WeightsDigest.agree(model.parameters, group: group) { throw TrainingError.processesDisagree(step: 0) }
    }

    /// The checkpoint's run state when there is one to resume, else nil. Process 0 reads the
    /// file and sends the weights, the moments and the state to the others, so that only it
    /// needs the output directory.
    func resumedState() throws -> RunState? {
        var message: [UInt8] = [0]
        var loaded: RunState?
        var failure: Error?
        if group.isWriter, FileManager.default.fileExists(atPath: checkpointURL.path) {
            do {
                let state = try loadCheckpoint()
                loaded = state
                message = [1] + Array(try JSONEncoder().encode(state))
            } catch {
                failure = error
                message = [2] + Array(String(describing: error).utf8)
            }
        }
        if group.size > 1 { message = try group.broadcast(message) }
        switch message.first {
        case 2:
            throw failure ?? TrainingError.resumeFailedOnProcessZero(String(decoding: message.dropFirst(), as: UTF8.self))
        case 1 where group.size > 1:
            for (i, p) in optimizer.parameters.enumerated() {
                try group.broadcast(p.value.pointer, count: p.count)
                try group.broadcast(optimizer.firstMoment(i).pointer, count: p.count)
                try group.broadcast(optimizer.secondMoment(i).pointer, count: p.count)
            }
            var steps = Int64(optimizer.stepCount)
            try group.broadcast(&steps, bytes: 8, root: 0)
            optimizer.restore(stepCount: Int(steps))
            return try loaded ?? JSONDecoder().decode(RunState.self, from: Data(message.dropFirst()))
        case 1: return loaded
        default: return nil
        }
    }

    // MARK: checkpoints

    func saveCheckpoint(_ state: RunState) throws {
        var records: [SafeTensorRecord] = []
        for (i, p) in optimizer.parameters.enumerated() {
            records.append(SafeTensorRecord(name: "param." + p.name, shape: p.shape, pointer: p.pointer))
            records.append(SafeTensorRecord(name: "m." + p.name, shape: p.shape, pointer: optimizer.firstMoment(i).readPointer))
            records.append(SafeTensorRecord(name: "v." + p.name, shape: p.shape, pointer: optimizer.secondMoment(i).readPointer))
        }
        let enc = JSONEncoder()
        enc.outputFormatting = .sortedKeys
        let stateJSON = String(decoding: try enc.encode(state), as: UTF8.self)
        let optionsJSON = String(decoding: try enc.encode(options), as: UTF8.self)
        let identityJSON = String(decoding: try enc.encode(identity.fields), as: UTF8.self)
        try SafeTensorsWriter.write(records, metadata: ["state": stateJSON, "options": optionsJSON, "identity": identityJSON,
                                                        "optimizer_steps": String(optimizer.stepCount)], to: checkpointURL)
    }

    func loadCheckpoint() throws -> RunState {
        let file = try SafeTensorsFile(url: checkpointURL)
        guard let stateJSON = file.metadata["state"], let optionsJSON = file.metadata["options"],
              let steps = file.metadata["optimizer_steps"].flatMap(Int.init) else {
            throw TrainingError.checkpointMismatch(path: checkpointURL.path, reason: "metadata is incomplete")
        }
        if let identityJSON = file.metadata["identity"],
           let saved = try? JSONDecoder().decode([String: String].self, from: Data(identityJSON.utf8)) {
            if let difference = identity.difference(from: RunIdentity(fields: saved)) {
                throw TrainingError.checkpointMismatch(path: checkpointURL.relativePath, reason: "it was made by a different run (\(difference))")
            }
        }
        let saved = try JSONDecoder().decode(TrainingOptions.self, from: Data(optionsJSON.utf8))
        var comparable = saved
        comparable.stopAfterSteps = options.stopAfterSteps
        guard comparable == options else {
            throw TrainingError.checkpointMismatch(path: checkpointURL.relativePath, reason: "it was written with other options")
        }
        for (i, p) in optimizer.parameters.enumerated() {
            try file.readFloats("param." + p.name, into: p.value.pointer, count: p.count)
            try file.readFloats("m." + p.name, into: optimizer.firstMoment(i).pointer, count: p.count)
            try file.readFloats("v." + p.name, into: optimizer.secondMoment(i).pointer, count: p.count)
        }
        optimizer.restore(stepCount: steps)
        return try JSONDecoder().decode(RunState.self, from: Data(stateJSON.utf8))
    }

    static func duration(_ seconds: Double) -> String {
        guard seconds.isFinite else { return "?" }
        let s = Int(seconds.rounded())
        if s >= 3600 { return "\(s / 3600)h\(String(format: "%02d", (s % 3600) / 60))m" }
        if s >= 60 { return "\(s / 60)m\(String(format: "%02d", s % 60))s" }
        return "\(s)s"
    }
}

/// Append-only JSON-lines log; each record gets the wall-clock time `time` (Unix seconds).
public final class RunLog {
    let handle: FileHandle?
    /// Bytes in the file after the last write.
    public private(set) var bytesWritten: UInt64

    /// Opens `url` for appending, first cutting it to `truncateTo` bytes when that is
    /// non-zero (a resumed run drops what was logged after its checkpoint).
    public init(url: URL, truncateTo: UInt64 = 0) throws {
        // A file that cannot be created surfaces as FileHandle's error, which names it.
        if !FileManager.default.fileExists(atPath: url.path) { _ = FileManager.default.createFile(atPath: url.path, contents: nil) }
        let file = try FileHandle(forWritingTo: url)
        if truncateTo > 0 { try file.truncate(atOffset: truncateTo) }
        bytesWritten = try file.seekToEnd()
        handle = file
    }

    /// A log that writes nothing (a data-parallel process other than 0).
    public static func discarding() -> RunLog { RunLog() }

    private init() {
        handle = nil
        bytesWritten = 0
    }

    deinit { try? handle?.close() }

    /// Appends one record.
    public func write(_ record: [String: JSONValue]) throws {
        guard let handle else { return }
        var r = record
        r["time"] = .number(Date().timeIntervalSince1970)
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var data = try enc.encode(JSONValue.object(r))
        data.append(0x0A)
        try handle.write(contentsOf: data)
        bytesWritten += UInt64(data.count)
    }
}
