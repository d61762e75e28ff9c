import Foundation

/// One dev-set evaluation from a run log (`{"type":"eval", ...}`).
public struct EvalRecord: Codable, Sendable, Equatable {
    /// Optimizer steps taken when it ran.
    public var step: Int
    /// Epoch position (fractional: 3.0 is the end of the third epoch).
    public var epoch: Double
    /// The primary metric's value, raw scale (0.85 = 85 %); NaN when the log wrote `null`
    /// (an undefined metric, e.g. the correlation of constant predictions).
    public var primary: Double
    /// Name of the primary metric, e.g. `accuracy`, `matthews_correlation`, `pearson`.
    public var metric: String?
    /// Every metric of the evaluation, by name.
    public var metrics: [String: Double]
    /// Cumulative seconds spent in training steps up to it (evaluation excluded).
    public var trainSeconds: Double
    /// Cumulative seconds spent evaluating, this evaluation included.
    public var evalSeconds: Double?
    /// Unix time at which it was logged (after the evaluation finished).
    public var time: Double?

    /// Creates an evaluation record.
    public init(step: Int = 0, epoch: Double, primary: Double, metric: String? = nil,
                metrics: [String: Double] = [:], trainSeconds: Double, evalSeconds: Double? = nil,
                time: Double? = nil) {
        self.step = step
        self.epoch = epoch
        self.primary = primary
        self.metric = metric
        self.metrics = metrics
        self.trainSeconds = trainSeconds
        self.evalSeconds = evalSeconds
        self.time = time
    }
}

/// The `start` record of a run log.
public struct RunStartRecord: Codable, Sendable, Equatable {
    /// GLUE task name.
    public var task: String?
    /// `full` or `lora`.
    public var method: String?
    /// Parameters the optimizer updates.
    public var trainableParameters: Int?
    /// All parameters of the model.
    public var totalParameters: Int?
    /// Training examples.
    public var trainExamples: Int?
    /// Dev examples.
    public var devExamples: Int?
    /// Optimizer steps per epoch.
    public var stepsPerEpoch: Int?
    /// Planned epochs.
    public var epochs: Int?
    /// Unix time of the start.
    public var time: Double?
}

/// The `end` record of a run log.
public struct RunEndRecord: Codable, Sendable, Equatable {
    /// Optimizer steps taken.
    public var steps: Int?
    /// Best primary score, raw scale; `nil` if no evaluation ran.
    public var bestScore: Double?
    /// Seconds spent in training steps.
    public var trainSeconds: Double?
    /// Whether the run stopped before its planned epochs.
    public var stoppedEarly: Bool?
    /// Unix time of the end.
    public var time: Double?
}

/// One training step of a run log, reduced to what the report uses.
public struct StepRecord: Codable, Sendable, Equatable {
    /// Step number (1-based).
    public var step: Int
    /// Epoch position after the step.
    public var epoch: Double
    /// Training loss of the batch.
    public var loss: Double?
    /// Tokens in the batch.
    public var tokens: Double?
    /// Cumulative seconds spent in training steps.
    public var trainSeconds: Double
}

/// A parsed `log.jsonl`: the start, every step and evaluation, the end, and any errors.
///
/// Unknown record types (`resume`, future ones) are counted and otherwise ignored.
public struct RunLogFile: Sendable, Equatable {
    /// The `start` record (the first, if a resumed log has several).
    public var start: RunStartRecord?
    /// Training steps, in log order.
    public var steps: [StepRecord] = []
    /// Dev evaluations, in log order.
    public var evals: [EvalRecord] = []
    /// The `end` record, if the run finished.
    public var end: RunEndRecord?
    /// Messages of `error` records.
    public var errors: [String] = []
    /// Number of `resume` records (the run was interrupted and continued).
    public var resumes: Int = 0
    /// Number of records of other types.
    public var ignoredRecords: Int = 0
    /// Whether the last line had no newline and did not parse (a writer mid-append); it was skipped.
    public var skippedIncompleteLastLine = false

    /// Creates an empty log.
    public init() {}

    /// The best finite primary score among the evaluations, or `nil` if there is none.
    public var bestPrimary: Double? { evals.map(\.primary).filter(\.isFinite).max() }

    /// Whether the run wrote its `end` record.
    public var isFinished: Bool { end != nil }

    /// Parses a run log, or returns `nil` if there is no file.
    ///
    /// Blank lines are skipped. A last line without a terminating newline that does not parse
    /// is taken for a record being appended and skipped (``skippedIncompleteLastLine``).
    ///
    /// - Throws: ``StudyError/malformedJSON(path:line:reason:)`` naming the file and 1-based
    ///   line of any other record that is not a JSON object with a string `type`, or a
    ///   `step`/`eval` record without its numbers.
    public static func load(from url: URL) throws -> RunLogFile? {
        guard let file = try JSONFiles.lines(at: url) else { return nil }
        var log = RunLogFile()
        for (number, data) in file.lines {
            try log.add(data, path: url.path, line: number)
        }
        if let (number, data) = file.incompleteLastLine {
            do {
                try log.add(data, path: url.path, line: number)
            } catch {
                log.skippedIncompleteLastLine = true
            }
        }
        return log
    }

    /// Parses one record and adds it.
    mutating func add(_ data: Data, path: String, line: Int) throws {
        let record = try JSONFiles.decode(LogRecord.self, from: data, path: path, line: line)
        func require(_ value: Double?, _ key: String) throws -> Double {
            guard let value else {
                throw StudyError.malformedJSON(path: path, line: line,
                                               reason: "\"\(record.type)\" record without a number \"\(key)\"")
            }
            return value
        }
        switch record.type {
        case "start":
            if start == nil {
                start = RunStartRecord(
                    task: record.task, method: record.method,
                    trainableParameters: record.trainableParameters.map(Self.int),
                    totalParameters: record.totalParameters.map(Self.int),
                    trainExamples: record.trainExamples.map(Self.int), devExamples: record.devExamples.map(Self.int),
                    stepsPerEpoch: record.stepsPerEpoch.map(Self.int), epochs: record.epochs.map(Self.int),
                    time: record.time)
            }
        case "step":
            steps.append(StepRecord(step: Self.int(try require(record.step, "step")),
                                    epoch: try require(record.epoch, "epoch"), loss: record.loss,
                                    tokens: record.tokens, trainSeconds: try require(record.trainSeconds, "train_seconds")))
        case "eval":
            // `"primary": null` is a metric that was undefined (e.g. Pearson of constant
            // predictions): kept as NaN, which never reaches a threshold or counts as a best.
            let primary = record.primaryIsNull ? Double.nan : try require(record.primary, "primary")
            evals.append(EvalRecord(step: Self.int(record.step ?? 0), epoch: try require(record.epoch, "epoch"),
                                    primary: primary, metric: record.metric,
                                    metrics: record.metrics ?? [:], trainSeconds: try require(record.trainSeconds, "train_seconds"),
                                    evalSeconds: record.evalSeconds, time: record.time))
        case "end":
            end = RunEndRecord(steps: record.steps.map(Self.int), bestScore: record.bestScore,
                               trainSeconds: record.trainSeconds, stoppedEarly: record.stoppedEarly, time: record.time)
        case "error":
            errors.append(record.message ?? "error at line \(line)")
        case "resume":
            resumes += 1
        default:
            ignoredRecords += 1
        }
    }

    private static func int(_ x: Double) -> Int {
        x.isFinite ? Int(x.rounded()) : 0
    }
}

/// Any record of a run log: the union of the fields of all types, each optional.
///
/// Fields of other types are decoded leniently (a wrong type reads as absent) so that a
/// record type this version does not know never stops the report.
private struct LogRecord: Decodable {
    var type: String
    var time: Double?
    var task: String?
    var method: String?
    var trainableParameters: Double?
    var totalParameters: Double?
    var trainExamples: Double?
    var devExamples: Double?
    var stepsPerEpoch: Double?
    var epochs: Double?
    var step: Double?
    var epoch: Double?
    var loss: Double?
    var tokens: Double?
    var trainSeconds: Double?
    var evalSeconds: Double?
    var metrics: [String: Double]?
    var primary: Double?
    var primaryIsNull = false
    var metric: String?
    var steps: Double?
    var bestScore: Double?
    var stoppedEarly: Bool?
    var message: String?

    enum CodingKeys: String, CodingKey {
        case type, time, task, method, epochs, step, epoch, loss, tokens, metrics, primary, metric
        case steps, message
        case trainableParameters = "trainable_parameters"
        case totalParameters = "total_parameters"
        case trainExamples = "train_examples"
        case devExamples = "dev_examples"
        case stepsPerEpoch = "steps_per_epoch"
        case trainSeconds = "train_seconds"
        case evalSeconds = "eval_seconds"
        case bestScore = "best_score"
        case stoppedEarly = "stopped_early"
    }

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        type = try c.decode(String.self, forKey: .type)
        func number(_ key: CodingKeys) -> Double? { (try? c.decodeIfPresent(Double.self, forKey: key)) ?? nil }
        func string(_ key: CodingKeys) -> String? { (try? c.decodeIfPresent(String.self, forKey: key)) ?? nil }
        time = number(.time)
        switch type {
        case "start":
            task = string(.task)
            method = string(.method)
            trainableParameters = number(.trainableParameters)
            totalParameters = number(.totalParameters)
            trainExamples = number(.trainExamples)
            devExamples = number(.devExamples)
            stepsPerEpoch = number(.stepsPerEpoch)
            epochs = number(.epochs)
        case "step":
            step = number(.step)
            epoch = number(.epoch)
            loss = number(.loss)
            tokens = number(.tokens)
            trainSeconds = number(.trainSeconds)
        case "eval":
            step = number(.step)
            epoch = number(.epoch)
            primary = number(.primary)
            primaryIsNull = c.contains(.primary) && ((try? c.decodeNil(forKey: .primary)) ?? false)
            metric = string(.metric)
            trainSeconds = number(.trainSeconds)
            evalSeconds = number(.evalSeconds)
            // Metrics that are not numbers (null for an undefined correlation) are dropped.
            if let raw = try? c.decodeIfPresent([String: Double?].self, forKey: .metrics) {
                metrics = raw.compactMapValues { $0 }
            }
        case "end":
            steps = number(.steps)
            bestScore = number(.bestScore)
            trainSeconds = number(.trainSeconds)
            stoppedEarly = (try? c.decodeIfPresent(Bool.self, forKey: .stoppedEarly)) ?? nil
        case "error":
            message = string(.message)
        default:
            break
        }
    }
}
