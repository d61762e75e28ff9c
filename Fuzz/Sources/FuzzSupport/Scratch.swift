// A per-process scratch directory where a harness writes each input as the file a reader opens.
import Foundation

/// The readers under test open files, so each input is written to a file in a directory of
/// this process (in /dev/shm when it exists: no disk traffic).
public enum Scratch {
    public static let directory: URL = {
        let base = FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm" : NSTemporaryDirectory()
        let url = URL(fileURLWithPath: base).appendingPathComponent("swift-lora-fuzz-\(getpid())")
        try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }()

    /// Writes `bytes` to `name` inside the scratch directory (sub-directories created).
    @discardableResult
    public static func write(_ bytes: UnsafeRawBufferPointer, to name: String) -> URL {
        write(Data(bytes), to: name)
    }

    @discardableResult
    public static func write(_ data: Data, to name: String) -> URL {
        let url = directory.appendingPathComponent(name)
        try? FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try? data.write(to: url)
        return url
    }
}
