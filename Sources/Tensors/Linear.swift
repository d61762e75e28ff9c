/// A fully connected layer in PyTorch's layout: `weight` is `(OC, C)` (out, in).
///
/// Forward `out (T, OC) = input (T, C) · weightᵀ + bias`, one `sgemm(NoTrans, Trans)`.
public enum Linear {
    /// `out = input · weightᵀ + bias` (overwrites `out`). With `weightTransposed` the weight is
    /// stored `(C, OC)` and the product is OpenBLAS's NN form, faster for short batches.
    public static func forward(
        out: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>,
        weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
        rows: Int, inFeatures: Int, outFeatures: Int, weightTransposed: Bool = false
    ) {
        var beta: Float = 0
        if let bias {
            for r in 0..<rows { (out + r * outFeatures).update(from: bias, count: outFeatures) }
            beta = 1
        }
        if backend == .oneDNN, rows > 0 {
            OneDNN.multiply(m: rows, n: outFeatures, k: inFeatures, a: input, lda: inFeatures,
                            b: weight, ldb: weightTransposed ? outFeatures : inFeatures, transposeB: !weightTransposed,
                            c: out, ldc: outFeatures, beta: beta)
            return
        }
        Gemm.multiply(m: rows, n: outFeatures, k: inFeatures,
                      a: input, lda: inFeatures,
                      b: weight, ldb: weightTransposed ? outFeatures : inFeatures, transposeB: !weightTransposed,
                      c: out, ldc: outFeatures, beta: beta)
    }

    /// Accumulates gradients: `dInput += dOut · weight`, `dWeight += dOutᵀ · input`,
    /// `dBias += Σ_rows dOut`. Pass `nil` for what is not needed: a frozen weight gets no
    /// `dWeight` GEMM at all. With `accumulateInput` false, `dInput` is overwritten instead
    /// (saves zeroing it first).
    public static func backward(
        dInput: UnsafeMutablePointer<Float>?, dWeight: UnsafeMutablePointer<Float>?,
        dBias: UnsafeMutablePointer<Float>?,
        dOut: UnsafePointer<Float>, input: UnsafePointer<Float>, weight: UnsafePointer<Float>,
        rows: Int, inFeatures: Int, outFeatures: Int, accumulateInput: Bool = true
    ) {
        if let dInput {
            Gemm.multiply(m: rows, n: inFeatures, k: outFeatures,
                          a: dOut, lda: outFeatures, b: weight, ldb: inFeatures,
                          c: dInput, ldc: inFeatures, beta: accumulateInput ? 1 : 0)
        }
        if let dWeight {
            Gemm.multiply(m: outFeatures, n: inFeatures, k: rows,
                          a: dOut, lda: outFeatures, transposeA: true,
                          b: input, ldb: inFeatures,
                          c: dWeight, ldc: inFeatures, beta: 1)
        }
        if let dBias { ColumnSum.accumulate(into: dBias, matrix: dOut, rows: rows, cols: outFeatures) }
    }
}

/// Column sums of a row-major matrix.
public enum ColumnSum {
    /// `out[j] += Σ_i matrix[i, j]`.
    @inlinable public static func accumulate(into out: UnsafeMutablePointer<Float>, matrix: UnsafePointer<Float>, rows: Int, cols: Int) {
        for r in 0..<rows {
            let row = matrix + r * cols
            for j in 0..<cols { out[j] += row[j] }
        }
    }
}
