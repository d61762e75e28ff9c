import Foundation


/// Row-wise softmax, numerically stabilised by subtracting the row maximum.
public enum Softmax {
    /// `out[r, :] = softmax(input[r, :])`; `out` may alias `input`.
    @inlinable public static func forward(out: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>, rows: Int, cols: Int) {
        for r in 0..<rows {
            let x = input + r * cols, y = out + r * cols
            var maxValue = -Float.infinity
            var j = 0
            if cols >= 8 {
                var m = UnsafeRawPointer(x).loadUnaligned(as: SIMD8<Float>.self)
                j = 8
                while j + 8 <= cols { m = VectorMath.maximum(m, UnsafeRawPointer(x + j).loadUnaligned(as: SIMD8<Float>.self)); j += 8 }
                maxValue = m.max()
            }
            while j < cols { maxValue = max(maxValue, x[j]); j += 1 }
            let m8 = SIMD8<Float>(repeating: maxValue)
            var acc = SIMD8<Float>()
            j = 0
            while j + 8 <= cols {
                let e = VectorMath.exp(UnsafeRawPointer(x + j).loadUnaligned(as: SIMD8<Float>.self) - m8)
                UnsafeMutableRawPointer(y + j).storeBytes(of: e, as: SIMD8<Float>.self)
                acc += e
                j += 8
            }
            var sum = acc.sum()
            while j < cols { let e = expf(x[j] - maxValue); y[j] = e; sum += e; j += 1 }
            let inv = 1 / sum
            let inv8 = SIMD8<Float>(repeating: inv)
            j = 0
            while j + 8 <= cols {
                UnsafeMutableRawPointer(y + j).storeBytes(of: UnsafeRawPointer(y + j).loadUnaligned(as: SIMD8<Float>.self) * inv8, as: SIMD8<Float>.self)
                j += 8
            }
            while j < cols { y[j] *= inv; j += 1 }
        }
    }

    /// `dInput[r, j] += y[r, j] · (dOut[r, j] − Σ_k dOut[r, k] · y[r, k])` from the saved output `y`.
    @inlinable public static func backward(dInput: UnsafeMutablePointer<Float>, dOut: UnsafePointer<Float>, output: UnsafePointer<Float>, rows: Int, cols: Int) {
        for r in 0..<rows {
            let y = output + r * cols, g = dOut + r * cols, dx = dInput + r * cols
            let dot = Rows.dot(g, y, cols)
            for j in 0..<cols { dx[j] += y[j] * (g[j] - dot) }
        }
    }

    /// In place: `g[r, j] = scale · y[r, j] · (g[r, j] − Σ_k g[r, k] · y[r, k])`, the softmax
    /// backward overwriting the incoming gradient (the attention kernel's form).
    @inlinable public static func backwardInPlace(_ g: UnsafeMutablePointer<Float>, output: UnsafePointer<Float>,
                                                  rows: Int, cols: Int, scale: Float) {
        for r in 0..<rows {
            let y = output + r * cols, gr = g + r * cols
            let dot = Rows.dot(gr, y, cols)
            for j in 0..<cols { gr[j] = y[j] * (gr[j] - dot) * scale }
        }
    }
}
