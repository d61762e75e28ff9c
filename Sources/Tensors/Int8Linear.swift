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
    /// `Σ_i q[o, i]` per output channel (to take the activations' zero points back out).
    public private(set) var columnSums: [Int32] = []
    /// The values packed for the processor's int8 kernel (`lora_int8_pack`), made with the weight.
    private(set) var packed: UnsafeMutablePointer<lora_int8_weight>!

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
        prepare()
    }

    /// Stored values `(rows, cols)` and scales `(rows)` (a quantised checkpoint, already checked).
    public convenience init(values stored: [Int8], scales storedScales: [Float], rows: Int, cols: Int) {
        precondition(stored.count == rows * cols && storedScales.count == rows, "QuantizedWeight: \(stored.count) values and \(storedScales.count) scales for \(rows)×\(cols)")
        self.init(rows: rows, cols: cols)
        values.update(from: stored, count: rows * cols)
        scales.update(from: storedScales, count: rows)
        prepare()
    }

    /// The column sums and the packed copy, once the values are in place.
    private func prepare() {
        columnSums = (0..<rows).map { o in (0..<cols).reduce(Int32(0)) { $0 + Int32(values[o * cols + $1]) } }
        packed = lora_int8_pack(Int32(rows), Int32(cols), values, -1)
    }

    deinit {
        lora_int8_free(packed)
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
    /// Quantises `count` floats to `round(x · (1/s))` in −127…127 with `s = max |x| / 127` (1
    /// when every value is 0) and returns `s`. Rounding is to nearest, ties to even (as
    /// ONNX Runtime and the vector conversion of `lora_int8_quantize_rows_u8`).
    @inlinable public static func quantizeRow(_ x: UnsafePointer<Float>, count: Int, into q: UnsafeMutablePointer<Int8>) -> Float {
        var top: Float = 0
        for i in 0..<count { top = max(top, abs(x[i])) }
        let scale: Float = top > 0 ? top / 127 : 1
        let inverse = 1 / scale
        for i in 0..<count { q[i] = Int8(max(-127, min(127, (x[i] * inverse).rounded(.toNearestOrEven)))) }
        return scale
    }
}

/// `out (T, OC) = dequant(q(input) · qWᵀ) + bias`: each input row quantised on the fly
/// (`Int8Quantization.quantizeRow`), the product in int32, then
/// `out[t, o] = acc[t, o] · s_t · s_o + bias[o]`.
public enum Int8Linear {
    /// Scratch bytes `forward` needs for `rows` rows: the quantised input, its row scales and
    /// zero points, and the int32 products.
    public static func scratchBytes(rows: Int, weight: QuantizedWeight) -> Int {
        let kp = (weight.cols + 3) & ~3
        return ((rows * kp + 63) & ~63) + 2 * ((4 * rows + 63) & ~63) + 4 * rows * weight.rows + 64
    }

    /// `out[t, o] = s_t · s_o · Σ_i (q_t[i] − z_t) · qW[o, i] + bias[o]`: each input row
    /// quantised to u8 with its own scale `s_t` and zero point `z_t`
    /// (`lora_int8_quantize_rows_u8`), the product in int32. `scratch` must hold `scratchBytes`
    /// and be 64-byte aligned (an arena allocation is).
    public static func forward(out: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>, weight: QuantizedWeight,
                               bias: UnsafePointer<Float>?, rows: Int, scratch: UnsafeMutableRawPointer) {
        let k = weight.cols, n = weight.rows, kp = (k + 3) & ~3
        let q = scratch.bindMemory(to: UInt8.self, capacity: rows * kp)
        let scalesRaw = scratch + ((rows * kp + 63) & ~63)
        let zerosRaw = scalesRaw + ((4 * rows + 63) & ~63)
        let rowScales = scalesRaw.bindMemory(to: Float.self, capacity: rows)
        let rowZeros = zerosRaw.bindMemory(to: Int32.self, capacity: rows)
        let products = (zerosRaw + ((4 * rows + 63) & ~63)).bindMemory(to: Int32.self, capacity: rows * n)
        lora_int8_quantize_rows_u8(Int32(rows), Int32(k), Int32(kp), input, q, rowScales, rowZeros)
        // The kernel gives Σ (q − 128) · w; (128 − z_t) · Σ w turns it into Σ (q − z_t) · w.
        // Each worker scales its own column panels as soon as it has their products (still in
        // cache), in the same parallel pass.
        weight.columnSums.withUnsafeBufferPointer { sums in
            nonisolated(unsafe) let (o0, p0, rs, rz, ws, bias, cs) = (out, products, rowScales, rowZeros, weight.scales, bias, sums.baseAddress!)
            Int8Gemm.multiplyPacked(m: rows, xu8: q, weight: weight.packed, out: products) { columns in
                for t in 0..<rows {
                    let s = rs[t], shift = 128 - rz[t], o = o0 + t * n, acc = p0 + t * n
                    if let bias {
                        for j in columns { o[j] = Float(acc[j] &+ shift &* cs[j]) * (s * ws[j]) + bias[j] }
                    } else {
                        for j in columns { o[j] = Float(acc[j] &+ shift &* cs[j]) * (s * ws[j]) }
                    }
                }
            }
        }
    }
}

/// int32 products of int8 matrices: `out (M, N) = x (M, K) · wᵀ` with `w` `(N, K)`.
public enum Int8Gemm {
    /// The processor's kernel: 2 AVX512-VNNI, 1 AVX-VNNI, 0 the plain loop (`lora_int8_isa`).
    public static var kernel: Int { Int(lora_int8_isa()) }

    /// Products of the quantised rows `xu8` (`(m, kp)`, `s8 + 128`) and a packed weight, the
    /// column panels split between `Threads.count` threads. Each thread then runs `epilogue`
    /// on the output columns it computed, while they are in its cache.
    static func multiplyPacked(m: Int, xu8: UnsafePointer<UInt8>, weight: UnsafeMutablePointer<lora_int8_weight>, out: UnsafeMutablePointer<Int32>,
                               epilogue: (@Sendable (_ columns: Range<Int>) -> Void)? = nil) {
        nonisolated(unsafe) let (x, w, o) = (xu8, UnsafePointer(weight), out)
        let n = Int(weight.pointee.n), nr = Int(weight.pointee.nr)
        Threads.parallelFor(Int(weight.pointee.panels), minimumChunk: 1) { start, end in
            lora_int8_gemm_packed(Int32(m), x, w, o, Int32(n), Int32(start), Int32(end))
            epilogue?(start * nr ..< min(n, end * nr))
        }
    }

    /// `out = x · wᵀ` through the kernel of `isa` (nil: the processor's best), packing `w` for
    /// this call (the tests' entry; layers keep their weights packed).
    public static func multiply(m: Int, n: Int, k: Int, x: UnsafePointer<Int8>, w: UnsafePointer<Int8>, out: UnsafeMutablePointer<Int32>,
                                isa: Int? = nil) {
        let packed = lora_int8_pack(Int32(n), Int32(k), w, Int32(isa ?? -1))!
        defer { lora_int8_free(packed) }
        let kp = Int(packed.pointee.kp)
        var u8 = [UInt8](repeating: 128, count: m * kp)
        for i in 0..<m { for j in 0..<k { u8[i * kp + j] = UInt8(Int(x[i * k + j]) + 128) } }
        u8.withUnsafeBufferPointer { multiplyPacked(m: m, xu8: $0.baseAddress!, weight: packed, out: out) }
    }

    /// The plain triple loop (the reference of the tests).
    public static func reference(m: Int, n: Int, k: Int, x: UnsafePointer<Int8>, w: UnsafePointer<Int8>, out: UnsafeMutablePointer<Int32>) {
        lora_int8_gemm_reference(Int32(m), Int32(n), Int32(k), x, w, out)
    }
}
