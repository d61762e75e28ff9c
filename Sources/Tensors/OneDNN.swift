// oneDNN's sgemm for the fp32 products of inference Linears, opened at run time; OpenBLAS where it is absent.
import Foundation
import OneDNNShim

/// Which library computes the fp32 `x · Wᵀ` of `Linear.forward`.
public enum LinearBackend: String, Sendable, CaseIterable {
    /// OpenBLAS's `cblas_sgemm` (as every other product).
    case openBLAS = "openblas"
    /// oneDNN's `dnnl_sgemm`: kernels generated for the processor at run time (AVX-512 where it
    /// has it, whatever `OPENBLAS_CORETYPE` says).
    case oneDNN = "onednn"
}

/// Debian's oneDNN (`libdnnl.so.2`), opened once on demand.
public enum OneDNN {
    nonisolated(unsafe) private static var state: Result<Void, OneDNNUnavailable>?

    /// Why oneDNN could not be opened.
    public struct OneDNNUnavailable: Error, CustomStringConvertible {
        public let description: String
    }

    /// Opens oneDNN (`LORA_ONEDNN_LIBRARY` or `libdnnl.so.2`); nil when it is there, else why not.
    /// Its OpenMP threads wait passively (`OMP_WAIT_POLICY=PASSIVE` unless set), so that they do
    /// not spin on the cores OpenBLAS and the row kernels use between products.
    @discardableResult
    public static func load() -> OneDNNUnavailable? {
        if state == nil {
            setenv("OMP_WAIT_POLICY", "PASSIVE", 0)
            var error = [CChar](repeating: 0, count: 512)
            let library = ProcessInfo.processInfo.environment["LORA_ONEDNN_LIBRARY"]
            let rc = library.map { lora_dnnl_load($0, &error, error.count) } ?? lora_dnnl_load(nil, &error, error.count)
            state = rc == 0 ? .success(()) : .failure(OneDNNUnavailable(description: "oneDNN: " + String(decoding: error.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)))
        }
        if case .failure(let why) = state { return why }
        return nil
    }

    /// Whether `load` succeeded.
    public static var isAvailable: Bool { load() == nil }

    /// Row-major `c = alpha · op(a) · op(b) + beta · c` (see `Gemm.multiply`); oneDNN must be loaded.
    @inlinable
    public static func multiply(m: Int, n: Int, k: Int, a: UnsafePointer<Float>, lda: Int, transposeA: Bool = false,
                                b: UnsafePointer<Float>, ldb: Int, transposeB: Bool = false,
                                c: UnsafeMutablePointer<Float>, ldc: Int, alpha: Float = 1, beta: Float = 0) {
        let rc = lora_dnnl_sgemm(transposeA ? 0x54 : 0x4E, transposeB ? 0x54 : 0x4E, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
        precondition(rc == 0, "dnnl_sgemm failed with status \(rc) (m=\(m) n=\(n) k=\(k))")
    }

    /// OpenMP threads of the calling thread's products.
    public static func setThreads(_ n: Int) { lora_dnnl_set_threads(Int32(n)) }
}

extension Linear {
    /// The library behind `forward`'s product (`.openBLAS` unless an inference command chose
    /// oneDNN with `Linear.useBackend`).
    nonisolated(unsafe) public private(set) static var backend: LinearBackend = .openBLAS

    /// Makes `forward` use `backend`; oneDNN runs on `Threads.count` threads. Returns why
    /// oneDNN cannot be used (and leaves OpenBLAS) when it is not there.
    @discardableResult
    public static func useBackend(_ choice: LinearBackend) -> OneDNN.OneDNNUnavailable? {
        if choice == .oneDNN, let why = OneDNN.load() {
            backend = .openBLAS
            return why
        }
        backend = choice
        if choice == .oneDNN { OneDNN.setThreads(Threads.count) }
        return nil
    }
}
