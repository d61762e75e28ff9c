import Dispatch

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
    /// The longest sequence's length (1 for an empty batch).
    public var maxLength: Int {
        var longest = 1
        for s in 0..<count { longest = max(longest, length(s)) }
        return longest
    }

    /// Copies each sequence's first row of a `(T_total, cols)` matrix into row `s` of the
    /// `(count, cols)` matrix `rows`.
    @inlinable public func gatherFirstRows<Element>(of matrix: UnsafePointer<Element>, cols: Int,
                                                    into rows: UnsafeMutablePointer<Element>) {
        for s in 0..<count { (rows + s * cols).update(from: matrix + offsets[s] * cols, count: cols) }
    }

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
///
/// The (sequence, head) pairs are independent, so they are split across `Threads.count`
/// workers by cost (`L²`), each running single-threaded BLAS on its own pairs: one small GEMM
/// per pair on all cores would spend more time waking threads than multiplying.
public enum Attention {
    /// Floats of scratch `forward` and `backward` need: two `L_max²` blocks per worker.
    public static func scratchFloats(_ sequences: PackedSequences) -> Int {
        2 * maxSquare(sequences) * max(Threads.count, 1)
    }

    /// `L_max²`, one block of a worker's scratch.
    static func maxSquare(_ sequences: PackedSequences) -> Int { sequences.maxLength * sequences.maxLength }

    /// Forward: `probs = softmax(scale · Q Kᵀ)`, `out = dropout(probs) · V`.
    ///
    /// With a `window` `w`, query `i` attends only to keys `j` with `|i − j| ≤ w` (ModernBERT's
    /// local attention, `w = local_attention / 2`): the softmax runs over that band and
    /// `probs` is exactly 0 outside it, so `backward` needs no window of its own.
    ///
    /// - Parameters:
    ///   - dropoutMask: when non-nil, an `attentionFloats`-sized byte mask (see
    ///     `Dropout.makeMask`) applied with probability `dropoutProbability` to `probs`;
    ///     `probs` keeps the undropped values, the backward pass recomputes the dropped ones.
    ///   - scratch: `scratchFloats(sequences)` floats.
    public static func forward(
        out: UnsafeMutablePointer<Float>, ldOut: Int,
        probs: UnsafeMutablePointer<Float>,
        q: UnsafePointer<Float>, ldq: Int, k: UnsafePointer<Float>, ldk: Int, v: UnsafePointer<Float>, ldv: Int,
        sequences: PackedSequences, heads: Int, headDim: Int, scale: Float,
        dropoutMask: UnsafePointer<UInt8>? = nil, dropoutProbability: Float = 0,
        window: Int? = nil,
        scratch: UnsafeMutablePointer<Float>
    ) {
        let maxSquare = maxSquare(sequences)
        let keep = Dropout.keepScale(dropoutProbability)
        nonisolated(unsafe) let (out, probs, q, k, v, dropoutMask, scratch) = (out, probs, q, k, v, dropoutMask, scratch)
        forEachPair(sequences, heads: heads) { worker, base, L, h, pOffset in
            let p = probs + pOffset
            let col = h * headDim
            Gemm.multiply(m: L, n: L, k: headDim,
                          a: q + base * ldq + col, lda: ldq,
                          b: k + base * ldk + col, ldb: ldk, transposeB: true,
                          c: p, ldc: L, alpha: scale)
            if let window, window < L - 1 {
                for i in 0..<L {
                    let row = p + i * L, lo = max(0, i - window), hi = min(L - 1, i + window)
                    if lo > 0 { row.update(repeating: 0, count: lo) }
                    if hi < L - 1 { (row + hi + 1).update(repeating: 0, count: L - 1 - hi) }
                    Softmax.forward(out: row + lo, input: row + lo, rows: 1, cols: hi - lo + 1)
                }
            } else {
                Softmax.forward(out: p, input: p, rows: L, cols: L)
            }
            var used = UnsafePointer(p)
            if let dropoutMask {
                let d = scratch + worker * 2 * maxSquare, mk = dropoutMask + pOffset
                Dropout.scale(out: d, input: p, mask: mk, count: L * L, keep: keep)
                used = UnsafePointer(d)
            }
            Gemm.multiply(m: L, n: headDim, k: L,
                          a: used, lda: L,
                          b: v + base * ldv + col, ldb: ldv,
                          c: out + base * ldOut + col, ldc: ldOut)
        }
    }

    /// Forward for one query per sequence: `out[s] = dropout(softmax(scale · q[s] · K_sᵀ)) · V_s`,
    /// the first row of `forward`'s output for each sequence.
    ///
    /// An encoder whose head reads only each sequence's first token needs nothing else from
    /// its last layer's attention. `q` and `out` are `(B, C)`, one row per sequence; `k` and `v`
    /// are `(T_total, C)`. For sequence `s` and head `h`, `probs` (when given; `heads · T_total`
    /// floats) holds the `L` softmax weights at `heads · offsets[s] + h · L`, undropped, and
    /// `dropoutMask` has the same layout (see `firstQueryMask`). `scratch` holds `L_max` floats.
    public static func forwardFirstQuery(
        out: UnsafeMutablePointer<Float>, ldOut: Int, probs: UnsafeMutablePointer<Float>?,
        q: UnsafePointer<Float>, ldq: Int, k: UnsafePointer<Float>, ldk: Int, v: UnsafePointer<Float>, ldv: Int,
        sequences: PackedSequences, heads: Int, headDim: Int, scale: Float,
        dropoutMask: UnsafePointer<UInt8>? = nil, dropoutProbability: Float = 0,
        scratch: UnsafeMutablePointer<Float>
    ) {
        let keep = Dropout.keepScale(dropoutProbability)
        for s in 0..<sequences.count {
            let base = sequences.offsets[s], L = sequences.length(s)
            for h in 0..<heads {
                let col = h * headDim, pOffset = heads * base + h * L
                let query = q + s * ldq + col, o = out + s * ldOut + col
                let p = probs.map { $0 + pOffset } ?? scratch
                for j in 0..<L { p[j] = scale * Rows.dot(query, k + (base + j) * ldk + col, headDim) }
                Softmax.forward(out: p, input: p, rows: 1, cols: L)
                var used = UnsafePointer(p)
                if let dropoutMask {
                    Dropout.scale(out: scratch, input: p, mask: dropoutMask + pOffset, count: L, keep: keep)
                    used = UnsafePointer(scratch)
                }
                o.update(repeating: 0, count: headDim)
                for j in 0..<L { Rows.addScaled(o, used[j], v + (base + j) * ldv + col, headDim) }
            }
        }
    }

    /// Backward of `forwardFirstQuery`: overwrites `dq` `(B, C)` and `dk`, `dv`
    /// `(T_total, C)` (every row of `dk` and `dv` gets exactly one write per head).
    /// `scratch` holds `2 · L_max` floats.
    public static func backwardFirstQuery(
        dq: UnsafeMutablePointer<Float>, lddq: Int, dk: UnsafeMutablePointer<Float>, lddk: Int,
        dv: UnsafeMutablePointer<Float>, lddv: Int,
        dOut: UnsafePointer<Float>, ldDOut: Int, probs: UnsafePointer<Float>,
        q: UnsafePointer<Float>, ldq: Int, k: UnsafePointer<Float>, ldk: Int, v: UnsafePointer<Float>, ldv: Int,
        sequences: PackedSequences, heads: Int, headDim: Int, scale: Float,
        dropoutMask: UnsafePointer<UInt8>? = nil, dropoutProbability: Float = 0,
        scratch: UnsafeMutablePointer<Float>
    ) {
        let keep = Dropout.keepScale(dropoutProbability)
        let used = scratch, grad = scratch + sequences.maxLength
        for s in 0..<sequences.count {
            let base = sequences.offsets[s], L = sequences.length(s)
            for h in 0..<heads {
                let col = h * headDim, pOffset = heads * base + h * L
                let p = probs + pOffset, g = dOut + s * ldDOut + col
                if let dropoutMask {
                    Dropout.scale(out: used, input: p, mask: dropoutMask + pOffset, count: L, keep: keep)
                } else {
                    used.update(from: p, count: L)
                }
                // dV_j = used_j · dOut ; dUsed_j = dOut · V_j (through the dropout mask)
                for j in 0..<L {
                    let dvRow = dv + (base + j) * lddv + col
                    for d in 0..<headDim { dvRow[d] = used[j] * g[d] }
                    grad[j] = Rows.dot(g, v + (base + j) * ldv + col, headDim)
                }
                if let dropoutMask { Dropout.scale(out: grad, input: grad, mask: dropoutMask + pOffset, count: L, keep: keep) }
                Softmax.backwardInPlace(grad, output: p, rows: 1, cols: L, scale: scale)
                // dq = Σ_j dS_j · K_j ; dK_j = dS_j · q
                let dqRow = dq + s * lddq + col, query = q + s * ldq + col
                dqRow.update(repeating: 0, count: headDim)
                for j in 0..<L {
                    Rows.addScaled(dqRow, grad[j], k + (base + j) * ldk + col, headDim)
                    let dkRow = dk + (base + j) * lddk + col
                    for d in 0..<headDim { dkRow[d] = grad[j] * query[d] }
                }
            }
        }
    }

    /// Copies the first query row of every (sequence, head) block of a full attention mask
    /// (`forward`'s layout) into the compact layout of `forwardFirstQuery`.
    public static func firstQueryMask(_ compact: UnsafeMutablePointer<UInt8>, from full: UnsafePointer<UInt8>,
                                      sequences: PackedSequences, heads: Int) {
        var fullOffset = 0
        for s in 0..<sequences.count {
            let L = sequences.length(s), base = sequences.offsets[s]
            for h in 0..<heads {
                (compact + heads * base + h * L).update(from: full + fullOffset, count: L)
                fullOffset += L * L
            }
        }
    }

    /// Backward: accumulates `dq`, `dk`, `dv` (each `(T_total, C)` with its row stride), or
    /// overwrites them when `accumulate` is false.
    ///
    /// `scratch` needs `scratchFloats(sequences)` floats.
    public static func backward(
        dq: UnsafeMutablePointer<Float>, lddq: Int, dk: UnsafeMutablePointer<Float>, lddk: Int,
        dv: UnsafeMutablePointer<Float>, lddv: Int,
        dOut: UnsafePointer<Float>, ldDOut: Int, probs: UnsafePointer<Float>,
        q: UnsafePointer<Float>, ldq: Int, k: UnsafePointer<Float>, ldk: Int, v: UnsafePointer<Float>, ldv: Int,
        sequences: PackedSequences, heads: Int, headDim: Int, scale: Float,
        scratch: UnsafeMutablePointer<Float>,
        dropoutMask: UnsafePointer<UInt8>? = nil, dropoutProbability: Float = 0, accumulate: Bool = true
    ) {
        // Each pair writes its own block of dq, dk and dv exactly once, so `accumulate: false`
        // overwrites them (no zeroing pass).
        let beta: Float = accumulate ? 1 : 0
        let maxSquare = maxSquare(sequences)
        let keep = Dropout.keepScale(dropoutProbability)
        nonisolated(unsafe) let (dq, dk, dv, dOut, probs, q, k, v, scratch, dropoutMask) =
            (dq, dk, dv, dOut, probs, q, k, v, scratch, dropoutMask)
        forEachPair(sequences, heads: heads) { worker, base, L, h, pOffset in
            let p = probs + pOffset
            let col = h * headDim
            let dropped = scratch + worker * 2 * maxSquare, grad = dropped + maxSquare
            var used = p
            if let dropoutMask {
                let mk = dropoutMask + pOffset
                Dropout.scale(out: dropped, input: p, mask: mk, count: L * L, keep: keep)
                used = UnsafePointer(dropped)
            }
            // dV += usedᵀ · dOut
            Gemm.multiply(m: L, n: headDim, k: L,
                          a: used, lda: L, transposeA: true,
                          b: dOut + base * ldDOut + col, ldb: ldDOut,
                          c: dv + base * lddv + col, ldc: lddv, beta: beta)
            // dUsed = dOut · Vᵀ
            Gemm.multiply(m: L, n: L, k: headDim,
                          a: dOut + base * ldDOut + col, lda: ldDOut,
                          b: v + base * ldv + col, ldb: ldv, transposeB: true,
                          c: grad, ldc: L)
            if let dropoutMask {
                Dropout.scale(out: grad, input: grad, mask: dropoutMask + pOffset, count: L * L, keep: keep)
            }
            // dScores = softmax′ (in place), then scaled.
            Softmax.backwardInPlace(grad, output: p, rows: L, cols: L, scale: scale)
            // dQ += dS · K ; dK += dSᵀ · Q
            Gemm.multiply(m: L, n: headDim, k: L,
                          a: grad, lda: L,
                          b: k + base * ldk + col, ldb: ldk,
                          c: dq + base * lddq + col, ldc: lddq, beta: beta)
            Gemm.multiply(m: L, n: headDim, k: L,
                          a: grad, lda: L, transposeA: true,
                          b: q + base * ldq + col, ldb: ldq,
                          c: dk + base * lddk + col, ldc: lddk, beta: beta)
        }
    }

    /// Runs `body(worker, firstRow, length, head, probsOffset)` for every (sequence, head)
    /// pair, split across workers into contiguous runs of about equal `L²` cost, with BLAS
    /// single-threaded inside. Pairs write disjoint blocks, so workers never overlap.
    static func forEachPair(_ sequences: PackedSequences, heads: Int,
                            _ body: @Sendable (_ worker: Int, _ base: Int, _ length: Int, _ head: Int, _ probsOffset: Int) -> Void) {
        let pairs = sequences.count * heads
        let total = sequences.attentionFloats(heads: heads)
        let workers = min(Threads.count, pairs, max(1, total / 4096))
        @Sendable func run(_ worker: Int, _ first: Int, _ last: Int, _ startOffset: Int) {
            var offset = startOffset
            for pair in first..<last {
                let s = pair / heads, L = sequences.length(s)
                body(worker, sequences.offsets[s], L, pair % heads, offset)
                offset += L * L
            }
        }
        // The per-pair GEMMs count as attention time, not GEMM time: with two workers, summing
        // their GEMM intervals would count the same wall time twice.
        let profiling = Gemm.profiling
        Gemm.profiling = false
        defer { Gemm.profiling = profiling }
        if workers <= 1 {
            run(0, 0, pairs, 0)
            return
        }
        // Cut the pair list where the running cost crosses each worker's share.
        var bounds = [0], offsets = [0]
        var running = 0
        for pair in 0..<pairs {
            let L = sequences.length(pair / heads)
            running += L * L
            if bounds.count < workers && running * workers >= total * bounds.count {
                bounds.append(pair + 1)
                offsets.append(running)
            }
        }
        bounds.append(pairs)
        let cuts = bounds, starts = offsets
        Threads.withSingleThreadedBLAS {
            DispatchQueue.concurrentPerform(iterations: cuts.count - 1) { w in
                if cuts[w] < cuts[w + 1] { run(w, cuts[w], cuts[w + 1], starts[w]) }
            }
        }
    }
}
