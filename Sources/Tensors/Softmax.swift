import Foundation

/// Row-wise softmax, numerically stabilised by subtracting the row maximum.
public enum Softmax {
    /// `out[r, :] = softmax(input[r, :])`; `out` may alias `input`.
    @inlinable public static func forward(out: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>, rows: Int, cols: Int) {
        for r in 0..<rows {
            let x = input + r * cols, y = out + r * cols
            var maxValue = -Float.infinity
            for j in 0..<cols { maxValue = max(maxValue, x[j]) }
            var sum: Float = 0
            for j in 0..<cols { let e = expf(x[j] - maxValue); y[j] = e; sum += e }
            let inv = 1 / sum
            for j in 0..<cols { y[j] *= inv }
        }
    }

    /// `dInput[r, j] += y[r, j] · (dOut[r, j] − Σ_k dOut[r, k] · y[r, k])` from the saved output `y`.
    @inlinable public static func backward(dInput: UnsafeMutablePointer<Float>, dOut: UnsafePointer<Float>, output: UnsafePointer<Float>, rows: Int, cols: Int) {
        for r in 0..<rows {
            let y = output + r * cols, g = dOut + r * cols, dx = dInput + r * cols
            var dot: Float = 0
            for j in 0..<cols { dot += g[j] * y[j] }
            for j in 0..<cols { dx[j] += y[j] * (g[j] - dot) }
        }
    }
}
