// Runs a `lora` subcommand in a child process, streaming its stderr and keeping its tail.
import Foundation
import Collectives

/// How a child process ended.
struct ChildOutcome: Sendable {
    /// Exit status, or the signal number when `signalled`.
    var status: Int32
    /// Whether a signal ended the child (crash, SIGKILL by the OOM killer or a user).
    var signalled: Bool
    /// The last lines the child wrote to stderr.
    var stderrTail: [String]

    var succeeded: Bool { !signalled && status == 0 }

    /// "exit status 1" or "signal 9 (SIGKILL)".
    var description: String {
        guard signalled else { return "exit status \(status)" }
        let names: [Int32: String] = [SIGKILL: "SIGKILL", SIGSEGV: "SIGSEGV", SIGILL: "SIGILL", SIGABRT: "SIGABRT",
                                      SIGTERM: "SIGTERM", SIGINT: "SIGINT", SIGBUS: "SIGBUS", SIGTRAP: "SIGTRAP"]
        return "signal \(status)" + (names[status].map { " (\($0))" } ?? "")
    }
}

enum ChildProcess {
    /// This executable (children run the same `lora`): `/proc/self/exe`, which stays valid
    /// even when the file was replaced by a rebuild while the study runs.
    static var executablePath: String {
        FileManager.default.fileExists(atPath: "/proc/self/exe") ? "/proc/self/exe" : CommandLine.arguments[0]
    }

    /// The executable's path on disk (for finding the repository it was built in).
    static var executableFile: String {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    }

    /// Runs `lora ARGUMENTS…` and waits for it. Each stderr line is passed to `forward`
    /// (the parent's progress display); the last `tailLines` are kept for the outcome.
    /// stdout is inherited.
    static func runLora(_ arguments: [String], environment: [String: String] = [:], tailLines: Int = 20,
                        forward: (String) -> Void) throws -> ChildOutcome {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executablePath)
        process.arguments = arguments
        // A child is never one of the parent's mpirun processes: it runs alone.
        var env = ProcessInfo.processInfo.environment.filter { !MPIProcessGroup.isLauncherVariable($0.key) }
        for (k, v) in environment { env[k] = v }
        process.environment = env
        let pipe = Pipe()
        process.standardError = pipe
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let reader = pipe.fileHandleForReading
        var pending = Data()
        var tail: [String] = []
        func emit(_ line: Data) {
            let text = String(decoding: line, as: UTF8.self)
            forward(text)
            tail.append(text)
            if tail.count > tailLines { tail.removeFirst(tail.count - tailLines) }
        }
        while true {
            let chunk = reader.availableData
            if chunk.isEmpty { break }
            pending.append(chunk)
            while let newline = pending.firstIndex(of: 0x0A) {
                emit(pending[pending.startIndex..<newline])
                pending = Data(pending[(newline + 1)...])
            }
        }
        if !pending.isEmpty { emit(pending) }
        process.waitUntilExit()
        return ChildOutcome(status: process.terminationStatus, signalled: process.terminationReason == .uncaughtSignal, stderrTail: tail)
    }
}
