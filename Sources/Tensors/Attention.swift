/// Where each sequence of a packed batch starts: sequence `s` holds rows
/// `offsets[s] ..< offsets[s + 1]` of every `(T_total, C)` activation.
public struct PackedSequences: Sendable, Equatable {
    /// `count + 1` row offsets, starting at 0.
    public let offsets: [Int]

    /// Builds offsets from sequence lengths.
    public init(lengths: [Int]) {
        var o = [0]
        o.reserveCapacity(lengths.count + 1)
        for l in lengths {
            precondition(l > 0, "PackedSequences: empty sequence")
            o.append(o[o.count - 1] + l)
        }
        offsets = o
    }

    /// Number of sequences.
    public var count: Int { offsets.count - 1 }
    /// Total number of rows (tokens).
    public var totalTokens: Int { offsets[offsets.count - 1] }
    /// Length of sequence `s`.
    @inlinable public func length(_ s: Int) -> Int { offsets[s + 1] - offsets[s] }
    /// Floats needed to hold every sequence's `(heads, L, L)` attention matrix.
    public func attentionFloats(heads: Int) -> Int {
        var n = 0
        for s in 0..<count { n += heads * length(s) * length(s) }
        return n
    }
}

/// Multi-head scaled-dot-product self-attention over packed, unpadded sequences.
///
/// `q`, `k`, `v` and `out` are `(T_total, C)` with row strides given (so a fused QKV buffer
/// works too); head `h` is the column block `h·D ..< (h+1)·D`, `D = C / heads`. Each sequence
/// attends only to itself over its true length: no padding, no mask. For sequence `s`
/// and head `h`, `probs` holds the `L×L` softmax matrix at
/// `Σ_{s'<s} heads·L_{s'}² + h·L²`.
public enum Attention {
    /// Forward: `probs = softmax(scale · Q Kᵀ)`, `out = dropped(probs) · V`.
    ///
    /// - Parameters:
    ///   - dropoutMask: when non-nil, an `attentionFloats`-sized buffer of multipliers
    ///     (0 or 1/(1−p), see `Dropout.makeMask`) applied to `probs`; the dropped
    ///     probabilities are written to `droppedProbs`, which must then be non-nil too.
    public static func forward(
        out: UnsafeMutablePointer<Float>, ldOut: Int,
        probs: UnsafeMutablePointer<Float>,
        q: UnsafePointer<Float>, ldq: Int, k: UnsafePointer<Float>, ldk: Int, v: UnsafePointer<Float>, ldv: Int,
        sequences: PackedSequences, heads: Int, headDim: Int, scale: Float,
        dropoutMask: UnsafePointer<Float>? = nil, droppedProbs: UnsafeMutablePointer<Float>? = nil
    ) {
        var pOffset = 0
        for s in 0..<sequences.count {
            let base = sequences.offsets[s], L = sequences.length(s)
            for h in 0..<heads {
                let p = probs + pOffset
                let col = h * headDim
                Gemm.multiply(m: L, n: L, k: headDim,
                              a: q + base * ldq + col, lda: ldq,
                              b: k + base * ldk + col, ldb: ldk, transposeB: true,
                              c: p, ldc: L, alpha: scale)
                Softmax.forward(out: p, input: p, rows: L, cols: L)
                var used = UnsafePointer(p)
                if let dropoutMask, let droppedProbs {
                    let d = droppedProbs + pOffset, mk = dropoutMask + pOffset
                    for i in 0..<(L * L) { d[i] = p[i] * mk[i] }
                    used = UnsafePointer(d)
                }
                Gemm.multiply(m: L, n: headDim, k: L,
                              a: used, lda: L,
                              b: v + base * ldv + col, ldb: ldv,
                              c: out + base * ldOut + col, ldc: ldOut)
                pOffset += L * L
            }
        }
    }

    /// Backward: accumulates `dq`, `dk`, `dv` (each `(T_total, C)` with its row stride).
    ///
    /// `scratch` needs `max_s L_s²` floats.
    public static func backward(
        dq: UnsafeMutablePointer<Float>, lddq: Int, dk: UnsafeMutablePointer<Float>, lddk: Int,
        dv: UnsafeMutablePointer<Float>, lddv: Int,
        dOut: UnsafePointer<Float>, ldDOut: Int, probs: UnsafePointer<Float>,
        q: UnsafePointer<Float>, ldq: Int, k: UnsafePointer<Float>, ldk: Int, v: UnsafePointer<Float>, ldv: Int,
        sequences: PackedSequences, heads: Int, headDim: Int, scale: Float,
        scratch: UnsafeMutablePointer<Float>,
        dropoutMask: UnsafePointer<Float>? = nil, droppedProbs: UnsafePointer<Float>? = nil
    ) {
        var pOffset = 0
        for s in 0..<sequences.count {
            let base = sequences.offsets[s], L = sequences.length(s)
            for h in 0..<heads {
                let p = probs + pOffset
                let col = h * headDim
                let used = (dropoutMask != nil && droppedProbs != nil) ? droppedProbs! + pOffset : p
                // dV += usedᵀ · dOut
                Gemm.multiply(m: L, n: headDim, k: L,
                              a: used, lda: L, transposeA: true,
                              b: dOut + base * ldDOut + col, ldb: ldDOut,
                              c: dv + base * lddv + col, ldc: lddv, beta: 1)
                // dUsed = dOut · Vᵀ
                Gemm.multiply(m: L, n: L, k: headDim,
                              a: dOut + base * ldDOut + col, lda: ldDOut,
                              b: v + base * ldv + col, ldb: ldv, transposeB: true,
                              c: scratch, ldc: L)
                if let dropoutMask {
                    let mk = dropoutMask + pOffset
                    for i in 0..<(L * L) { scratch[i] *= mk[i] }
                }
                // dScores = softmax′ (in place), then scaled.
                for r in 0..<L {
                    let y = p + r * L, g = scratch + r * L
                    var dot: Float = 0
                    for j in 0..<L { dot += g[j] * y[j] }
                    for j in 0..<L { g[j] = y[j] * (g[j] - dot) * scale }
                }
                // dQ += dS · K ; dK += dSᵀ · Q
                Gemm.multiply(m: L, n: headDim, k: L,
                              a: scratch, lda: L,
                              b: k + base * ldk + col, ldb: ldk,
                              c: dq + base * lddq + col, ldc: lddq, beta: 1)
                Gemm.multiply(m: L, n: headDim, k: L,
                              a: scratch, lda: L, transposeA: true,
                              b: q + base * ldq + col, ldb: ldq,
                              c: dk + base * lddk + col, ldc: lddk, beta: 1)
                pOffset += L * L
            }
        }
    }
}
