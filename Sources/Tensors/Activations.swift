import Foundation

/// GELU in its exact form (torch's default): `x · Φ(x) = ½x(1 + erf(x/√2))`.
///
/// Eight lanes at a time with `VectorMath.erf`/`exp` (errors below 5e-7 absolute), the tail
/// with libm.
public enum GELU {
    /// `out[i] = gelu(input[i])`; `out` may alias `input`.
    public static func forward(out: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>, count: Int) {
        nonisolated(unsafe) let (out, input) = (out, input)
        Threads.parallelFor(count, minimumChunk: 32_768) { start, end in
            var i = start
            let half = SIMD8<Float>(repeating: 0.5), invSqrt2 = SIMD8<Float>(repeating: 0.707_106_781_186_547_5)
            while i + 8 <= end {
                let x = UnsafeRawPointer(input + i).loadUnaligned(as: SIMD8<Float>.self)
                let y = half * x * (1 + VectorMath.erf(x * invSqrt2))
                UnsafeMutableRawPointer(out + i).storeBytes(of: y, as: SIMD8<Float>.self)
                i += 8
            }
            while i < end {
                let x = input[i]
                out[i] = 0.5 * x * (1 + erff(x * 0.707_106_781_186_547_5))
                i += 1
            }
        }
    }

    /// `dInput[i] += dOut[i] · gelu′(input[i])`, `gelu′(x) = Φ(x) + x·φ(x)`; with `accumulate`
    /// false, `dInput[i] = …` instead, and `dInput` may alias `dOut`.
    public static func backward(dInput: UnsafeMutablePointer<Float>, dOut: UnsafePointer<Float>, input: UnsafePointer<Float>, count: Int,
                                accumulate: Bool = true) {
        nonisolated(unsafe) let (dInput, dOut, input) = (dInput, dOut, input)
        Threads.parallelFor(count, minimumChunk: 32_768) { start, end in
            var i = start
            let half = SIMD8<Float>(repeating: 0.5), invSqrt2 = SIMD8<Float>(repeating: 0.707_106_781_186_547_5)
            let invSqrt2Pi = SIMD8<Float>(repeating: 0.398_942_280_401_432_7)
            while i + 8 <= end {
                let x = UnsafeRawPointer(input + i).loadUnaligned(as: SIMD8<Float>.self)
                let g = UnsafeRawPointer(dOut + i).loadUnaligned(as: SIMD8<Float>.self)
                let d = accumulate ? UnsafeRawPointer(dInput + i).loadUnaligned(as: SIMD8<Float>.self) : SIMD8<Float>()
                let cdf = half * (1 + VectorMath.erf(x * invSqrt2))
                let pdf = VectorMath.exp(-half * x * x) * invSqrt2Pi
                UnsafeMutableRawPointer(dInput + i).storeBytes(of: d.addingProduct(g, cdf.addingProduct(x, pdf)), as: SIMD8<Float>.self)
                i += 8
            }
            while i < end {
                let x = input[i]
                let cdf = 0.5 * (1 + erff(x * 0.707_106_781_186_547_5))
                let pdf = expf(-0.5 * x * x) * 0.398_942_280_401_432_7
                dInput[i] = (accumulate ? dInput[i] : 0) + dOut[i] * (cdf + x * pdf)
                i += 1
            }
        }
    }
}

/// Hyperbolic tangent (the classification heads' activation).
public enum Tanh {
    /// `out[i] = tanh(input[i])`.
    public static func forward(out: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>, count: Int) {
        for i in 0..<count { out[i] = tanhf(input[i]) }
    }

    /// `dInput[i] += dOut[i] · (1 − out[i]²)`, from the saved output.
    public static func backward(dInput: UnsafeMutablePointer<Float>, dOut: UnsafePointer<Float>, output: UnsafePointer<Float>, count: Int) {
        for i in 0..<count { let y = output[i]; dInput[i] += dOut[i] * (1 - y * y) }
    }
}

/// Rectified linear unit (DistilBERT's classification head).
public enum ReLU {
    /// `out[i] = max(input[i], 0)`.
    public static func forward(out: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>, count: Int) {
        for i in 0..<count { out[i] = max(input[i], 0) }
    }

    /// `dInput[i] += dOut[i]` where `out[i] > 0`, from the saved output (the subgradient 0 at 0, as torch).
    public static func backward(dInput: UnsafeMutablePointer<Float>, dOut: UnsafePointer<Float>, output: UnsafePointer<Float>, count: Int) {
        for i in 0..<count where output[i] > 0 { dInput[i] += dOut[i] }
    }
}

/// The gated GELU of a GeGLU feed-forward (ModernBERT): the `(T, 2I)` input holds `x` in its
/// first `I` columns and the gate `g` in the last `I` (`Wi(h).chunk(2)`), and
/// `out (T, I) = gelu(x) · g`, with the exact-erf GELU.
public enum GeGLU {
    /// `out[t, i] = gelu(input[t, i]) · input[t, I + i]`.
    public static func forward(out: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>, rows: Int, width: Int) {
        nonisolated(unsafe) let (out, input) = (out, input)
        Threads.parallelFor(rows, minimumChunk: max(1, 32_768 / max(width, 1))) { start, end in
            for r in start..<end {
                let x = input + r * 2 * width, g = x + width, o = out + r * width
                var i = 0
                while i + 8 <= width {
                    let v = UnsafeRawPointer(x + i).loadUnaligned(as: SIMD8<Float>.self)
                    let gate = UnsafeRawPointer(g + i).loadUnaligned(as: SIMD8<Float>.self)
                    let y = 0.5 * v * (1 + VectorMath.erf(v * 0.707_106_781_186_547_5)) * gate
                    UnsafeMutableRawPointer(o + i).storeBytes(of: y, as: SIMD8<Float>.self)
                    i += 8
                }
                while i < width {
                    let v = x[i]
                    o[i] = 0.5 * v * (1 + erff(v * 0.707_106_781_186_547_5)) * g[i]
                    i += 1
                }
            }
        }
    }

    /// Overwrites `dInput (T, 2I)`: `dx = dOut · g · gelu′(x)`, `dg = dOut · gelu(x)`.
    public static func backward(dInput: UnsafeMutablePointer<Float>, dOut: UnsafePointer<Float>, input: UnsafePointer<Float>,
                                rows: Int, width: Int) {
        nonisolated(unsafe) let (dInput, dOut, input) = (dInput, dOut, input)
        Threads.parallelFor(rows, minimumChunk: max(1, 32_768 / max(width, 1))) { start, end in
            for r in start..<end {
                let x = input + r * 2 * width, g = x + width, d = dOut + r * width
                let dx = dInput + r * 2 * width, dg = dx + width
                var i = 0
                let half = SIMD8<Float>(repeating: 0.5), invSqrt2 = SIMD8<Float>(repeating: 0.707_106_781_186_547_5)
                let invSqrt2Pi = SIMD8<Float>(repeating: 0.398_942_280_401_432_7)
                while i + 8 <= width {
                    let v = UnsafeRawPointer(x + i).loadUnaligned(as: SIMD8<Float>.self)
                    let gate = UnsafeRawPointer(g + i).loadUnaligned(as: SIMD8<Float>.self)
                    let up = UnsafeRawPointer(d + i).loadUnaligned(as: SIMD8<Float>.self)
                    let cdf = half * (1 + VectorMath.erf(v * invSqrt2))
                    let pdf = VectorMath.exp(-half * v * v) * invSqrt2Pi
                    UnsafeMutableRawPointer(dx + i).storeBytes(of: up * gate * cdf.addingProduct(v, pdf), as: SIMD8<Float>.self)
                    UnsafeMutableRawPointer(dg + i).storeBytes(of: up * v * cdf, as: SIMD8<Float>.self)
                    i += 8
                }
                while i < width {
                    let v = x[i]
                    let cdf = 0.5 * (1 + erff(v * 0.707_106_781_186_547_5))
                    let pdf = expf(-0.5 * v * v) * 0.398_942_280_401_432_7
                    dx[i] = d[i] * g[i] * (cdf + v * pdf)
                    dg[i] = d[i] * v * cdf
                    i += 1
                }
            }
        }
    }
}
