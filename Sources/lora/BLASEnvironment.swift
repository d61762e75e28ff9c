#if canImport(Glibc)
import Glibc
#endif
import CBLAS
import Foundation

/// Settings OpenBLAS reads once, when the library loads, so the tool sets them and re-executes
/// itself before doing any work (a variable the user set is left as it is):
///
/// - `OPENBLAS_THREAD_TIMEOUT`: OpenBLAS's idle worker threads spin (calling `sched_yield`) for
///   about 2²⁸ cycles after each GEMM before they sleep. On a small machine that spinning
///   competes with the row kernels that run between GEMMs: profiles of a training step showed
///   13–15 % of all samples in `sched_yield`.
/// - `OPENBLAS_CORETYPE`: Debian's OpenBLAS 0.3.21 takes AMD processors with AVX-512 (Zen 4
///   and 5) for Haswell and runs its AVX2 kernels. Where the processor has the AVX-512 subsets
///   of OpenBLAS's SkylakeX kernels (F, CD, BW, DQ, VL) and OpenBLAS picked Haswell or Zen, the
///   tool asks for SkylakeX: 358 against 205 GFLOP/s on `lora bench kernels`' 2048×768×768
///   product on the 2-core development machine (an AMD EPYC with AVX-512).
enum BLASEnvironment {
    static let timeoutVariable = "OPENBLAS_THREAD_TIMEOUT"
    /// 2⁴ cycles: idle workers go to sleep at once (the minimum OpenBLAS accepts).
    static let quietTimeout = "4"
    static let coreVariable = "OPENBLAS_CORETYPE"

    /// Re-executes the process with the settings above when one is missing. If the re-exec
    /// fails, carries on in this process (only slower).
    static func relaunchIfNeeded() {
        var changed = false
        if getenv(timeoutVariable) == nil {
            setenv(timeoutVariable, quietTimeout, 1)
            changed = true
        }
        if getenv(coreVariable) == nil, let core = betterCore() {
            setenv(coreVariable, core, 1)
            changed = true
        }
        if changed { execv("/proc/self/exe", CommandLine.unsafeArgv) }
    }

    /// "SKYLAKEX" when OpenBLAS chose an AVX2 core on a processor with the AVX-512 it needs.
    static func betterCore() -> String? {
        guard let name = openblas_get_corename().map({ String(cString: $0).lowercased() }), name == "haswell" || name == "zen" else {
            return nil
        }
        // /proc files report a size of 0: read to the end rather than by size.
        guard let data = FileHandle(forReadingAtPath: "/proc/cpuinfo")?.readDataToEndOfFile(),
              let flagsLine = String(decoding: data, as: UTF8.self).split(separator: "\n").first(where: { $0.hasPrefix("flags") }) else {
            return nil
        }
        let flags = Set(flagsLine.split(separator: " ").map(String.init))
        let needed = ["avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl"]
        return needed.allSatisfy(flags.contains) ? "SKYLAKEX" : nil
    }
}
