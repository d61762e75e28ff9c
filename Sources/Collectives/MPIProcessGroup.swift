// Open MPI's MPI_COMM_WORLD as a ProcessGroup, opened only when the process was launched by mpirun.
import Foundation
import MPIShim

/// The processes `mpirun` started, through Open MPI's library opened at run time (`MPIShim`).
///
/// `lora` links no MPI library: `current` opens `libmpi.so.40` (or `LORA_MPI_LIBRARY`) only when
/// Open MPI's launcher set `OMPI_COMM_WORLD_SIZE`, so a machine without Open MPI runs `lora`
/// as a single process.
public final class MPIProcessGroup: ProcessGroup {
    public let rank: Int
    public let size: Int
    public var localSize: Int { Self.localSize() }
    private var finalized = false

    /// Whether this process was started by Open MPI's `mpirun`/`mpiexec`.
    public static func launchedByMPI(_ environment: [String: String] = ProcessInfo.processInfo.environment) -> Bool {
        environment["OMPI_COMM_WORLD_SIZE"] != nil
    }

    /// This process's rank in the job mpirun started, nil without mpirun (read before MPI is opened).
    public static func launchedRank(_ environment: [String: String] = ProcessInfo.processInfo.environment) -> Int? {
        environment["OMPI_COMM_WORLD_RANK"].flatMap(Int.init)
    }

    /// Processes of the job on this host (for sharing its cores between them).
    public static func localSize(_ environment: [String: String] = ProcessInfo.processInfo.environment) -> Int {
        environment["OMPI_COMM_WORLD_LOCAL_SIZE"].flatMap(Int.init) ?? 1
    }

    /// The environment variables through which Open MPI's launcher tells a process it is one
    /// of a job; a child process started without them runs alone.
    public static func isLauncherVariable(_ name: String) -> Bool {
        name.hasPrefix("OMPI_") || name.hasPrefix("PMIX_") || name.hasPrefix("OPAL_") || name.hasPrefix("PRTE_")
    }

    nonisolated(unsafe) private static var shared: MPIProcessGroup?

    /// The job's group when launched by mpirun (MPI initialised on first use), else a `SingleProcess`.
    public static func current() throws -> ProcessGroup {
        guard launchedByMPI() else { return SingleProcess() }
        if let shared { return shared }
        var error = [CChar](repeating: 0, count: 512)
        let library = ProcessInfo.processInfo.environment["LORA_MPI_LIBRARY"]
        let loaded = library.map { lora_mpi_load($0, &error, error.count) } ?? lora_mpi_load(nil, &error, error.count)
        guard loaded == 0 else { throw CollectiveError.unavailable(String(decoding: error.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)) }
        try check(lora_mpi_init(), "MPI_Init_thread")
        let group = MPIProcessGroup(rank: Int(lora_mpi_rank()), size: Int(lora_mpi_size()))
        shared = group
        atexit { MPIProcessGroup.shared?.finalize() }
        return group
    }

    private init(rank: Int, size: Int) {
        self.rank = rank
        self.size = size
    }

    static func check(_ code: Int32, _ call: String) throws {
        guard code == 0 else { throw CollectiveError.call(call, code: code) }
    }

    /// MPI_Finalize (also run at exit).
    public func finalize() {
        guard !finalized else { return }
        finalized = true
        _ = lora_mpi_finalize()
    }

    public func allreduceSum(_ buffer: UnsafeMutablePointer<Float>, count: Int) throws {
        try Self.check(lora_mpi_allreduce_sum_float(buffer, count), "MPI_Allreduce")
    }

    public func allreduce(_ values: inout [Double], _ operation: ReduceOperation) throws {
        let n = Int32(values.count)
        let rc = values.withUnsafeMutableBufferPointer { lora_mpi_allreduce_double($0.baseAddress!, n, operation.rawValue) }
        try Self.check(rc, "MPI_Allreduce")
    }

    public func startAllreduceSum(_ buffer: UnsafeMutablePointer<Float>, count: Int) throws {
        let rc = lora_mpi_iallreduce_sum_float(buffer, count)
        guard rc != -1 else { throw CollectiveError.unavailable("more than 256 reductions outstanding") }
        try Self.check(rc, "MPI_Iallreduce")
    }

    public func progress() throws {
        var done: Int32 = 0
        try Self.check(lora_mpi_test_all(&done), "MPI_Testall")
    }

    public func waitAll() throws { try Self.check(lora_mpi_wait_all(), "MPI_Waitall") }

    public func broadcast(_ buffer: UnsafeMutableRawPointer, bytes: Int, root: Int) throws {
        try Self.check(lora_mpi_bcast(buffer, bytes, Int32(root)), "MPI_Bcast")
    }

    public func barrier() throws {
        try Self.check(lora_mpi_ibarrier(), "MPI_Ibarrier")
        var done: Int32 = 0
        while true {
            try Self.check(lora_mpi_test_barrier(&done), "MPI_Test")
            if done != 0 { return }
            usleep(20_000)
        }
    }

    public func abort(code: Int32) -> Never {
        lora_mpi_abort(code)
        exit(code)
    }
}
