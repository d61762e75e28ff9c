// Temporary files and directories being written, removed if a write fails or SIGINT/SIGTERM arrives.
import Foundation

/// The temporary paths in flight (an atomic write's `.NAME.tmp-PID`, a weights directory
/// being assembled). `installSignalHandlers()` makes SIGINT and SIGTERM remove them before
/// the process exits (status 128 + signal), so an interrupted run leaves no half-written
/// files behind; SIGKILL cannot be caught, and the next write of the same file replaces
/// its leftover.
public enum TemporaryFiles {
    nonisolated(unsafe) private static var paths: [Int: String] = [:]
    nonisolated(unsafe) private static var next = 0
    private static let lock = NSLock()

    /// Registers `url` for removal on interruption; returns the token for `unregister`.
    public static func register(_ url: URL) -> Int {
        lock.lock()
        defer { lock.unlock() }
        next += 1
        paths[next] = url.path
        return next
    }

    /// The write finished (renamed into place) or its file was removed.
    public static func unregister(_ token: Int) {
        lock.lock()
        defer { lock.unlock() }
        paths[token] = nil
    }

    /// The paths registered now.
    public static var registered: [String] {
        lock.lock()
        defer { lock.unlock() }
        return Array(paths.values)
    }

    /// Removes every registered path (files and directories).
    public static func removeAll() {
        for path in registered { try? FileManager.default.removeItem(atPath: path) }
    }

    /// The write end of the pipe the signal handler wakes the cleanup thread through.
    nonisolated(unsafe) private static var wakeFD: Int32 = -1

    /// Installs handlers for SIGINT and SIGTERM. The handler only writes the signal number to
    /// a pipe (async-signal-safe); a thread of its own reads it, removes the registered paths
    /// and exits with status 128 + signal. Call once, first thing in `main`.
    public static func installSignalHandlers() {
        var fds: [Int32] = [-1, -1]
        guard pipe(&fds) == 0 else { return }
        for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        wakeFD = fds[1]
        let readFD = fds[0]
        let thread = Thread {
            var signal: Int32 = 0
            while read(readFD, &signal, MemoryLayout<Int32>.size) != MemoryLayout<Int32>.size {}
            // Held to the end: no writer registers or finishes a temporary file any more.
            lock.lock()
            let leftovers = Array(paths.values)
            for path in leftovers { try? FileManager.default.removeItem(atPath: path) }
            let note = "interrupted (signal \(signal)); removed \(leftovers.count) temporary file(s)\n"
            _ = note.withCString { write(2, $0, strlen($0)) }
            _exit(128 + signal)
        }
        thread.stackSize = 1 << 20
        thread.start()
        for s in [SIGINT, SIGTERM] {
            var action = sigaction()
            #if os(Linux)
            action.__sigaction_handler.sa_handler = { signal in
                var value = signal
                _ = write(TemporaryFiles.wakeFD, &value, MemoryLayout<Int32>.size)
            }
            #else
            action.__sigaction_u.__sa_handler = { signal in
                var value = signal
                _ = write(TemporaryFiles.wakeFD, &value, MemoryLayout<Int32>.size)
            }
            #endif
            sigemptyset(&action.sa_mask)
            action.sa_flags = SA_RESTART
            sigaction(s, &action, nil)
        }
    }
}
