import XCTest
import Foundation
import Tensors
import TestSupport

final class GemmTests: XCTestCase {
    /// Every transpose combination, with leading dimensions larger than the matrix (strided
    /// views as used for attention heads), alpha and beta.
    func testAllTransposeModesWithStridesMatchDouble() {
        var rng = RandomGenerator(seed: 7)
        for (m, n, k) in [(5, 7, 3), (1, 9, 4), (13, 6, 11), (8, 8, 1)] {
            for ta in [false, true] {
                for tb in [false, true] {
                    let padA = 3, padB = 2, padC = 5
                    let aRows = ta ? k : m, aCols = ta ? m : k
                    let bRows = tb ? n : k, bCols = tb ? k : n
                    let lda = aCols + padA, ldb = bCols + padB, ldc = n + padC
                    let a = GradientCheck.randomArray(aRows * lda, &rng)
                    let b = GradientCheck.randomArray(bRows * ldb, &rng)
                    var c = GradientCheck.randomArray(m * ldc, &rng)
                    let c0 = c
                    let alpha: Float = 0.75, beta: Float = 0.5
                    let fa = FloatBuffer(a), fb = FloatBuffer(b), fc = FloatBuffer(c)
                    Gemm.multiply(m: m, n: n, k: k, a: fa.readPointer, lda: lda, transposeA: ta,
                                  b: fb.readPointer, ldb: ldb, transposeB: tb, c: fc.pointer, ldc: ldc, alpha: alpha, beta: beta)
                    c = fc.toArray()
                    for i in 0..<m {
                        for j in 0..<n {
                            var s = 0.0
                            for p in 0..<k {
                                let av = ta ? a[p * lda + i] : a[i * lda + p]
                                let bv = tb ? b[j * ldb + p] : b[p * ldb + j]
                                s += Double(av) * Double(bv)
                            }
                            let expected = Double(alpha) * s + Double(beta) * Double(c0[i * ldc + j])
                            XCTAssertEqual(Double(c[i * ldc + j]), expected, accuracy: 1e-5,
                                           "m=\(m) n=\(n) k=\(k) ta=\(ta) tb=\(tb) at (\(i),\(j))")
                        }
                        // Padding columns are untouched.
                        for j in n..<ldc { XCTAssertEqual(c[i * ldc + j], c0[i * ldc + j]) }
                    }
                }
            }
        }
    }
}

final class LinearTests: XCTestCase {
    func reference(rows: Int, c: Int, oc: Int) -> GradientCheck.Reference {
        { x in
            let (inp, w, b) = (x[0], x[1], x[2])
            var out = DoubleMath.matmul(inp, w, m: rows, k: c, n: oc, transB: true)
            for r in 0..<rows { for j in 0..<oc { out[r * oc + j] += b[j] } }
            return out
        }
    }

    func testGradientsMatchFiniteDifferences() {
        var rng = RandomGenerator(seed: 11)
        for (rows, c, oc) in [(5, 7, 3), (1, 4, 9), (6, 13, 5)] {
            let inp = GradientCheck.randomArray(rows * c, &rng)
            let w = GradientCheck.randomArray(oc * c, &rng)
            let b = GradientCheck.randomArray(oc, &rng)
            let r = GradientCheck.randomArray(rows * oc, &rng)
            let fi = FloatBuffer(inp), fw = FloatBuffer(w), fb = FloatBuffer(b), out = FloatBuffer(count: rows * oc)
            Linear.forward(out: out.pointer, input: fi.readPointer, weight: fw.readPointer, bias: fb.readPointer,
                           rows: rows, inFeatures: c, outFeatures: oc)
            // Gradients accumulate: start from a known non-zero value and subtract it.
            let dX = FloatBuffer([Float](repeating: 0.5, count: rows * c))
            let dW = FloatBuffer([Float](repeating: -0.25, count: oc * c))
            let dB = FloatBuffer([Float](repeating: 1, count: oc))
            let fr = FloatBuffer(r)
            Linear.backward(dInput: dX.pointer, dWeight: dW.pointer, dBias: dB.pointer, dOut: fr.readPointer,
                            input: fi.readPointer, weight: fw.readPointer, rows: rows, inFeatures: c, outFeatures: oc)
            // A weight stored transposed, (C, OC), gives the same output.
            var wt = [Float](repeating: 0, count: oc * c)
            for o in 0..<oc { for i in 0..<c { wt[i * oc + o] = w[o * c + i] } }
            let fwt = FloatBuffer(wt), outT = FloatBuffer(count: rows * oc)
            Linear.forward(out: outT.pointer, input: fi.readPointer, weight: fwt.readPointer, bias: fb.readPointer,
                           rows: rows, inFeatures: c, outFeatures: oc, weightTransposed: true)
            XCTAssertLessThanOrEqual(Approx.maxAbsDiff(outT.toArray(), out.toArray()), 1e-6)
            GradientCheck.check("linear \(rows)x\(c)->\(oc)", inputs: [inp, w, b], projection: r,
                                ours: (out.toArray(), [dX.toArray().map { $0 - 0.5 }, dW.toArray().map { $0 + 0.25 }, dB.toArray().map { $0 - 1 }]),
                                reference: reference(rows: rows, c: c, oc: oc))
        }
    }

    func testFrozenWeightSkipsWeightGradient() {
        var rng = RandomGenerator(seed: 3)
        let rows = 4, c = 5, oc = 3
        let fi = FloatBuffer(GradientCheck.randomArray(rows * c, &rng)), fw = FloatBuffer(GradientCheck.randomArray(oc * c, &rng))
        let dOut = FloatBuffer(GradientCheck.randomArray(rows * oc, &rng))
        let dX = FloatBuffer(count: rows * c)
        Linear.backward(dInput: dX.pointer, dWeight: nil, dBias: nil, dOut: dOut.readPointer, input: fi.readPointer,
                        weight: fw.readPointer, rows: rows, inFeatures: c, outFeatures: oc)
        let expected = DoubleMath.matmul(dOut.toArray().map(Double.init), fw.toArray().map(Double.init), m: rows, k: oc, n: c)
        for i in expected.indices { XCTAssertEqual(Double(dX[i]), expected[i], accuracy: 1e-5) }
    }
}

final class LayerNormTests: XCTestCase {
    func testGradientsMatchFiniteDifferences() {
        var rng = RandomGenerator(seed: 5)
        for (rows, cols) in [(3, 7), (1, 16), (5, 33)] {
            let eps: Float = 1e-5
            let x = GradientCheck.randomArray(rows * cols, &rng, scale: 2)
            let w = GradientCheck.randomArray(cols, &rng)
            let b = GradientCheck.randomArray(cols, &rng)
            let r = GradientCheck.randomArray(rows * cols, &rng)
            let fx = FloatBuffer(x), fw = FloatBuffer(w), fb = FloatBuffer(b)
            let out = FloatBuffer(count: rows * cols), mean = FloatBuffer(count: rows), rstd = FloatBuffer(count: rows)
            LayerNorm.forward(out: out.pointer, mean: mean.pointer, rstd: rstd.pointer, input: fx.readPointer,
                              weight: fw.readPointer, bias: fb.readPointer, rows: rows, cols: cols, eps: eps)
            let dX = FloatBuffer(count: rows * cols), dW = FloatBuffer(count: cols), dB = FloatBuffer(count: cols)
            let fr = FloatBuffer(r)
            LayerNorm.backward(dInput: dX.pointer, dWeight: dW.pointer, dBias: dB.pointer, dOut: fr.readPointer,
                               input: fx.readPointer, mean: mean.readPointer, rstd: rstd.readPointer, weight: fw.readPointer,
                               rows: rows, cols: cols)
            GradientCheck.check("layernorm \(rows)x\(cols)", inputs: [x, w, b], projection: r,
                                ours: (out.toArray(), [dX.toArray(), dW.toArray(), dB.toArray()]),
                                reference: { v in
                                    var out = [Double](repeating: 0, count: rows * cols)
                                    for i in 0..<rows {
                                        let row = Array(v[0][(i * cols)..<((i + 1) * cols)])
                                        let m = row.reduce(0, +) / Double(cols)
                                        let varr = row.map { ($0 - m) * ($0 - m) }.reduce(0, +) / Double(cols)
                                        let s = 1 / (varr + Double(eps)).squareRoot()
                                        for j in 0..<cols { out[i * cols + j] = (row[j] - m) * s * v[1][j] + v[2][j] }
                                    }
                                    return out
                                })
        }
    }
}

final class ResidualLayerNormTests: XCTestCase {
    /// `LayerNorm(dropout(dense) + residual)` against a double reference, with and without a
    /// mask, on enough rows for the parallel split.
    func testGradientsMatchFiniteDifferences() {
        var rng = RandomGenerator(seed: 6)
        let saved = Threads.count
        Threads.configure(2)
        defer { Threads.configure(saved) }
        for (rows, cols, withMask) in [(3, 7, true), (70, 9, true), (70, 9, false)] {
            let p: Float = 0.25, eps: Float = 1e-5
            let dense = GradientCheck.randomArray(rows * cols, &rng, scale: 2), residual = GradientCheck.randomArray(rows * cols, &rng)
            let w = GradientCheck.randomArray(cols, &rng), b = GradientCheck.randomArray(cols, &rng)
            let r = GradientCheck.randomArray(rows * cols, &rng)
            var mask = [UInt8](repeating: 1, count: rows * cols)
            if withMask { mask.withUnsafeMutableBufferPointer { Dropout.makeMask($0.baseAddress!, count: rows * cols, probability: p, rng: &rng) } }
            let fDense = FloatBuffer(dense), fRes = FloatBuffer(residual), fw = FloatBuffer(w), fb = FloatBuffer(b), fr = FloatBuffer(r)
            let out = FloatBuffer(count: rows * cols), mean = FloatBuffer(count: rows), rstd = FloatBuffer(count: rows)
            let dRes = FloatBuffer(count: rows * cols), dDense = FloatBuffer(count: rows * cols)
            let dW = FloatBuffer(count: cols), dB = FloatBuffer(count: cols)
            mask.withUnsafeBufferPointer { mk in
                let m = withMask ? mk.baseAddress : nil
                ResidualLayerNorm.forward(out: out.pointer, mean: mean.pointer, rstd: rstd.pointer, dense: fDense.pointer,
                                          residual: fRes.readPointer, mask: m, probability: p, weight: fw.readPointer,
                                          bias: fb.readPointer, rows: rows, cols: cols, eps: eps)
                ResidualLayerNorm.backward(dResidual: dRes.pointer, dDense: dDense.pointer, dWeight: dW.pointer, dBias: dB.pointer,
                                           dOut: fr.readPointer, input: fDense.readPointer, mean: mean.readPointer, rstd: rstd.readPointer,
                                           mask: m, probability: p, weight: fw.readPointer, rows: rows, cols: cols)
            }
            let keep = mask.map { withMask ? Double($0) / Double(1 - p) : 1 }
            GradientCheck.check("residual layernorm \(rows)x\(cols) mask=\(withMask)", inputs: [dense, residual, w, b], projection: r,
                                ours: (out.toArray(), [dDense.toArray(), dRes.toArray(), dW.toArray(), dB.toArray()]),
                                reference: { v in
                                    var out = [Double](repeating: 0, count: rows * cols)
                                    for i in 0..<rows {
                                        let row = (0..<cols).map { v[0][i * cols + $0] * keep[i * cols + $0] + v[1][i * cols + $0] }
                                        let m = row.reduce(0, +) / Double(cols)
                                        let varr = row.map { ($0 - m) * ($0 - m) }.reduce(0, +) / Double(cols)
                                        let s = 1 / (varr + Double(eps)).squareRoot()
                                        for j in 0..<cols { out[i * cols + j] = (row[j] - m) * s * v[2][j] + v[3][j] }
                                    }
                                    return out
                                })
        }
    }
}

final class ActivationTests: XCTestCase {
    func testGELUExactErfGradient() {
        var rng = RandomGenerator(seed: 9)
        let n = 37
        let x = GradientCheck.randomArray(n, &rng, scale: 4)
        let r = GradientCheck.randomArray(n, &rng)
        let fx = FloatBuffer(x), out = FloatBuffer(count: n), dX = FloatBuffer(count: n), fr = FloatBuffer(r)
        GELU.forward(out: out.pointer, input: fx.readPointer, count: n)
        GELU.backward(dInput: dX.pointer, dOut: fr.readPointer, input: fx.readPointer, count: n)
        // Overwriting in place gives the same gradient.
        let inPlace = FloatBuffer(r)
        GELU.backward(dInput: inPlace.pointer, dOut: inPlace.readPointer, input: fx.readPointer, count: n, accumulate: false)
        XCTAssertEqual(inPlace.toArray(), dX.toArray())
        GradientCheck.check("gelu", inputs: [x], projection: r, ours: (out.toArray(), [dX.toArray()]),
                            reference: { v in v[0].map { 0.5 * $0 * (1 + DoubleMath.erf($0 / 2.0.squareRoot())) } })
    }

    func testTanhGradient() {
        var rng = RandomGenerator(seed: 10)
        let n = 29
        let x = GradientCheck.randomArray(n, &rng, scale: 3)
        let r = GradientCheck.randomArray(n, &rng)
        let fx = FloatBuffer(x), out = FloatBuffer(count: n), dX = FloatBuffer(count: n), fr = FloatBuffer(r)
        Tanh.forward(out: out.pointer, input: fx.readPointer, count: n)
        Tanh.backward(dInput: dX.pointer, dOut: fr.readPointer, output: out.readPointer, count: n)
        GradientCheck.check("tanh", inputs: [x], projection: r, ours: (out.toArray(), [dX.toArray()]),
                            reference: { v in v[0].map { Foundation.tanh($0) } })
    }

    func testReLUGradient() {
        var rng = RandomGenerator(seed: 11)
        let n = 31
        // Away from the kink at 0, where finite differences are meaningless.
        let x = GradientCheck.randomArray(n, &rng, scale: 3).map { abs($0) < 0.05 ? ($0 < 0 ? -0.1 : 0.1) : $0 }
        let r = GradientCheck.randomArray(n, &rng)
        let fx = FloatBuffer(x), out = FloatBuffer(count: n), dX = FloatBuffer(count: n), fr = FloatBuffer(r)
        ReLU.forward(out: out.pointer, input: fx.readPointer, count: n)
        ReLU.backward(dInput: dX.pointer, dOut: fr.readPointer, output: out.readPointer, count: n)
        XCTAssertTrue(x.contains { $0 < 0 } && x.contains { $0 > 0 })
        GradientCheck.check("relu", inputs: [x], projection: r, ours: (out.toArray(), [dX.toArray()]),
                            reference: { v in v[0].map { max($0, 0) } })
    }

    func testSoftmaxGradient() {
        var rng = RandomGenerator(seed: 12)
        for (rows, cols) in [(3, 5), (1, 1), (4, 17)] {
            let x = GradientCheck.randomArray(rows * cols, &rng, scale: 5)
            let r = GradientCheck.randomArray(rows * cols, &rng)
            let fx = FloatBuffer(x), out = FloatBuffer(count: rows * cols), dX = FloatBuffer(count: rows * cols), fr = FloatBuffer(r)
            Softmax.forward(out: out.pointer, input: fx.readPointer, rows: rows, cols: cols)
            Softmax.backward(dInput: dX.pointer, dOut: fr.readPointer, output: out.readPointer, rows: rows, cols: cols)
            GradientCheck.check("softmax \(rows)x\(cols)", inputs: [x], projection: r, ours: (out.toArray(), [dX.toArray()]),
                                reference: { v in
                                    var out = [Double](repeating: 0, count: rows * cols)
                                    for i in 0..<rows {
                                        let row = v[0][(i * cols)..<((i + 1) * cols)]
                                        let m = row.max() ?? 0
                                        let e = row.map { Foundation.exp($0 - m) }
                                        let s = e.reduce(0, +)
                                        for j in 0..<cols { out[i * cols + j] = e[j] / s }
                                    }
                                    return out
                                })
        }
    }
}

final class AttentionTests: XCTestCase {
    /// Double reference: per sequence and head, softmax(scale·QKᵀ)·mask·V.
    static func reference(lengths: [Int], heads: Int, headDim: Int, scale: Double, mask: [Double]?) -> GradientCheck.Reference {
        { v in
            let (q, k, vv) = (v[0], v[1], v[2])
            let c = heads * headDim
            let total = lengths.reduce(0, +)
            var out = [Double](repeating: 0, count: total * c)
            var base = 0, pOff = 0
            for l in lengths {
                for h in 0..<heads {
                    for i in 0..<l {
                        var scores = [Double](repeating: 0, count: l)
                        for j in 0..<l {
                            var s = 0.0
                            for d in 0..<headDim { s += q[(base + i) * c + h * headDim + d] * k[(base + j) * c + h * headDim + d] }
                            scores[j] = s * scale
                        }
                        let m = scores.max() ?? 0
                        let e = scores.map { Foundation.exp($0 - m) }
                        let sum = e.reduce(0, +)
                        for j in 0..<l {
                            var p = e[j] / sum
                            if let mask { p *= mask[pOff + i * l + j] }
                            for d in 0..<headDim { out[(base + i) * c + h * headDim + d] += p * vv[(base + j) * c + h * headDim + d] }
                        }
                    }
                    pOff += l * l
                }
                base += l
            }
            return out
        }
    }

    func run(lengths: [Int], heads: Int, headDim: Int, dropout: Bool, seed: UInt64) {
        var rng = RandomGenerator(seed: seed)
        let seqs = PackedSequences(lengths: lengths)
        let c = heads * headDim, t = seqs.totalTokens
        let scale = 1 / Float(headDim).squareRoot()
        let q = GradientCheck.randomArray(t * c, &rng, scale: 1.5), k = GradientCheck.randomArray(t * c, &rng, scale: 1.5)
        let v = GradientCheck.randomArray(t * c, &rng)
        let r = GradientCheck.randomArray(t * c, &rng)
        let pCount = seqs.attentionFloats(heads: heads)
        let probs = FloatBuffer(count: pCount)
        var mask = [UInt8](repeating: 1, count: pCount)
        if dropout { mask.withUnsafeMutableBufferPointer { Dropout.makeMask($0.baseAddress!, count: pCount, probability: 0.3, rng: &rng) } }
        let (out, dq, dk, dv) = Self.forwardBackward(q: q, k: k, v: v, dOut: r, probs: probs, sequences: seqs, heads: heads,
                                                     headDim: headDim, scale: scale, mask: dropout ? mask : nil, probability: 0.3)
        GradientCheck.check("attention \(lengths) heads=\(heads) d=\(headDim) dropout=\(dropout)", inputs: [q, k, v], projection: r,
                            ours: (out, [dq, dk, dv]),
                            reference: Self.reference(lengths: lengths, heads: heads, headDim: headDim, scale: Double(scale),
                                                      mask: dropout ? mask.map { Double($0) / 0.7 } : nil))
    }

    /// Our forward output and the three input gradients for upstream gradient `dOut`.
    static func forwardBackward(q: [Float], k: [Float], v: [Float], dOut: [Float], probs: FloatBuffer, sequences seqs: PackedSequences,
                                heads: Int, headDim: Int, scale: Float, mask: [UInt8]?, probability: Float)
        -> ([Float], [Float], [Float], [Float]) {
        let c = heads * headDim, t = seqs.totalTokens
        let fq = FloatBuffer(q), fk = FloatBuffer(k), fv = FloatBuffer(v), out = FloatBuffer(count: t * c), fr = FloatBuffer(dOut)
        let dq = FloatBuffer(count: t * c), dk = FloatBuffer(count: t * c), dv = FloatBuffer(count: t * c)
        let scratch = FloatBuffer(count: Attention.scratchFloats(seqs))
        let maskBuffer = (mask ?? []).withUnsafeBufferPointer { Array($0) }
        maskBuffer.withUnsafeBufferPointer { m in
            let mk = mask == nil ? nil : m.baseAddress
            Attention.forward(out: out.pointer, ldOut: c, probs: probs.pointer, q: fq.readPointer, ldq: c, k: fk.readPointer, ldk: c,
                              v: fv.readPointer, ldv: c, sequences: seqs, heads: heads, headDim: headDim, scale: scale,
                              dropoutMask: mk, dropoutProbability: probability, scratch: scratch.pointer)
            Attention.backward(dq: dq.pointer, lddq: c, dk: dk.pointer, lddk: c, dv: dv.pointer, lddv: c, dOut: fr.readPointer, ldDOut: c,
                               probs: probs.readPointer, q: fq.readPointer, ldq: c, k: fk.readPointer, ldk: c, v: fv.readPointer, ldv: c,
                               sequences: seqs, heads: heads, headDim: headDim, scale: scale, scratch: scratch.pointer,
                               dropoutMask: mk, dropoutProbability: probability)
        }
        return (out.toArray(), dq.toArray(), dk.toArray(), dv.toArray())
    }

    /// Splitting the (sequence, head) pairs across two workers gives bit-identical results
    /// to one worker, with and without dropout (pairs large enough to take the parallel path).
    func testParallelSplitMatchesSerial() {
        var rng = RandomGenerator(seed: 24)
        let lengths = [40, 70, 9, 33], heads = 3, headDim = 8, c = 24
        let seqs = PackedSequences(lengths: lengths)
        let t = seqs.totalTokens, pCount = seqs.attentionFloats(heads: heads)
        XCTAssertGreaterThan(pCount, 2 * 4096, "test must exercise the parallel path")
        let q = GradientCheck.randomArray(t * c, &rng), k = GradientCheck.randomArray(t * c, &rng)
        let v = GradientCheck.randomArray(t * c, &rng), r = GradientCheck.randomArray(t * c, &rng)
        var mask = [UInt8](repeating: 0, count: pCount)
        mask.withUnsafeMutableBufferPointer { Dropout.makeMask($0.baseAddress!, count: pCount, probability: 0.1, rng: &rng) }
        let saved = Threads.count
        defer { Threads.configure(saved) }
        for m in [nil, mask] {
            Threads.configure(1)
            let p1 = FloatBuffer(count: pCount)
            let serial = Self.forwardBackward(q: q, k: k, v: v, dOut: r, probs: p1, sequences: seqs, heads: heads, headDim: headDim,
                                              scale: 0.3, mask: m, probability: 0.1)
            Threads.configure(2)
            let p2 = FloatBuffer(count: pCount)
            let parallel = Self.forwardBackward(q: q, k: k, v: v, dOut: r, probs: p2, sequences: seqs, heads: heads, headDim: headDim,
                                                scale: 0.3, mask: m, probability: 0.1)
            XCTAssertEqual(p1.toArray(), p2.toArray())
            XCTAssertEqual(serial.0, parallel.0)
            XCTAssertEqual(serial.1, parallel.1)
            XCTAssertEqual(serial.2, parallel.2)
            XCTAssertEqual(serial.3, parallel.3)
            XCTAssertTrue(serial.1.contains { $0 != 0 })
        }
    }

    func testPackedVariableLengthGradients() {
        run(lengths: [3, 5, 1, 4], heads: 3, headDim: 5, dropout: false, seed: 21)
        run(lengths: [7], heads: 2, headDim: 4, dropout: false, seed: 22)
    }

    func testPackedWithAttentionDropoutGradients() {
        run(lengths: [4, 2, 6], heads: 2, headDim: 3, dropout: true, seed: 23)
    }

    /// The one-query kernel gives each sequence's first row of the full attention output.
    func testFirstQueryMatchesFirstRowOfFullAttention() {
        var rng = RandomGenerator(seed: 31)
        let lengths = [1, 6, 13, 2], heads = 3, headDim = 5, c = 15
        let seqs = PackedSequences(lengths: lengths)
        let t = seqs.totalTokens
        let q = FloatBuffer(GradientCheck.randomArray(t * c, &rng, scale: 1.5))
        let k = FloatBuffer(GradientCheck.randomArray(t * c, &rng, scale: 1.5)), v = FloatBuffer(GradientCheck.randomArray(t * c, &rng))
        let full = FloatBuffer(count: t * c), probs = FloatBuffer(count: seqs.attentionFloats(heads: heads))
        let scratch = FloatBuffer(count: Attention.scratchFloats(seqs))
        Attention.forward(out: full.pointer, ldOut: c, probs: probs.pointer, q: q.readPointer, ldq: c, k: k.readPointer, ldk: c,
                          v: v.readPointer, ldv: c, sequences: seqs, heads: heads, headDim: headDim, scale: 0.4, scratch: scratch.pointer)
        let firstQueries = FloatBuffer(count: lengths.count * c), out = FloatBuffer(count: lengths.count * c)
        for s in 0..<lengths.count { (firstQueries.pointer + s * c).update(from: q.readPointer + seqs.offsets[s] * c, count: c) }
        Attention.forwardFirstQuery(out: out.pointer, ldOut: c, probs: nil, q: firstQueries.readPointer, ldq: c, k: k.readPointer, ldk: c,
                                    v: v.readPointer, ldv: c, sequences: seqs, heads: heads, headDim: headDim, scale: 0.4,
                                    scratch: scratch.pointer)
        let expected = (0..<lengths.count).flatMap { s in Array(full.toArray()[(seqs.offsets[s] * c)..<((seqs.offsets[s] + 1) * c)]) }
        XCTAssertLessThanOrEqual(Approx.maxAbsDiff(out.toArray(), expected), 1e-6)
    }

    /// Gradients of the one-query attention against a Double finite-difference reference,
    /// with and without dropout on the attention weights.
    func testFirstQueryGradients() {
        for dropout in [false, true] {
            var rng = RandomGenerator(seed: dropout ? 33 : 32)
            let lengths = [3, 1, 6], heads = 2, headDim = 4, c = 8
            let seqs = PackedSequences(lengths: lengths)
            let t = seqs.totalTokens, b = lengths.count, scale: Float = 0.5
            let q = GradientCheck.randomArray(b * c, &rng, scale: 1.5), k = GradientCheck.randomArray(t * c, &rng, scale: 1.5)
            let v = GradientCheck.randomArray(t * c, &rng), r = GradientCheck.randomArray(b * c, &rng)
            var mask = [UInt8](repeating: 1, count: heads * t)
            if dropout { mask.withUnsafeMutableBufferPointer { Dropout.makeMask($0.baseAddress!, count: heads * t, probability: 0.3, rng: &rng) } }
            let fq = FloatBuffer(q), fk = FloatBuffer(k), fv = FloatBuffer(v), fr = FloatBuffer(r)
            let out = FloatBuffer(count: b * c), probs = FloatBuffer(count: heads * t), scratch = FloatBuffer(count: Attention.scratchFloats(seqs))
            let dq = FloatBuffer(count: b * c), dk = FloatBuffer(count: t * c), dv = FloatBuffer(count: t * c)
            mask.withUnsafeBufferPointer { m in
                let mk = dropout ? m.baseAddress : nil
                Attention.forwardFirstQuery(out: out.pointer, ldOut: c, probs: probs.pointer, q: fq.readPointer, ldq: c,
                                            k: fk.readPointer, ldk: c, v: fv.readPointer, ldv: c, sequences: seqs, heads: heads,
                                            headDim: headDim, scale: scale, dropoutMask: mk, dropoutProbability: 0.3, scratch: scratch.pointer)
                Attention.backwardFirstQuery(dq: dq.pointer, lddq: c, dk: dk.pointer, lddk: c, dv: dv.pointer, lddv: c,
                                             dOut: fr.readPointer, ldDOut: c, probs: probs.readPointer, q: fq.readPointer, ldq: c,
                                             k: fk.readPointer, ldk: c, v: fv.readPointer, ldv: c, sequences: seqs, heads: heads,
                                             headDim: headDim, scale: scale, dropoutMask: mk, dropoutProbability: 0.3,
                                             scratch: scratch.pointer)
            }
            let keep = mask.map { dropout ? Double($0) / 0.7 : 1 }
            GradientCheck.check("first-query attention dropout=\(dropout)", inputs: [q, k, v], projection: r,
                                ours: (out.toArray(), [dq.toArray(), dk.toArray(), dv.toArray()])) { x in
                let (q, k, v) = (x[0], x[1], x[2])
                var out = [Double](repeating: 0, count: b * c)
                for s in 0..<b {
                    let base = seqs.offsets[s], L = lengths[s]
                    for h in 0..<heads {
                        let col = h * headDim
                        var scores = (0..<L).map { j in
                            (0..<headDim).reduce(0.0) { $0 + q[s * c + col + $1] * k[(base + j) * c + col + $1] } * Double(scale)
                        }
                        let m = scores.max()!
                        scores = scores.map { Foundation.exp($0 - m) }
                        let sum = scores.reduce(0, +)
                        for j in 0..<L {
                            let p = scores[j] / sum * keep[heads * base + h * L + j]
                            for d in 0..<headDim { out[s * c + col + d] += p * v[(base + j) * c + col + d] }
                        }
                    }
                }
                return out
            }
        }
    }

    /// Packing is exact: a sequence's output does not depend on its batch neighbours.
    func testSequenceIndependentOfNeighbours() {
        var rng = RandomGenerator(seed: 30)
        let heads = 2, headDim = 3, c = 6
        let lengths = [4, 3]
        let seqs = PackedSequences(lengths: lengths)
        let t = seqs.totalTokens
        let q = GradientCheck.randomArray(t * c, &rng), k = GradientCheck.randomArray(t * c, &rng), v = GradientCheck.randomArray(t * c, &rng)
        func attend(_ q: [Float], _ k: [Float], _ v: [Float], _ lengths: [Int]) -> [Float] {
            let s = PackedSequences(lengths: lengths)
            let out = FloatBuffer(count: s.totalTokens * c), probs = FloatBuffer(count: s.attentionFloats(heads: heads))
            let fq = FloatBuffer(q), fk = FloatBuffer(k), fv = FloatBuffer(v), scratch = FloatBuffer(count: Attention.scratchFloats(s))
            withExtendedLifetime((fq, fk, fv)) {
                Attention.forward(out: out.pointer, ldOut: c, probs: probs.pointer, q: fq.readPointer, ldq: c,
                                  k: fk.readPointer, ldk: c, v: fv.readPointer, ldv: c,
                                  sequences: s, heads: heads, headDim: headDim, scale: 0.5, scratch: scratch.pointer)
            }
            return out.toArray()
        }
        let both = attend(q, k, v, lengths)
        let second = attend(Array(q[(4 * c)...]), Array(k[(4 * c)...]), Array(v[(4 * c)...]), [3])
        XCTAssertEqual(Array(both[(4 * c)...]), second)
    }
}

final class DropoutEmbeddingLossTests: XCTestCase {
    func testDropoutIsSeededAndMaskReusedInBackward() {
        var a = RandomGenerator(seed: 99), b = RandomGenerator(seed: 99)
        let n = 200_001, p: Float = 0.1
        var m1 = [UInt8](repeating: 7, count: n), m2 = [UInt8](repeating: 7, count: n)
        m1.withUnsafeMutableBufferPointer { Dropout.makeMask($0.baseAddress!, count: n, probability: p, rng: &a) }
        m2.withUnsafeMutableBufferPointer { Dropout.makeMask($0.baseAddress!, count: n, probability: p, rng: &b) }
        XCTAssertEqual(m1, m2, "same seed, same mask")
        XCTAssertTrue(m1.allSatisfy { $0 == 0 || $0 == 1 })
        let dropped = m1.filter { $0 == 0 }.count
        XCTAssertEqual(Double(dropped) / Double(n), 0.1, accuracy: 0.005)
        var rng = RandomGenerator(seed: 1)
        let x = GradientCheck.randomArray(n, &rng), r = GradientCheck.randomArray(n, &rng)
        let out = FloatBuffer(count: n), dX = FloatBuffer(count: n), dOver = FloatBuffer(r)
        let fx = FloatBuffer(x), fr = FloatBuffer(r)
        let saved = Threads.count
        Threads.configure(2)   // the kernels split large counts across workers
        defer { Threads.configure(saved) }
        m1.withUnsafeBufferPointer { mk in
            Dropout.forward(out: out.pointer, input: fx.readPointer, mask: mk.baseAddress!, count: n, probability: p)
            Dropout.backward(dInput: dX.pointer, dOut: fr.readPointer, mask: mk.baseAddress!, count: n, probability: p)
            Dropout.backward(dInput: dOver.pointer, dOut: dOver.readPointer, mask: mk.baseAddress!, count: n, probability: p, accumulate: false)
        }
        let keep = 1 / (1 - p)
        for i in stride(from: 0, to: n, by: 997) + [n - 1] {
            XCTAssertEqual(out[i], x[i] * Float(m1[i]) * keep, accuracy: 1e-6)
            XCTAssertEqual(dX[i], r[i] * Float(m1[i]) * keep, accuracy: 1e-6)
            XCTAssertEqual(dOver[i], dX[i])
        }
        let mask = m1.map { Double($0) / Double(1 - p) }
        GradientCheck.check("dropout", inputs: [Array(x[0..<50])], projection: Array(r[0..<50]),
                            ours: (Array(out.toArray()[0..<50]), [Array(dX.toArray()[0..<50])]),
                            reference: { v in v[0].enumerated().map { $0.element * mask[$0.offset] } })
    }

    func testEmbeddingGatherScatterAdd() {
        var rng = RandomGenerator(seed: 4)
        let vocab = 6, dim = 5
        let ids: [Int32] = [2, 0, 2, 5, 2, 1]
        let table = GradientCheck.randomArray(vocab * dim, &rng)
        let r = GradientCheck.randomArray(ids.count * dim, &rng)
        let out = FloatBuffer(count: ids.count * dim), dT = FloatBuffer(count: vocab * dim)
        let ft = FloatBuffer(table), fr = FloatBuffer(r)
        withExtendedLifetime((ft, fr)) { ids.withUnsafeBufferPointer { idp in
            Embedding.forward(out: out.pointer, table: ft.readPointer, ids: idp.baseAddress!, count: ids.count, vocabularySize: vocab, dim: dim)
            Embedding.backward(dTable: dT.pointer, dOut: fr.readPointer, ids: idp.baseAddress!, count: ids.count, dim: dim)
        } }
        GradientCheck.check("embedding", inputs: [table], projection: r, ours: (out.toArray(), [dT.toArray()]),
                            reference: { v in ids.flatMap { id in (0..<dim).map { v[0][Int(id) * dim + $0] } } })
    }

    func testCrossEntropyGradient() {
        var rng = RandomGenerator(seed: 8)
        let rows = 5, classes = 3
        let logits = GradientCheck.randomArray(rows * classes, &rng, scale: 3)
        let labels: [Int32] = [0, 2, 1, 1, 0]
        let d = FloatBuffer(count: rows * classes)
        let fl = FloatBuffer(logits)
        let loss = withExtendedLifetime(fl) { labels.withUnsafeBufferPointer {
            Loss.crossEntropy(logits: fl.readPointer, labels: $0.baseAddress!, rows: rows, classes: classes, dLogits: d.pointer)
        } }
        GradientCheck.check("cross-entropy", inputs: [logits], projection: [1], ours: ([loss], [d.toArray()]),
                            reference: { v in
                                var total = 0.0
                                for i in 0..<rows {
                                    let row = v[0][(i * classes)..<((i + 1) * classes)]
                                    let lse = Foundation.log(row.map { Foundation.exp($0) }.reduce(0, +))
                                    total += lse - v[0][i * classes + Int(labels[i])]
                                }
                                return [total / Double(rows)]
                            })
    }

    func testMeanSquaredErrorGradient() {
        var rng = RandomGenerator(seed: 13)
        let n = 7
        let p = GradientCheck.randomArray(n, &rng, scale: 3), t = GradientCheck.randomArray(n, &rng, scale: 3)
        let d = FloatBuffer(count: n)
        let fp = FloatBuffer(p), ft = FloatBuffer(t)
        let loss = withExtendedLifetime((fp, ft)) {
            Loss.meanSquaredError(predictions: fp.readPointer, targets: ft.readPointer, count: n, dPredictions: d.pointer)
        }
        GradientCheck.check("mse", inputs: [p], projection: [1], ours: ([loss], [d.toArray()]),
                            reference: { v in [zip(v[0], t).map { ($0 - Double($1)) * ($0 - Double($1)) }.reduce(0, +) / Double(n)] })
    }
}

final class ArenaTests: XCTestCase {
    /// After the first step the arena is one chunk and later identical steps allocate nothing.
    func testSteadyStateUsesOneChunk() {
        let arena = Arena(capacity: 100)
        func step() -> [UnsafeMutablePointer<Float>] { [300, 50, 1000, 7, 64].map { arena.allocate($0) } }
        arena.reset()
        let first = step()
        XCTAssertGreaterThan(arena.chunkCount, 1)
        arena.reset()
        XCTAssertEqual(arena.chunkCount, 1)
        let capacity = arena.capacity
        for _ in 0..<3 {
            let ptrs = step()
            XCTAssertEqual(arena.chunkCount, 1)
            XCTAssertEqual(arena.capacity, capacity)
            // Slices do not overlap.
            for (i, p) in ptrs.enumerated().dropFirst() { XCTAssertGreaterThan(p, ptrs[i - 1]) }
            arena.reset()
        }
        XCTAssertEqual(first.count, 5)
    }
}
