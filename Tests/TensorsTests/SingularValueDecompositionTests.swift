// LAPACK's SVD through SingularValueDecomposition: reconstruction, orthonormal vectors, ordered values, both shapes.
import XCTest
import Tensors

final class SingularValueDecompositionTests: XCTestCase {
    func check(rows: Int, cols: Int, seed: UInt64) throws {
        var rng = RandomGenerator(seed: seed)
        var m = [Float](repeating: 0, count: rows * cols)
        rng.fillNormal(&m, count: m.count, std: 1)
        let svd = try SingularValueDecomposition(m, rows: rows, cols: cols)
        let k = min(rows, cols)
        XCTAssertEqual(svd.s.count, k)
        XCTAssertEqual(svd.u.count, rows * k)
        XCTAssertEqual(svd.vt.count, k * cols)
        for i in 1..<k { XCTAssertGreaterThanOrEqual(svd.s[i - 1], svd.s[i], "values in decreasing order") }
        XCTAssertGreaterThan(svd.s[k - 1], 0)
        // U · diag(S) · Vᵀ gives the matrix back.
        var worst: Float = 0
        for r in 0..<rows {
            for c in 0..<cols {
                var v: Float = 0
                for i in 0..<k { v += svd.u[r * k + i] * svd.s[i] * svd.vt[i * cols + c] }
                worst = max(worst, abs(v - m[r * cols + c]))
            }
        }
        XCTAssertLessThan(worst, 1e-4, "\(rows)×\(cols) reconstruction")
        // The columns of U and the rows of Vᵀ are orthonormal.
        for i in 0..<k {
            for j in 0..<k {
                var uu: Float = 0, vv: Float = 0
                for r in 0..<rows { uu += svd.u[r * k + i] * svd.u[r * k + j] }
                for c in 0..<cols { vv += svd.vt[i * cols + c] * svd.vt[j * cols + c] }
                XCTAssertEqual(uu, i == j ? 1 : 0, accuracy: 1e-4)
                XCTAssertEqual(vv, i == j ? 1 : 0, accuracy: 1e-4)
            }
        }
    }

    func testWideTallAndSquareMatrices() throws {
        try check(rows: 7, cols: 5, seed: 1)
        try check(rows: 5, cols: 9, seed: 2)
        try check(rows: 36, cols: 36, seed: 3)
        try check(rows: 1, cols: 4, seed: 4)
    }

    /// A known decomposition: diag(3, 2) embedded in a 2×3 matrix.
    func testKnownValues() throws {
        let m: [Float] = [0, 3, 0,
                          2, 0, 0]
        let svd = try SingularValueDecomposition(m, rows: 2, cols: 3)
        XCTAssertEqual(svd.s[0], 3, accuracy: 1e-6)
        XCTAssertEqual(svd.s[1], 2, accuracy: 1e-6)
        XCTAssertEqual(abs(svd.vt[1]), 1, accuracy: 1e-6, "first right singular vector is e₂")
        XCTAssertEqual(abs(svd.vt[3]), 1, accuracy: 1e-6, "second is e₁")
    }
}
