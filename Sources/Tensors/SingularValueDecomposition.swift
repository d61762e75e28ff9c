// The thin SVD of a row-major matrix by LAPACK's sgesdd (OpenBLAS), for PiSSA's initialisation.
import CBLAS

/// `M = U · diag(S) · Vᵀ` of a row-major `(rows, cols)` matrix, `k = min(rows, cols)`: `u` is
/// `(rows, k)`, `s` the `k` singular values in decreasing order, `vt` is `(k, cols)`, all
/// row-major. Singular vectors are unique only up to sign (and within repeated values).
public struct SingularValueDecomposition: Sendable {
    public let rows: Int, cols: Int
    public let u: [Float]
    public let s: [Float]
    public let vt: [Float]

    /// Why LAPACK failed.
    public struct Failure: Error, CustomStringConvertible {
        public let info: Int32
        public var description: String {
            info < 0 ? "sgesdd: argument \(-info) was invalid" : "sgesdd: the SVD did not converge (info \(info))"
        }
    }

    /// Decomposes `matrix` (`rows · cols` floats, row-major; not modified).
    public init(_ matrix: UnsafePointer<Float>, rows: Int, cols: Int) throws {
        precondition(rows > 0 && cols > 0, "SVD of an empty matrix")
        precondition(rows <= Int(Int32.max) && cols <= Int(Int32.max), "SVD: matrix too large for LAPACK's 32-bit sizes")
        self.rows = rows
        self.cols = cols
        let k = min(rows, cols)
        // Row-major (rows, cols) is column-major (cols, rows) = Mᵀ. LAPACK factors Mᵀ = U'·S·V'ᵀ,
        // so M = V'·S·U'ᵀ: U' (column-major cols × k) read row-major is Vᵀ (k, cols), and V'ᵀ
        // (column-major k × rows) read row-major is U (rows, k). No transposes are needed.
        var a = [Float](UnsafeBufferPointer(start: matrix, count: rows * cols))
        var s = [Float](repeating: 0, count: k)
        var vt = [Float](repeating: 0, count: cols * k)   // LAPACK's U'
        var u = [Float](repeating: 0, count: k * rows)    // LAPACK's V'ᵀ
        var m = Int32(cols), n = Int32(rows), lda = Int32(cols), ldu = Int32(cols), ldvt = Int32(k)
        var jobz = Int8(UInt8(ascii: "S")), info: Int32 = 0
        var iwork = [Int32](repeating: 0, count: 8 * k)
        var query: Float = 0, lwork: Int32 = -1
        sgesdd_(&jobz, &m, &n, &a, &lda, &s, &vt, &ldu, &u, &ldvt, &query, &lwork, &iwork, &info)
        guard info == 0 else { throw Failure(info: info) }
        lwork = Int32(query.rounded(.up))
        var work = [Float](repeating: 0, count: max(1, Int(lwork)))
        sgesdd_(&jobz, &m, &n, &a, &lda, &s, &vt, &ldu, &u, &ldvt, &work, &lwork, &iwork, &info)
        guard info == 0 else { throw Failure(info: info) }
        self.u = u
        self.s = s
        self.vt = vt
    }
}
