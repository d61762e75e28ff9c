import Foundation

/// GELU in its exact form (torch's default): `x · Φ(x) = ½x(1 + erf(x/√2))`.
public enum GELU {
    /// `out[i] = gelu(input[i])`; `out` may alias `input`.
    public static func forward(out: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>, count: Int) {
        nonisolated(unsafe) let (out, input) = (out, input)
        Threads.parallelFor(count, minimumChunk: 16_384) { start, end in
            for i in start..<end {
                let x = input[i]
                out[i] = 0.5 * x * (1 + erff(x * 0.707_106_781_186_547_5))
            }
        }
    }

    /// `dInput[i] += dOut[i] · gelu′(input[i])`, `gelu′(x) = Φ(x) + x·φ(x)`.
    public static func backward(dInput: UnsafeMutablePointer<Float>, dOut: UnsafePointer<Float>, input: UnsafePointer<Float>, count: Int) {
        nonisolated(unsafe) let (dInput, dOut, input) = (dInput, dOut, input)
        Threads.parallelFor(count, minimumChunk: 16_384) { start, end in
            for i in start..<end {
                let x = input[i]
                let cdf = 0.5 * (1 + erff(x * 0.707_106_781_186_547_5))
                let pdf = expf(-0.5 * x * x) * 0.398_942_280_401_432_7
                dInput[i] += dOut[i] * (cdf + x * pdf)
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

/// Elementwise helpers used between layers.
public enum Elementwise {
    /// `out[i] = a[i] + b[i]` (residual connections); `out` may alias either input.
    @inlinable public static func add(out: UnsafeMutablePointer<Float>, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count: Int) {
        for i in 0..<count { out[i] = a[i] + b[i] }
    }

    /// `out[i] += scale · x[i]`.
    @inlinable public static func accumulate(into out: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, scale: Float = 1, count: Int) {
        for i in 0..<count { out[i] += scale * x[i] }
    }
}
