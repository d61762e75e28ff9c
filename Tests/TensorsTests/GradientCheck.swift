import XCTest
import Tensors

/// Finite-difference gradient checking against a double-precision reference.
///
/// The scalar tested is `L = Σ out · R` for a fixed random `R`; our backward is driven with
/// `dOut = R`. The reference forward runs in Double, so central differences with
/// `h = 1e-5` are accurate to ~1e-9 and the tolerance measures only our float kernel.
enum GradientCheck {
    /// Reference forward: inputs → output, all Double.
    typealias Reference = ([[Double]]) -> [Double]

    static func randomArray(_ n: Int, _ rng: inout RandomGenerator, scale: Float = 1) -> [Float] {
        (0..<n).map { _ in rng.nextUniform(low: -scale, high: scale) }
    }

    /// Compares our forward output with the reference, and our gradients (`nil` entries are
    /// not checked) with central differences of `Σ reference(x) · R`.
    static func check(
        _ name: String,
        inputs: [[Float]],
        projection r: [Float],
        ours: (out: [Float], gradients: [[Float]?]),
        reference: Reference,
        forwardTolerance: Double = 1e-5,
        gradientTolerance: Double = 1e-4,
        file: StaticString = #filePath, line: UInt = #line
    ) {
        let x = inputs.map { $0.map(Double.init) }
        let refOut = reference(x)
        XCTAssertEqual(refOut.count, ours.out.count, "\(name): output size", file: file, line: line)
        var maxErr = 0.0, maxRef = 0.0
        for i in refOut.indices {
            maxErr = max(maxErr, abs(refOut[i] - Double(ours.out[i])))
            maxRef = max(maxRef, abs(refOut[i]))
        }
        XCTAssertLessThanOrEqual(maxErr, forwardTolerance * max(1, maxRef), "\(name): forward max abs error \(maxErr)", file: file, line: line)
        let rd = r.map(Double.init)
        func loss(_ xs: [[Double]]) -> Double {
            let y = reference(xs)
            var s = 0.0
            for i in y.indices { s += y[i] * rd[i] }
            return s
        }
        let h = 1e-5
        for (k, grad) in ours.gradients.enumerated() {
            guard let grad else { continue }
            XCTAssertEqual(grad.count, x[k].count, "\(name): gradient \(k) size", file: file, line: line)
            var num = 0.0, den = 0.0, worst = 0.0
            var xs = x
            for i in x[k].indices {
                let orig = xs[k][i]
                xs[k][i] = orig + h
                let lp = loss(xs)
                xs[k][i] = orig - h
                let lm = loss(xs)
                xs[k][i] = orig
                let fd = (lp - lm) / (2 * h)
                let d = fd - Double(grad[i])
                num += d * d
                den += fd * fd
                worst = max(worst, abs(d))
            }
            let rel = num.squareRoot() / max(den.squareRoot(), 1e-12)
            XCTAssertLessThanOrEqual(rel, gradientTolerance,
                                     "\(name): gradient of input \(k): relative L2 error \(rel) (worst element error \(worst))",
                                     file: file, line: line)
        }
    }
}

/// Runs `body` with mutable pointers to copies of the arrays and returns the copies.
func withPointers<R>(_ arrays: inout [[Float]], _ body: ([UnsafeMutablePointer<Float>]) -> R) -> R {
    let buffers = arrays.map { FloatBuffer($0) }
    let result = body(buffers.map(\.pointer))
    arrays = buffers.map { $0.toArray() }
    return result
}

/// Double-precision matrix product helpers for references.
enum DoubleMath {
    /// C(m×n) = A(m×k) B(k×n), row-major, with explicit strides.
    static func matmul(_ a: [Double], _ b: [Double], m: Int, k: Int, n: Int, transA: Bool = false, transB: Bool = false) -> [Double] {
        var c = [Double](repeating: 0, count: m * n)
        for i in 0..<m {
            for j in 0..<n {
                var s = 0.0
                for p in 0..<k {
                    let av = transA ? a[p * m + i] : a[i * k + p]
                    let bv = transB ? b[j * k + p] : b[p * n + j]
                    s += av * bv
                }
                c[i * n + j] = s
            }
        }
        return c
    }

    static func erf(_ x: Double) -> Double { Foundation.erf(x) }
}
