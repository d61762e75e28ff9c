import Foundation

/// Layer normalisation over the last dimension, as `torch.nn.LayerNorm` (biased variance).
///
/// `out = (x − mean) · rstd · weight + bias`, `rstd = 1/√(var + eps)`; `mean` and `rstd`
/// (one per row) are saved for the backward pass. A nil `bias` is a LayerNorm without one
/// (`nn.LayerNorm(bias=False)`, ModernBERT's default).
public enum LayerNorm {
    /// Forward over `rows × cols`; writes `out`, `mean`, `rstd`.
    public static func forward(
        out: UnsafeMutablePointer<Float>, mean: UnsafeMutablePointer<Float>, rstd: UnsafeMutablePointer<Float>,
        input: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
        rows: Int, cols: Int, eps: Float
    ) {
        nonisolated(unsafe) let (out, mean, rstd, input, weight, bias) = (out, mean, rstd, input, weight, bias)
        Threads.parallelFor(rows, minimumChunk: 64) { start, end in
            for r in start..<end {
                (mean[r], rstd[r]) = normalizeRow(input + r * cols, into: out + r * cols, weight: weight, bias: bias, cols: cols, eps: eps)
            }
        }
    }

    /// Accumulates `dInput`, and `dWeight`/`dBias` when given (nil when frozen).
    public static func backward(
        dInput: UnsafeMutablePointer<Float>?, dWeight: UnsafeMutablePointer<Float>?, dBias: UnsafeMutablePointer<Float>?,
        dOut: UnsafePointer<Float>, input: UnsafePointer<Float>, mean: UnsafePointer<Float>, rstd: UnsafePointer<Float>,
        weight: UnsafePointer<Float>, rows: Int, cols: Int
    ) {
        if dWeight != nil || dBias != nil {
            for r in 0..<rows {
                let x = input + r * cols, g = dOut + r * cols
                let m = mean[r], s = rstd[r]
                if let dWeight { for j in 0..<cols { dWeight[j] += g[j] * (x[j] - m) * s } }
                if let dBias { for j in 0..<cols { dBias[j] += g[j] } }
            }
        }
        guard let dInputPointer = dInput else { return }
        nonisolated(unsafe) let (dInput, dOut, input, mean, rstd, weight) = (dInputPointer, dOut, input, mean, rstd, weight)
        Threads.parallelFor(rows, minimumChunk: 64) { start, end in
            for r in start..<end {
                backwardRow(dInput: dInput + r * cols, accumulate: true, dOut: dOut + r * cols, input: input + r * cols,
                            mean: mean[r], rstd: rstd[r], weight: weight, cols: cols)
            }
        }
    }
}

extension LayerNorm {
    /// Normalises one row into `o`; returns its mean and `1/√(var + eps)`.
    @inlinable @inline(__always)
    static func normalizeRow(_ x: UnsafePointer<Float>, into o: UnsafeMutablePointer<Float>, weight: UnsafePointer<Float>,
                             bias: UnsafePointer<Float>?, cols: Int, eps: Float) -> (Float, Float) {
        let m = Rows.sum(x, cols) / Float(cols)
        let s = 1 / (Rows.sumSquaredDeviation(x, cols, mean: m) / Float(cols) + eps).squareRoot()
        if let bias {
            for j in 0..<cols { o[j] = (x[j] - m) * s * weight[j] + bias[j] }
        } else {
            for j in 0..<cols { o[j] = (x[j] - m) * s * weight[j] }
        }
        return (m, s)
    }

    /// Input gradient of one row: `dInput (+)= rstd · (g·w − mean(g·w) − n · mean(g·w·n))`,
    /// `n` the normalised input.
    @inlinable @inline(__always)
    static func backwardRow(dInput dx: UnsafeMutablePointer<Float>, accumulate: Bool, dOut g: UnsafePointer<Float>,
                            input x: UnsafePointer<Float>, mean m: Float, rstd s: Float, weight: UnsafePointer<Float>, cols: Int) {
        var dnormMean: Float = 0, dnormNormMean: Float = 0
        for j in 0..<cols {
            let dn = g[j] * weight[j]
            dnormMean += dn
            dnormNormMean += dn * (x[j] - m) * s
        }
        dnormMean /= Float(cols)
        dnormNormMean /= Float(cols)
        for j in 0..<cols {
            let n = (x[j] - m) * s
            let d = (g[j] * weight[j] - dnormMean - n * dnormNormMean) * s
            dx[j] = accumulate ? dx[j] + d : d
        }
    }
}

/// Vectorised reductions over one row.
public enum Rows {
    /// `Σ x[j]` with eight lanes.
    @inlinable @inline(__always)
    public static func sum(_ x: UnsafePointer<Float>, _ n: Int) -> Float {
        var acc = SIMD8<Float>()
        var j = 0
        while j + 8 <= n { acc += UnsafeRawPointer(x + j).loadUnaligned(as: SIMD8<Float>.self); j += 8 }
        var s = acc.sum()
        while j < n { s += x[j]; j += 1 }
        return s
    }

    /// `Σ x[j] · y[j]` with eight lanes.
    @inlinable @inline(__always)
    public static func dot(_ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, _ n: Int) -> Float {
        var acc = SIMD8<Float>()
        var j = 0
        while j + 8 <= n {
            acc = acc.addingProduct(UnsafeRawPointer(x + j).loadUnaligned(as: SIMD8<Float>.self),
                                    UnsafeRawPointer(y + j).loadUnaligned(as: SIMD8<Float>.self))
            j += 8
        }
        var s = acc.sum()
        while j < n { s += x[j] * y[j]; j += 1 }
        return s
    }

    /// `y[j] += a · x[j]` with eight lanes.
    @inlinable @inline(__always)
    public static func addScaled(_ y: UnsafeMutablePointer<Float>, _ a: Float, _ x: UnsafePointer<Float>, _ n: Int) {
        let a8 = SIMD8<Float>(repeating: a)
        var j = 0
        while j + 8 <= n {
            let r = UnsafeMutableRawPointer(y + j)
            r.storeBytes(of: UnsafeRawPointer(r).loadUnaligned(as: SIMD8<Float>.self).addingProduct(a8, UnsafeRawPointer(x + j).loadUnaligned(as: SIMD8<Float>.self)),
                         as: SIMD8<Float>.self)
            j += 8
        }
        while j < n { y[j] += a * x[j]; j += 1 }
    }

    /// `Σ (x[j] − mean)²` with eight lanes.
    @inlinable @inline(__always)
    public static func sumSquaredDeviation(_ x: UnsafePointer<Float>, _ n: Int, mean: Float) -> Float {
        var acc = SIMD8<Float>()
        let m = SIMD8<Float>(repeating: mean)
        var j = 0
        while j + 8 <= n {
            let d = UnsafeRawPointer(x + j).loadUnaligned(as: SIMD8<Float>.self) - m
            acc = acc.addingProduct(d, d)
            j += 8
        }
        var s = acc.sum()
        while j < n { let d = x[j] - mean; s += d * d; j += 1 }
        return s
    }
}

/// The post-LN block `out = LayerNorm(dropout(dense) + residual)` fused into one pass over
/// the rows (the forward writes the sum it normalises into `dense`, which the backward needs).
public enum ResidualLayerNorm {
    /// `dense ← dense · mask/(1−p) + residual` (no mask: `dense + residual`), then
    /// `out = LayerNorm(dense)` with `mean`/`rstd` saved.
    public static func forward(
        out: UnsafeMutablePointer<Float>, mean: UnsafeMutablePointer<Float>, rstd: UnsafeMutablePointer<Float>,
        dense: UnsafeMutablePointer<Float>, residual: UnsafePointer<Float>,
        mask: UnsafePointer<UInt8>?, probability: Float,
        weight: UnsafePointer<Float>, bias: UnsafePointer<Float>, rows: Int, cols: Int, eps: Float
    ) {
        let keep = Dropout.keepScale(probability)
        nonisolated(unsafe) let (out, mean, rstd, dense, residual, mask, weight, bias) = (out, mean, rstd, dense, residual, mask, weight, bias)
        Threads.parallelFor(rows, minimumChunk: 32) { start, end in
            for r in start..<end {
                let x = dense + r * cols, res = residual + r * cols
                if let mask {
                    let mk = mask + r * cols
                    for j in 0..<cols { x[j] = x[j] * (Float(mk[j]) * keep) + res[j] }
                } else {
                    for j in 0..<cols { x[j] = x[j] + res[j] }
                }
                (mean[r], rstd[r]) = LayerNorm.normalizeRow(x, into: out + r * cols, weight: weight, bias: bias, cols: cols, eps: eps)
            }
        }
    }

    /// Backward of `forward` given `dOut`: overwrites `dResidual` with the gradient of the
    /// LayerNorm input (what flows down the residual path) and `dDense` with that gradient
    /// through the dropout mask; accumulates `dWeight`/`dBias` when given.
    public static func backward(
        dResidual: UnsafeMutablePointer<Float>, dDense: UnsafeMutablePointer<Float>,
        dWeight: UnsafeMutablePointer<Float>?, dBias: UnsafeMutablePointer<Float>?,
        dOut: UnsafePointer<Float>, input: UnsafePointer<Float>, mean: UnsafePointer<Float>, rstd: UnsafePointer<Float>,
        mask: UnsafePointer<UInt8>?, probability: Float, weight: UnsafePointer<Float>, rows: Int, cols: Int
    ) {
        if dWeight != nil || dBias != nil {
            LayerNorm.backward(dInput: nil, dWeight: dWeight, dBias: dBias, dOut: dOut, input: input, mean: mean, rstd: rstd,
                               weight: weight, rows: rows, cols: cols)
        }
        let keep = Dropout.keepScale(probability)
        nonisolated(unsafe) let (dResidual, dDense, dOut, input, mean, rstd, mask, weight) = (dResidual, dDense, dOut, input, mean, rstd, mask, weight)
        Threads.parallelFor(rows, minimumChunk: 32) { start, end in
            for r in start..<end {
                let dx = dResidual + r * cols, dd = dDense + r * cols
                LayerNorm.backwardRow(dInput: dx, accumulate: false, dOut: dOut + r * cols, input: input + r * cols,
                                      mean: mean[r], rstd: rstd[r], weight: weight, cols: cols)
                if let mask {
                    Dropout.scale(out: dd, input: dx, mask: mask + r * cols, count: cols, keep: keep)
                } else {
                    dd.update(from: dx, count: cols)
                }
            }
        }
    }
}
