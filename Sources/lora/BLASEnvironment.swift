import Foundation

/// OpenBLAS's idle worker threads spin (calling `sched_yield`) for about 2²⁸ cycles after
/// each GEMM before they sleep. On a small machine that spinning competes with the row
/// kernels that run between GEMMs: profiles of a training step showed 13–15 % of all samples
/// in `sched_yield`. OpenBLAS reads `OPENBLAS_THREAD_TIMEOUT` once, when the library loads,
/// so the tool sets it and re-executes itself before doing any work.
enum BLASEnvironment {
    static let variable = "OPENBLAS_THREAD_TIMEOUT"
    /// 2⁴ cycles: idle workers go to sleep at once (the minimum OpenBLAS accepts).
    static let quietTimeout = "4"

    /// Re-executes the process with `OPENBLAS_THREAD_TIMEOUT` set, unless the user set it.
    /// If the re-exec fails, carries on in this process (only slower).
    static func relaunchIfNeeded() {
        guard getenv(variable) == nil else { return }
        setenv(variable, quietTimeout, 1)
        execv("/proc/self/exe", CommandLine.unsafeArgv)
    }
}
