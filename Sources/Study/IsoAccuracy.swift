import Profiling

/// The paper's iso-accuracy analysis: how much training each method needs to reach the same
/// dev score, `threshold = min(best LoRA, best FFT) − 0.005` on the primary metric (raw scale).
///
/// ```swift
/// let threshold = IsoAccuracy.threshold(bestFFT: 0.86, bestLoRA: 0.85)      // 0.845
/// if let reach = IsoAccuracy.firstReach(evals: run.evals, threshold: threshold) {
///     print(reach.trainSeconds, reach.epoch)
/// }
/// ```
public enum IsoAccuracy {
    /// The paper's margin below the lower of the two best scores: 0.005 (half a point).
    public static let defaultMargin = 0.005

    /// Slack in the `score ≥ threshold` comparison, so that a score equal to the threshold in
    /// decimal (0.845 against 0.85 − 0.005 = 0.8450000000000001) counts as reaching it.
    public static let comparisonTolerance = 1e-9

    /// The first evaluation that reached the threshold.
    public struct Reach: Codable, Sendable, Equatable {
        /// Cumulative training seconds (evaluation excluded) when it was reached.
        public var trainSeconds: Double
        /// Epoch position of that evaluation (fractional).
        public var epoch: Double
        /// Optimizer step of that evaluation.
        public var step: Int
        /// The primary score of that evaluation, raw scale.
        public var score: Double
        /// Cumulative evaluation seconds up to and including it, if logged.
        public var evalSeconds: Double?
        /// Unix time at which that evaluation was logged, if logged.
        public var time: Double?

        /// Creates a reach from its fields.
        public init(trainSeconds: Double, epoch: Double, step: Int, score: Double,
                    evalSeconds: Double? = nil, time: Double? = nil) {
            self.trainSeconds = trainSeconds
            self.epoch = epoch
            self.step = step
            self.score = score
            self.evalSeconds = evalSeconds
            self.time = time
        }
    }

    /// The threshold both methods must reach: `min(bestFFT, bestLoRA) − margin`.
    public static func threshold(bestFFT: Double, bestLoRA: Double, margin: Double = defaultMargin) -> Double {
        min(bestFFT, bestLoRA) - margin
    }

    /// The earliest evaluation (least training time; log order breaks ties) whose primary
    /// score is at least `threshold` (within ``comparisonTolerance``); `nil` if none is.
    public static func firstReach(evals: [EvalRecord], threshold: Double) -> Reach? {
        var best: EvalRecord?
        for eval in evals where eval.primary.isFinite && eval.primary >= threshold - comparisonTolerance {
            if best.map({ eval.trainSeconds < $0.trainSeconds }) ?? true { best = eval }
        }
        return best.map {
            Reach(trainSeconds: $0.trainSeconds, epoch: $0.epoch, step: $0.step, score: $0.primary,
                  evalSeconds: $0.evalSeconds, time: $0.time)
        }
    }

    /// The time on the profiler's clock (seconds since the run started) at which `reach` was
    /// known, to look up cumulative energy and CPU time in the profile.
    ///
    /// The profiler's clock counts everything the run did (training steps, evaluations,
    /// logging, checkpoints), so the best match is the wall-clock time from the log's `start`
    /// record to the evaluation's record. When either time is missing, or the run was resumed
    /// (its wall clock then includes the time it was stopped), it falls back to training plus
    /// evaluation seconds.
    ///
    /// - Parameters:
    ///   - reach: The evaluation that reached the threshold.
    ///   - startTime: Unix time of the log's `start` record, if known.
    ///   - resumed: Whether the log records a resume.
    public static func profileSeconds(of reach: Reach, startTime: Double?, resumed: Bool) -> Double {
        if !resumed, let start = startTime, let time = reach.time, time >= start {
            return time - start
        }
        return reach.trainSeconds + (reach.evalSeconds ?? 0)
    }
}

/// Reading values off a run's profile (``Sample``s every 0.5 s).
public enum ProfileSeries {
    /// Seconds past the last sample that a lookup still accepts (the last sample's value).
    public static let extrapolationLimit = 1.0

    /// A cumulative quantity (energy, CPU seconds) at time `t` (seconds since the run's start),
    /// interpolated linearly between the samples around it.
    ///
    /// The quantity is taken as 0 at t = 0, so a time before the first sample interpolates
    /// from the origin. Samples whose value is `nil` are skipped.
    ///
    /// - Parameters:
    ///   - value: The cumulative quantity of a sample, e.g. `{ $0.energyJoules }`.
    ///   - t: The time, in seconds since the profile started.
    ///   - samples: The profile, in time order.
    /// - Returns: The interpolated value; the last sample's value when `t` is past it by at
    ///   most ``extrapolationLimit``; `nil` when no sample has a value or `t` is further out.
    public static func cumulative(_ value: (Sample) -> Double?, at t: Double, in samples: [Sample]) -> Double? {
        guard t.isFinite else { return nil }
        var previous = (t: 0.0, v: 0.0)
        var sawValue = false
        for sample in samples {
            guard let v = value(sample), v.isFinite else { continue }
            sawValue = true
            if sample.t >= t {
                let span = sample.t - previous.t
                guard span > 0 else { return v }
                let fraction = max(0, min(1, (t - previous.t) / span))
                return previous.v + (v - previous.v) * fraction
            }
            previous = (sample.t, v)
        }
        guard sawValue, t <= previous.t + extrapolationLimit else { return nil }
        return previous.v
    }

    /// Time-weighted average of an instantaneous quantity (RSS, utilisation) over the samples,
    /// each standing for the interval since the previous one; `nil` with no samples.
    public static func timeAverage(_ value: (Sample) -> Double?, in samples: [Sample]) -> Double? {
        var weighted = 0.0
        var duration = 0.0
        var previousT = 0.0
        var plain: [Double] = []
        for sample in samples {
            defer { previousT = sample.t }
            guard let v = value(sample), v.isFinite else { continue }
            plain.append(v)
            let dt = max(0, sample.t - previousT)
            weighted += v * dt
            duration += dt
        }
        if duration > 0 { return weighted / duration }
        return plain.isEmpty ? nil : plain.reduce(0, +) / Double(plain.count)
    }
}
