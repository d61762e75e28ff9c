import CBLAS
import Dispatch

/// Matrix multiplication on row-major Float matrices, through OpenBLAS's `cblas_sgemm`.
///
/// Shapes use the BLAS vocabulary: `C (m×n) = alpha · op(A) (m×k) · op(B) (k×n) + beta · C`.
/// Leading dimensions (`lda`, `ldb`, `ldc`) are row strides, so strided views (one attention
/// head inside a `(T, C)` buffer) are plain pointers plus a stride.
public enum Gemm {
    /// When set, the time spent in `multiply` is added to `profiledNanoseconds` (benchmarks
    /// use it to report the GEMM share of a step).
    nonisolated(unsafe) public static var profiling = false
    /// Nanoseconds spent in GEMM while `profiling` was set.
    nonisolated(unsafe) public static var profiledNanoseconds: UInt64 = 0

    /// `C = alpha · op(A) · op(B) + beta · C`.
    ///
    /// - Parameters:
    ///   - a: `op(A)` is `m×k`; stored `m×k` (row stride `lda ≥ k`) or, transposed, `k×m` (`lda ≥ m`).
    ///   - b: `op(B)` is `k×n`; stored `k×n` (`ldb ≥ n`) or, transposed, `n×k` (`ldb ≥ k`).
    ///   - c: `m×n` with row stride `ldc ≥ n`.
    @inlinable
    public static func multiply(
        m: Int, n: Int, k: Int,
        a: UnsafePointer<Float>, lda: Int, transposeA: Bool = false,
        b: UnsafePointer<Float>, ldb: Int, transposeB: Bool = false,
        c: UnsafeMutablePointer<Float>, ldc: Int,
        alpha: Float = 1, beta: Float = 0
    ) {
        precondition(m >= 0 && n >= 0 && k >= 0, "Gemm: negative dimension m=\(m) n=\(n) k=\(k)")
        precondition(lda >= (transposeA ? m : k) && ldb >= (transposeB ? k : n) && ldc >= n,
                     "Gemm: leading dimension too small (m=\(m) n=\(n) k=\(k) lda=\(lda) ldb=\(ldb) ldc=\(ldc))")
        if m == 0 || n == 0 { return }
        if k == 0 {
            // BLAS leaves C scaled by beta; do the same without calling it.
            for i in 0..<m { for j in 0..<n { c[i * ldc + j] = beta == 0 ? 0 : beta * c[i * ldc + j] } }
            return
        }
        let start = profiling ? DispatchTime.now().uptimeNanoseconds : 0
        defer { if profiling { profiledNanoseconds &+= DispatchTime.now().uptimeNanoseconds &- start } }
        cblas_sgemm(CblasRowMajor,
                    transposeA ? CblasTrans : CblasNoTrans,
                    transposeB ? CblasTrans : CblasNoTrans,
                    Int32(m), Int32(n), Int32(k),
                    alpha, a, Int32(max(lda, 1)), b, Int32(max(ldb, 1)),
                    beta, c, Int32(max(ldc, 1)))
    }
}
