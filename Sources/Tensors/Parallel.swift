import Dispatch
import CBLAS

/// Thread control for the two kinds of parallel work: BLAS owns every core during a GEMM,
/// and row-parallel kernels use `parallelFor`. Never both at once.
public enum Threads {
    /// Number of worker threads used by `parallelFor` and by OpenBLAS.
    nonisolated(unsafe) public private(set) static var count: Int = 1

    /// Sets the thread count for BLAS and for `parallelFor` (default: all cores).
    public static func configure(_ n: Int? = nil) {
        let cores = max(1, n ?? System.coreCount)
        count = cores
        openblas_set_num_threads(Int32(cores))
    }

    /// Runs `body` with OpenBLAS limited to one thread (for GEMMs issued from several workers
    /// at once), then restores `count`.
    public static func withSingleThreadedBLAS(_ body: () -> Void) {
        if count > 1 { openblas_set_num_threads(1) }
        body()
        if count > 1 { openblas_set_num_threads(Int32(count)) }
    }

    /// Runs `body(start, end)` over `0..<total` split into `Threads.count` contiguous chunks.
    /// Chunks below `minimumChunk` items run on the calling thread.
    @inlinable public static func parallelFor(_ total: Int, minimumChunk: Int = 1, _ body: @Sendable (Int, Int) -> Void) {
        let workers = min(count, max(1, total / max(minimumChunk, 1)))
        if workers <= 1 {
            body(0, total)
            return
        }
        let chunk = (total + workers - 1) / workers
        DispatchQueue.concurrentPerform(iterations: workers) { w in
            let start = w * chunk
            let end = min(total, start + chunk)
            if start < end { body(start, end) }
        }
    }
}

/// Facts about the machine.
public enum System {
    /// Online processor count.
    public static var coreCount: Int { max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))) }
}

#if canImport(Glibc)
import Glibc
#endif
