#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// A monotonic clock (`CLOCK_MONOTONIC`): never jumps with wall-clock changes, so it is the
/// one to difference for durations and latencies.
public enum MonotonicClock {
    /// Nanoseconds since an arbitrary fixed point (boot, on Linux).
    public static func nanoseconds() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
    }

    /// Seconds since the same fixed point as ``nanoseconds()``.
    public static func seconds() -> Double {
        Double(nanoseconds()) / 1e9
    }
}

/// Facts about the process's CPU time.
public enum ProcessCPU {
    /// CPU time this process has used so far (user + system, all threads), in seconds.
    ///
    /// Read from `clock_gettime(CLOCK_PROCESS_CPUTIME_ID)`: the same quantity as `utime + stime`
    /// of `/proc/self/stat`, but with nanosecond rather than 10 ms (clock-tick) resolution,
    /// which matters for 0.5 s sampling intervals. Falls back to `getrusage` if that clock fails.
    public static func cpuSeconds() -> Double {
        var ts = timespec()
        if clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts) == 0 {
            return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
        }
        guard let usage = selfResourceUsage() else { return 0 }
        let user = Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6
        let system = Double(usage.ru_stime.tv_sec) + Double(usage.ru_stime.tv_usec) / 1e6
        return user + system
    }

    /// Number of online logical processors (at least 1).
    public static var logicalCores: Int {
        max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
    }
}

/// Reads a small text file (procfs, sysfs) to the end with plain `read(2)`.
///
/// procfs and sysfs files report a size of 0, so readers that trust `stat` sizes can return
/// nothing; this one reads until end of file. Returns `nil` if the file cannot be opened or read
/// or is not UTF-8.
func readSmallTextFile(_ path: String, limit: Int = 1 << 20) -> String? {
    let fd = open(path, O_RDONLY)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 4096)
    while bytes.count < limit {
        let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if n < 0 {
            if errno == EINTR { continue }
            return nil
        }
        if n == 0 { break }
        bytes.append(contentsOf: chunk[0 ..< n])
    }
    return String(validating: bytes, as: UTF8.self)
}

/// Reads a file holding one unsigned decimal integer (sysfs counters), ignoring surrounding
/// whitespace.
func readUInt64File(_ path: String) -> UInt64? {
    guard let text = readSmallTextFile(path, limit: 256) else { return nil }
    return UInt64(text.trimmingCharacters(in: .whitespacesAndNewlines))
}

/// `getrusage(RUSAGE_SELF)`, or `nil` on failure.
func selfResourceUsage() -> rusage? {
    var usage = rusage()
    #if os(Linux)
    let who = __rusage_who_t(RUSAGE_SELF.rawValue)
    #else
    let who = RUSAGE_SELF
    #endif
    return getrusage(who, &usage) == 0 ? usage : nil
}
