// The processes of a data-parallel job and the collectives training needs: one process, or Open MPI's.
import Foundation

/// Reductions over doubles.
public enum ReduceOperation: Int32, Sendable {
    case sum = 0, max = 1, min = 2
}

/// Errors of the collectives.
public enum CollectiveError: Error, CustomStringConvertible {
    /// Open MPI could not be opened or lacks a function.
    case unavailable(String)
    /// An MPI call returned an error code.
    case call(String, code: Int32)

    public var description: String {
        switch self {
        case .unavailable(let why): "MPI: " + why
        case let .call(name, code): "MPI: \(name) failed with error code \(code)"
        }
    }
}

/// The processes that train one model together, each holding the same weights.
///
/// Buffers are reduced in place. Every process must make the same calls in the same order;
/// only the thread that created the group may call it.
public protocol ProcessGroup: AnyObject {
    /// This process's index, 0 ..< `size`; process 0 writes the run's files.
    var rank: Int { get }
    /// Number of processes.
    var size: Int { get }
    /// Number of the group's processes on this host (they share its memory and cores).
    var localSize: Int { get }
    /// `buffer[0 ..< count]` ← its sum over every process.
    func allreduceSum(_ buffer: UnsafeMutablePointer<Float>, count: Int) throws
    /// `values` ← their reduction over every process (element-wise).
    func allreduce(_ values: inout [Double], _ operation: ReduceOperation) throws
    /// Starts an in-place sum of `buffer[0 ..< count]`; the buffer must not be touched until `waitAll`.
    func startAllreduceSum(_ buffer: UnsafeMutablePointer<Float>, count: Int) throws
    /// Lets started sums progress without waiting.
    func progress() throws
    /// Waits for every started sum.
    func waitAll() throws
    /// `bytes` bytes at `buffer` ← process `root`'s.
    func broadcast(_ buffer: UnsafeMutableRawPointer, bytes: Int, root: Int) throws
    /// Returns once every process has called it, sleeping between polls rather than spinning
    /// (a process that waits for the others leaves its core to them).
    func barrier() throws
    /// Ends every process of the job with `code`.
    func abort(code: Int32) -> Never
}

extension ProcessGroup {
    /// Whether this process writes the run's logs, checkpoints and outputs.
    public var isWriter: Bool { rank == 0 }

    /// Process `root`'s bytes on every process (`bytes` is read on `root` only).
    public func broadcast(_ bytes: [UInt8], root: Int = 0) throws -> [UInt8] {
        var length = Int64(rank == root ? bytes.count : 0)
        try broadcast(&length, bytes: 8, root: root)
        var out = rank == root ? bytes : [UInt8](repeating: 0, count: Int(length))
        if length > 0 { try out.withUnsafeMutableBytes { try broadcast($0.baseAddress!, bytes: Int(length), root: root) } }
        return out
    }

    /// Whether every process passed the same `value` (compared through its minimum and
    /// maximum over the group, as doubles on 32-bit halves so that they are exact).
    public func agree(on value: UInt64) throws -> Bool {
        guard size > 1 else { return true }
        let parts = [Double(value >> 32), Double(value & 0xFFFF_FFFF)]
        var low = parts, high = parts
        try allreduce(&low, .min)
        try allreduce(&high, .max)
        return low == high
    }

    /// Process `root`'s floats on every process.
    public func broadcast(_ buffer: UnsafeMutablePointer<Float>, count: Int, root: Int = 0) throws {
        try broadcast(UnsafeMutableRawPointer(buffer), bytes: count * MemoryLayout<Float>.stride, root: root)
    }
}

/// The group of one: every collective is the identity. What `lora` uses without `mpirun`.
public final class SingleProcess: ProcessGroup {
    public init() {}
    public var rank: Int { 0 }
    public var size: Int { 1 }
    public var localSize: Int { 1 }
    public func allreduceSum(_ buffer: UnsafeMutablePointer<Float>, count: Int) {}
    public func allreduce(_ values: inout [Double], _ operation: ReduceOperation) {}
    public func startAllreduceSum(_ buffer: UnsafeMutablePointer<Float>, count: Int) {}
    public func progress() {}
    public func waitAll() {}
    public func broadcast(_ buffer: UnsafeMutableRawPointer, bytes: Int, root: Int) {}
    public func barrier() {}
    public func abort(code: Int32) -> Never { exit(code) }
}
