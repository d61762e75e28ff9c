import Foundation

/// An ESTIMATE of energy from CPU time and an assumed power per busy core. Not a measurement.
///
/// Use it only where no meter exists (``PowerSourceKind/notMeasured``), and report it with its
/// ``formula`` and ``label`` so that it is never mistaken for a measured value:
/// `energy_J = cpu_seconds × watts_per_busy_core`. It ignores idle, uncore, memory and
/// platform power, and the real per-core power varies with frequency, SIMD width and chip.
public struct EnergyEstimate: Codable, Sendable, Equatable {
    /// Always `"ESTIMATE"`: written beside the numbers in logs and reports.
    public var label: String
    /// Process CPU seconds the estimate is based on.
    public var cpuSeconds: Double
    /// The assumed power of one fully busy core, in watts (an assumption, not a measurement).
    public var assumedWattsPerBusyCore: Double
    /// Estimated energy, in joules: `cpuSeconds × assumedWattsPerBusyCore`.
    public var estimatedJoules: Double
    /// The formula with its numbers, e.g.
    /// `ESTIMATE energy_J = cpu_seconds × assumed_W_per_busy_core = 12.5 × 10 = 125 J (not measured)`.
    public var formula: String

    /// Estimates the energy of `cpuSeconds` of CPU time at `assumedWattsPerBusyCore` per core.
    ///
    /// - Parameters:
    ///   - cpuSeconds: Process CPU seconds (``ProfileSummary/cpuSeconds`` or ``Sample/cpuSeconds``).
    ///   - assumedWattsPerBusyCore: Assumed watts of one busy core; default 10 W.
    public init(cpuSeconds: Double, assumedWattsPerBusyCore: Double = 10) {
        label = "ESTIMATE"
        self.cpuSeconds = cpuSeconds
        self.assumedWattsPerBusyCore = assumedWattsPerBusyCore
        estimatedJoules = cpuSeconds * assumedWattsPerBusyCore
        formula = "ESTIMATE energy_J = cpu_seconds × assumed_W_per_busy_core = "
            + "\(Self.format(cpuSeconds)) × \(Self.format(assumedWattsPerBusyCore)) = "
            + "\(Self.format(estimatedJoules)) J (not measured)"
    }

    /// Estimates from a summary's CPU seconds.
    public init(summary: ProfileSummary, assumedWattsPerBusyCore: Double = 10) {
        self.init(cpuSeconds: summary.cpuSeconds, assumedWattsPerBusyCore: assumedWattsPerBusyCore)
    }

    private static func format(_ x: Double) -> String {
        String(format: "%.4g", x)
    }
}
