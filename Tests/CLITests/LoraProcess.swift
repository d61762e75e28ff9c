// Runs the built `lora` binary for the command-line tests.
import Foundation
import TestSupport
import XCTest

/// The `lora` executable: `$SWIFT_LORA_BIN`, else `.build/release/lora`.
enum LoraProcess {
    struct Run {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    static func binary(file: StaticString = #filePath, line: UInt = #line) throws -> URL {
        let env = ProcessInfo.processInfo.environment["SWIFT_LORA_BIN"]
        let url = env.map { URL(fileURLWithPath: $0) } ?? TestPaths.repoRoot.appendingPathComponent(".build/release/lora")
        switch TestPaths.require(url, hint: "build it with `swift build -c release --product lora` (scripts/test.sh does)") {
        case let .success(u): return u
        case let .failure(missing):
            XCTFail(missing.message, file: file, line: line)
            throw missing
        }
    }

    /// Runs `lora ARGUMENTS…` to completion, capturing both streams.
    static func run(_ arguments: [String], environment: [String: String]? = nil) throws -> Run {
        try run(executable: binary(), arguments, environment: environment)
    }

    /// Runs `EXECUTABLE ARGUMENTS…` (`mpirun`, `ip`, …) to completion, capturing both streams.
    static func run(executable: URL, _ arguments: [String], environment: [String: String]? = nil) throws -> Run {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        if let environment { process.environment = environment }
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        // stderr is drained on its own thread so that a chatty child cannot block on a full pipe.
        nonisolated(unsafe) var errData = Data()
        let group = DispatchGroup()
        group.enter()
        DispatchQueue.global().async {
            errData = err.fileHandleForReading.readDataToEndOfFile()
            group.leave()
        }
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        group.wait()
        process.waitUntilExit()
        return Run(status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
                   stderr: String(decoding: errData, as: UTF8.self))
    }
}
