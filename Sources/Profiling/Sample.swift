import Foundation

/// One reading of the profiling sampler, covering the interval since the previous one.
///
/// Written as one JSON object per sample in run logs; `nil` fields are omitted.
public struct Sample: Codable, Sendable, Equatable {
    /// Seconds since the sampler started (monotonic clock).
    public var t: Double
    /// Resident set size at `t`, in MiB.
    public var rssMiB: Double
    /// The process's peak resident set size so far (`VmHWM`), in MiB; `nil` if unknown.
    public var peakRSSMiB: Double?
    /// CPU utilisation over the interval as cores busy: process CPU seconds / wall seconds.
    /// 1.0 is one core fully busy; the maximum is the number of logical cores.
    public var cpuUtilisation: Double
    /// Process CPU seconds (user + system, all threads) used since the sampler started.
    public var cpuSeconds: Double
    /// Measured average power over the interval, in watts; `nil` when not measured.
    public var powerWatts: Double?
    /// Measured energy since the sampler started (cumulative), in joules; `nil` when not measured.
    public var energyJoules: Double?

    /// Creates a sample from its fields.
    public init(t: Double, rssMiB: Double, peakRSSMiB: Double? = nil, cpuUtilisation: Double,
                cpuSeconds: Double, powerWatts: Double? = nil, energyJoules: Double? = nil) {
        self.t = t
        self.rssMiB = rssMiB
        self.peakRSSMiB = peakRSSMiB
        self.cpuUtilisation = cpuUtilisation
        self.cpuSeconds = cpuSeconds
        self.powerWatts = powerWatts
        self.energyJoules = energyJoules
    }
}

/// What a recording amounts to: memory, CPU, power and energy over its duration.
///
/// Averages are time-weighted over the samples' intervals (the last interval, ended by
/// `stop()`, is usually shorter than the others).
public struct ProfileSummary: Codable, Sendable, Equatable {
    /// Seconds from start to the last sample.
    public var duration: Double
    /// Number of samples.
    public var sampleCount: Int
    /// Time-weighted average resident set size, in MiB.
    public var averageRSSMiB: Double
    /// Largest resident set size among the samples, in MiB.
    public var peakRSSMiB: Double
    /// The process's lifetime peak (`VmHWM`) at the last sample, in MiB; this also covers
    /// spikes between samples and before the start. `nil` if unknown.
    public var processPeakRSSMiB: Double?
    /// Average CPU utilisation as cores busy: total CPU seconds / duration.
    public var averageCPUUtilisation: Double
    /// Process CPU seconds used during the recording.
    public var cpuSeconds: Double
    /// Logical cores of the machine (`averageCPUUtilisation / logicalCores` is the machine share).
    public var logicalCores: Int
    /// Measured average power (total energy / duration), in watts; `nil` when not measured.
    public var averagePowerWatts: Double?
    /// Measured total energy, in joules; `nil` when not measured.
    public var totalEnergyJoules: Double?
    /// `rapl`, `nvml` or `not measured`.
    public var powerSource: PowerSourceKind
    /// What the power source covers, or why power is not measured.
    public var powerSourceDetail: String

    /// Summarises samples recorded with the given power source.
    ///
    /// With no samples, every quantity is zero (and power `nil`).
    public init(samples: [Sample], powerSource: PowerSource,
                logicalCores: Int = ProcessCPU.logicalCores) {
        self.sampleCount = samples.count
        self.logicalCores = logicalCores
        self.powerSource = powerSource.kind
        self.powerSourceDetail = powerSource.detail
        let duration = samples.last?.t ?? 0
        self.duration = duration
        var weighted = 0.0
        var previousT = 0.0
        for sample in samples {
            weighted += sample.rssMiB * max(0, sample.t - previousT)
            previousT = sample.t
        }
        if duration > 0 {
            averageRSSMiB = weighted / duration
        } else {
            averageRSSMiB = samples.isEmpty ? 0 : samples.map(\.rssMiB).reduce(0, +) / Double(samples.count)
        }
        peakRSSMiB = samples.map(\.rssMiB).max() ?? 0
        processPeakRSSMiB = samples.last?.peakRSSMiB
        cpuSeconds = samples.last?.cpuSeconds ?? 0
        averageCPUUtilisation = duration > 0 ? cpuSeconds / duration : 0
        if powerSource.kind != .notMeasured, let energy = samples.last(where: { $0.energyJoules != nil })?.energyJoules {
            totalEnergyJoules = energy
            averagePowerWatts = duration > 0 ? energy / duration : nil
        } else {
            totalEnergyJoules = nil
            averagePowerWatts = nil
        }
    }
}
