import Foundation

/// Summary statistics of repeated latency measurements, all in seconds.
///
/// Percentiles interpolate linearly between order statistics (NumPy's default): the
/// `p`-quantile of sorted `x[0..<n]` is at rank `p·(n−1)`.
public struct LatencyStats: Codable, Sendable, Equatable {
    /// The measured durations, in the order they were taken.
    public var samples: [Double]
    /// Median (the 0.5-quantile).
    public var median: Double
    /// Arithmetic mean.
    public var mean: Double
    /// The 0.9-quantile.
    public var p90: Double
    /// Shortest duration.
    public var min: Double
    /// Longest duration.
    public var max: Double

    /// Computes the statistics of `samples`, which must not be empty (a programmer error).
    public init(samples: [Double]) {
        precondition(!samples.isEmpty, "LatencyStats needs at least one sample")
        self.samples = samples
        let sorted = samples.sorted()
        median = Self.quantile(sorted: sorted, 0.5)
        p90 = Self.quantile(sorted: sorted, 0.9)
        mean = samples.reduce(0, +) / Double(samples.count)
        min = sorted[0]
        max = sorted[sorted.count - 1]
    }

    /// The `p`-quantile (`0...1`) of an ascending, non-empty array, by linear interpolation.
    public static func quantile(sorted: [Double], _ p: Double) -> Double {
        precondition(!sorted.isEmpty, "quantile of an empty array")
        let rank = Swift.min(Swift.max(p, 0), 1) * Double(sorted.count - 1)
        let lower = Int(rank.rounded(.down))
        let upper = Swift.min(lower + 1, sorted.count - 1)
        let fraction = rank - Double(lower)
        return sorted[lower] + (sorted[upper] - sorted[lower]) * fraction
    }
}

/// Runs `body` `warmup` times untimed, then `repeats` times timed with the monotonic clock.
///
/// - Parameters:
///   - repeats: Timed runs (at least 1).
///   - warmup: Untimed runs before them (caches, lazy initialisation, page faults).
///   - body: The work to time; its errors propagate.
/// - Returns: Statistics of the `repeats` durations, in seconds.
public func measureLatency(repeats: Int, warmup: Int = 0, _ body: () throws -> Void) rethrows -> LatencyStats {
    precondition(repeats >= 1, "measureLatency needs repeats >= 1")
    for _ in 0 ..< Swift.max(0, warmup) { try body() }
    var samples: [Double] = []
    samples.reserveCapacity(repeats)
    for _ in 0 ..< repeats {
        let start = MonotonicClock.nanoseconds()
        try body()
        let end = MonotonicClock.nanoseconds()
        samples.append(Double(end &- start) / 1e9)
    }
    return LatencyStats(samples: samples)
}
