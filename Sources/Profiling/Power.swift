import Foundation

/// Which power meter to use.
public enum PowerPreference: String, Sendable, Codable, CaseIterable {
    /// RAPL if readable, else NVML if present, else not measured.
    case automatic
    /// RAPL package counters only (CPU package energy).
    case rapl
    /// NVML only (GPU board power).
    case nvml
    /// Do not measure power.
    case none
}

/// The kind of power measurement behind a profile; its raw values are the labels written to
/// run logs and reports.
public enum PowerSourceKind: String, Sendable, Codable, Equatable {
    /// Linux powercap RAPL package energy counters (CPU packages).
    case rapl = "rapl"
    /// NVIDIA NVML board power (GPUs).
    case nvml = "nvml"
    /// No meter was available; power and energy fields are `nil`.
    case notMeasured = "not measured"
}

/// The meter a sampler uses, with what it covers or why nothing is measured.
public enum PowerSource: Sendable, Equatable, CustomStringConvertible {
    /// RAPL package domains, by name (e.g. `["package-0"]`); their energy is summed.
    case rapl(domains: [String])
    /// NVML, summing the power of this many GPUs.
    case nvml(devices: Int)
    /// No measurement, and why (e.g. no `/sys/class/powercap` in this container).
    case notMeasured(reason: String)

    /// `rapl`, `nvml` or `not measured`.
    public var kind: PowerSourceKind {
        switch self {
        case .rapl: return .rapl
        case .nvml: return .nvml
        case .notMeasured: return .notMeasured
        }
    }

    /// What is measured (domains, devices) or the reason nothing is.
    public var detail: String {
        switch self {
        case .rapl(let domains): return "RAPL package domains: " + domains.joined(separator: ", ")
        case .nvml(let devices): return "NVML power of \(devices) GPU(s)"
        case .notMeasured(let reason): return reason
        }
    }

    public var description: String { "\(kind.rawValue) (\(detail))" }

    /// Probes the meters the preference allows and reports what a sampler would use; the probe
    /// releases whatever it opened.
    public static func detect(_ preference: PowerPreference = .automatic) -> PowerSource {
        PowerMeter.open(preference).source
    }
}

/// The open meter of one sampler. Used only by the sampler thread between start and stop.
final class PowerMeter {
    private enum Backend {
        case rapl([RAPL.Domain], RAPLMeter?)
        case nvml(NVMLMeter)
        case none
    }

    let source: PowerSource
    private var backend: Backend
    /// NVML power at the previous reading, for trapezoidal integration.
    private var lastWatts: Double?

    private init(source: PowerSource, backend: Backend) {
        self.source = source
        self.backend = backend
    }

    static func open(_ preference: PowerPreference) -> PowerMeter {
        var reasons: [String] = []
        if preference == .automatic || preference == .rapl {
            switch RAPL.discover() {
            case .success(let domains):
                return PowerMeter(source: .rapl(domains: domains.map(\.name)), backend: .rapl(domains, nil))
            case .failure(let why):
                reasons.append(why.reason)
            }
        }
        if preference == .automatic || preference == .nvml {
            switch NVMLMeter.open() {
            case .success(let meter):
                return PowerMeter(source: .nvml(devices: meter.deviceCount), backend: .nvml(meter))
            case .failure(let why):
                reasons.append(why.reason)
            }
        }
        if preference == .none { reasons.append("power measurement disabled") }
        return PowerMeter(source: .notMeasured(reason: reasons.joined(separator: "; ")), backend: .none)
    }

    /// Takes the reference reading at the start of a recording.
    func begin() {
        switch backend {
        case .rapl(let domains, _):
            backend = .rapl(domains, RAPLMeter(domains: domains))
        case .nvml(let meter):
            lastWatts = meter.watts()
        case .none:
            break
        }
    }

    /// Average power over the interval just ended (`dt` seconds) and the energy used in it.
    ///
    /// RAPL: energy is the counter delta, power is energy / dt. NVML: power is the reading
    /// now; energy is the trapezoid of the previous and current readings over `dt`.
    /// Both are `nil` when not measured or when the read failed (a failed RAPL read loses
    /// nothing: the next read's counter delta covers both intervals).
    func read(dt: Double) -> (watts: Double?, joules: Double?) {
        switch backend {
        case .rapl(let domains, let meter):
            guard let meter else {
                backend = .rapl(domains, RAPLMeter(domains: domains))
                return (nil, nil)
            }
            guard let joules = meter.joulesSinceLastRead(), dt > 0 else { return (nil, nil) }
            return (joules / dt, joules)
        case .nvml(let meter):
            guard let watts = meter.watts() else { return (nil, nil) }
            defer { lastWatts = watts }
            guard dt > 0 else { return (watts, nil) }
            // Without a previous reading (first read failed) the current one covers the interval.
            return (watts, 0.5 * ((lastWatts ?? watts) + watts) * dt)
        case .none:
            return (nil, nil)
        }
    }
}
