#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The process's resident memory, readable at any time.
///
/// On Linux, the current resident set size comes from `/proc/self/statm` (resident pages ×
/// page size) and the peak (the kernel's high-water mark, `VmHWM`) from `/proc/self/status`.
/// Elsewhere the current size is unavailable (`nil`) and the peak comes from `getrusage`.
public enum ProcessMemory {
    /// Bytes in one mebibyte.
    public static let bytesPerMiB: Double = 1_048_576

    /// Resident set size now, in bytes; `nil` if it cannot be read.
    public static var currentRSSBytes: UInt64? {
        #if os(Linux)
        guard let text = readSmallTextFile("/proc/self/statm", limit: 4096),
              let pages = parseStatmResidentPages(text) else { return nil }
        let pageSize = UInt64(max(0, sysconf(Int32(_SC_PAGESIZE))))
        return pages &* pageSize
        #else
        return nil
        #endif
    }

    /// Peak resident set size of the process's lifetime so far, in bytes; `nil` if unknown.
    public static var peakRSSBytes: UInt64? {
        #if os(Linux)
        if let text = readSmallTextFile("/proc/self/status", limit: 1 << 16),
           let kib = parseStatusField(text, field: "VmHWM") {
            return kib &* 1024
        }
        #endif
        guard let usage = selfResourceUsage(), usage.ru_maxrss > 0 else { return nil }
        #if os(Linux)
        return UInt64(usage.ru_maxrss) &* 1024  // kilobytes on Linux
        #else
        return UInt64(usage.ru_maxrss)  // bytes on Darwin
        #endif
    }

    /// The resident page count: the second field of `/proc/<pid>/statm`.
    public static func parseStatmResidentPages(_ text: String) -> UInt64? {
        let fields = text.split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "\t" })
        guard fields.count >= 2 else { return nil }
        return UInt64(fields[1])
    }

    /// The value of a `Name:   1234 kB` line of `/proc/<pid>/status`, in kibibytes.
    public static func parseStatusField(_ text: String, field: String) -> UInt64? {
        let prefix = field + ":"
        for line in text.split(separator: "\n") where line.hasPrefix(prefix) {
            let rest = line.dropFirst(prefix.count).split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard let first = rest.first else { return nil }
            return UInt64(first)
        }
        return nil
    }
}
