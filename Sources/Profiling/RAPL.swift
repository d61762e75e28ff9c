import Foundation

/// Intel/AMD RAPL energy counters exposed by Linux powercap
/// (`/sys/class/powercap/intel-rapl:N/energy_uj`).
///
/// Only package domains (`intel-rapl:N`, whose `name` is `package-N`) are read and summed;
/// their sub-domains (`intel-rapl:N:M`: core, uncore, dram) are parts of the package and
/// would be counted twice. A `psys` platform domain is skipped too.
public enum RAPL {
    /// The powercap directory that holds the RAPL zones.
    public static let powercapRoot = "/sys/class/powercap"

    /// Energy used between two readings of one wrapping counter, in the counter's unit (µJ).
    ///
    /// The counter counts up from 0 to `maxEnergyRange` (`max_energy_range_uj`) and then
    /// starts again at 0. If `current < previous`, exactly one wrap is assumed (the counter
    /// wraps after tens of minutes at full power, far longer than a sampling interval), giving
    /// `maxEnergyRange − previous + current`.
    ///
    /// - Returns: The delta, or `nil` if the readings are inconsistent (a wrap with a range of
    ///   zero, or a previous value above the range).
    public static func energyDelta(previous: UInt64, current: UInt64, maxEnergyRange: UInt64) -> UInt64? {
        if current >= previous { return current - previous }
        guard maxEnergyRange > 0, previous <= maxEnergyRange else { return nil }
        return (maxEnergyRange - previous) + current
    }

    /// One package domain: its directory, name and counter range.
    struct Domain {
        /// Zone directory, e.g. `/sys/class/powercap/intel-rapl:0`.
        let path: String
        /// The zone's `name` file (e.g. `package-0`), or the directory name if absent.
        let name: String
        /// `max_energy_range_uj`: the value at which `energy_uj` wraps to 0.
        let maxEnergyRange: UInt64
    }

    /// Whether a powercap entry name is a top-level RAPL zone: `intel-rapl:<digits>`.
    static func isTopLevelZone(_ entry: String) -> Bool {
        let prefix = "intel-rapl:"
        guard entry.hasPrefix(prefix) else { return false }
        let index = entry.dropFirst(prefix.count)
        return !index.isEmpty && index.allSatisfy { $0.isASCII && $0.isNumber }
    }

    /// Finds the readable package domains, or says why there are none.
    static func discover(root: String = powercapRoot) -> Result<[Domain], NotMeasured> {
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: root) else {
            return .failure(NotMeasured("no \(root) (RAPL powercap not exposed on this machine or container)"))
        }
        let zones = entries.filter(isTopLevelZone).sorted()
        var domains: [Domain] = []
        var unreadable: [String] = []
        for zone in zones {
            let path = root + "/" + zone
            let name = readSmallTextFile(path + "/name", limit: 256)?
                .trimmingCharacters(in: .whitespacesAndNewlines) ?? zone
            // Top-level zones are packages, except a platform-wide `psys` zone on some laptops.
            guard name.hasPrefix("package") || name == zone else { continue }
            guard readUInt64File(path + "/energy_uj") != nil,
                  let range = readUInt64File(path + "/max_energy_range_uj") else {
                unreadable.append(zone)
                continue
            }
            domains.append(Domain(path: path, name: name, maxEnergyRange: range))
        }
        if !unreadable.isEmpty {
            return .failure(NotMeasured(
                "RAPL energy_uj not readable in \(unreadable.joined(separator: ", ")) (usually root-only since Linux 5.10)"))
        }
        if domains.isEmpty {
            return .failure(NotMeasured("no RAPL package domains under \(root)"))
        }
        return .success(domains)
    }
}

/// Why power is not measured; carried by ``PowerSource/notMeasured(reason:)``.
struct NotMeasured: Error {
    let reason: String
    init(_ reason: String) { self.reason = reason }
}

/// Reads and accumulates the RAPL package counters (used only by the sampler thread).
final class RAPLMeter {
    private let domains: [RAPL.Domain]
    private var last: [UInt64]

    init?(domains: [RAPL.Domain]) {
        var values: [UInt64] = []
        for domain in domains {
            guard let value = readUInt64File(domain.path + "/energy_uj") else { return nil }
            values.append(value)
        }
        self.domains = domains
        self.last = values
    }

    /// Joules used by all package domains since the previous successful call (or since init).
    /// `nil` if any counter could not be read; the next call then covers both intervals.
    func joulesSinceLastRead() -> Double? {
        var current: [UInt64] = []
        var total: UInt64 = 0
        for (i, domain) in domains.enumerated() {
            guard let value = readUInt64File(domain.path + "/energy_uj"),
                  let delta = RAPL.energyDelta(previous: last[i], current: value,
                                               maxEnergyRange: domain.maxEnergyRange) else { return nil }
            current.append(value)
            total &+= delta
        }
        last = current
        return Double(total) / 1e6
    }
}
