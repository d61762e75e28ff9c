// Linear layers with int8 weights and per-row int8 activations, as ONNX Runtime's dynamic quantisation computes them.
import Foundation
import Int8Kernels

/// A Linear weight `(out, in)` quantised per output channel, symmetrically: row `o` holds
/// `q[o, i] = round(w[o, i] / s_o)` in −127…127 with `s_o = max_i |w[o, i]| / 127` (1 for an
/// all-zero row), so `w ≈ s_o · q`.
public final class QuantizedWeight: @unchecked Sendable {
    /// Output features (rows) and input features (columns).
    public let rows, cols: Int
    /// `(rows, cols)` int8 values, row-major.
    public let values: UnsafeMutablePointer<Int8>
    /// `(rows)` scales.
    public let scales: UnsafeMutablePointer<Float>

    private init(rows: Int, cols: Int) {
        self.rows = rows
        self.cols = cols
        values = .allocate(capacity: rows * cols)
        scales = .allocate(capacity: rows)
    }

    /// Quantises `weight` `(rows, cols)`.
    public convenience init(quantizing weight: UnsafePointer<Float>, rows: Int, cols: Int) {
        self.init(rows: rows, cols: cols)
        for o in 0..<rows {
            scales[o] = Int8Quantization.quantizeRow(weight + o * cols, count: cols, into: values + o * cols)
        }
    }

    /// Stored values `(rows, cols)` and scales `(rows)` (a quantised checkpoint, already checked).
    public convenience init(values stored: [Int8], scales storedScales: [Float], rows: Int, cols: Int) {
        precondition(stored.count == rows * cols && storedScales.count == rows, "QuantizedWeight: \(stored.count) values and \(storedScales.count) scales for \(rows)×\(cols)")
        self.init(rows: rows, cols: cols)
        values.update(from: stored, count: rows * cols)
        scales.update(from: storedScales, count: rows)
    }

    deinit {
        values.deallocate()
        scales.deallocate()
    }

    /// `w ≈ s_o · q` into `out` `(rows, cols)`.
    public func dequantize(into out: UnsafeMutablePointer<Float>) {
        for o in 0..<rows {
            let s = scales[o]
            for i in 0..<cols { out[o * cols + i] = s * Float(values[o * cols + i]) }
        }
    }
}

/// Symmetric int8 quantisation of rows.
public enum Int8Quantization {
    /// Quantises `count` floats to `round(x / s)` in −127…127 with `s = max |x| / 127` (1 when
    /// every value is 0) and returns `s`. Rounding is to nearest, ties away from zero.
    @inlinable public static func quantizeRow(_ x: UnsafePointer<Float>, count: Int, into q: UnsafeMutablePointer<Int8>) -> Float {
        var top: Float = 0
        for i in 0..<count { top = max(top, abs(x[i])) }
        let scale: Float = top > 0 ? top / 127 : 1
        let inverse = 1 / scale
        for i in 0..<count { q[i] = Int8(max(-127, min(127, (x[i] * inverse).rounded()))) }
        return scale
    }
}

/// `out (T, OC) = dequant(q(input) · qWᵀ) + bias`: each input row quantised on the fly
/// (`Int8Quantization.quantizeRow`), the product in int32, then
/// `out[t, o] = acc[t, o] · s_t · s_o + bias[o]`.
public enum Int8Linear {
    /// Scratch bytes `forward` needs for `rows` rows: the quantised input, its row scales and
    /// the int32 products.
    public static func scratchBytes(rows: Int, weight: QuantizedWeight) -> Int {
        rows * weight.cols + 4 * rows + 4 * rows * weight.rows + 64
    }

    public static func forward(out: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>, weight: QuantizedWeight,
                               bias: UnsafePointer<Float>?, rows: Int, scratch: UnsafeMutableRawPointer) {
        let k = weight.cols, n = weight.rows
        let q = scratch.bindMemory(to: Int8.self, capacity: rows * k)
        let rowScalesRaw = scratch + ((rows * k + 15) & ~15)
        let rowScales = rowScalesRaw.bindMemory(to: Float.self, capacity: rows)
        let products = (rowScalesRaw + 4 * ((rows + 3) & ~3)).bindMemory(to: Int32.self, capacity: rows * n)
        for t in 0..<rows { rowScales[t] = Int8Quantization.quantizeRow(input + t * k, count: k, into: q + t * k) }
        Int8Gemm.multiply(m: rows, n: n, k: k, x: q, w: weight.values, out: products)
        let ws = weight.scales
        for t in 0..<rows {
            let s = rowScales[t], o = out + t * n, acc = products + t * n
            if let bias {
                for j in 0..<n { o[j] = Float(acc[j]) * (s * ws[j]) + bias[j] }
            } else {
                for j in 0..<n { o[j] = Float(acc[j]) * (s * ws[j]) }
            }
        }
    }
}

/// int32 products of int8 matrices: `out (M, N) = x (M, K) · wᵀ` with `w` `(N, K)`.
public enum Int8Gemm {
    public static func multiply(m: Int, n: Int, k: Int, x: UnsafePointer<Int8>, w: UnsafePointer<Int8>, out: UnsafeMutablePointer<Int32>) {
        lora_int8_gemm_reference(Int32(m), Int32(n), Int32(k), x, w, out)
    }

    /// The plain triple loop (the reference of the tests).
    public static func reference(m: Int, n: Int, k: Int, x: UnsafePointer<Int8>, w: UnsafePointer<Int8>, out: UnsafeMutablePointer<Int32>) {
        lora_int8_gemm_reference(Int32(m), Int32(n), Int32(k), x, w, out)
    }
}
