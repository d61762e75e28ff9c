// Rotary position embeddings (RoPE) on packed query and key rows, forward and backward, as transformers applies them.
import Foundation

/// Cosines and sines of RoPE's angles for positions `0 ..< positions`: `(positions, D/2)`
/// each, angle `p · θ^(−2i/D)` computed in float32 as transformers does (`inv_freq` and the
/// product in float32, so a float64 PyTorch run sees the same angles).
public struct RotaryTable: Sendable {
    /// Half the head width `D/2`: dimension `i` rotates with `i + D/2` ("rotate_half").
    public let halfDim: Int
    /// Rows of the table.
    public let positions: Int
    /// `θ`.
    public let theta: Double
    let cos: [Float]
    let sin: [Float]

    /// The table for heads of `headDim` (even) and base `theta`.
    public init(theta: Double, headDim: Int, positions: Int) {
        precondition(headDim % 2 == 0 && headDim > 0, "RotaryTable: head width \(headDim) must be even")
        let half = headDim / 2
        self.halfDim = half
        self.positions = positions
        self.theta = theta
        var c = [Float](repeating: 0, count: positions * half), s = c
        let base = Float(theta)
        for i in 0..<half {
            let inverseFrequency = 1 / powf(base, Float(2 * i) / Float(headDim))
            for p in 0..<positions {
                let angle = Float(p) * inverseFrequency
                c[p * half + i] = Float(Foundation.cos(Double(angle)))
                s[p * half + i] = Float(Foundation.sin(Double(angle)))
            }
        }
        cos = c
        sin = s
    }
}

/// Rotates each head of packed `(T, ·)` rows by its token's position within its sequence.
///
/// For a head's columns `x[0 ..< D]` at position `p`, with `c = cos`, `s = sin` of angle
/// `(p, i)`: `x′[i] = x[i]·c − x[i+D/2]·s`, `x′[i+D/2] = x[i+D/2]·c + x[i]·s`
/// (transformers' `x·cos + rotate_half(x)·sin`). The backward pass is the inverse rotation
/// (the transpose), applied to the gradient.
public enum Rotary {
    /// In place over `heads` heads starting at column 0 of rows with stride `ld`; `inverse`
    /// rotates by the negative angle (the backward pass).
    public static func apply(_ x: UnsafeMutablePointer<Float>, ld: Int, sequences: PackedSequences, heads: Int, headDim: Int,
                             table: RotaryTable, inverse: Bool = false) {
        let half = headDim / 2
        precondition(table.halfDim == half, "Rotary.apply: table for head width \(2 * table.halfDim), not \(headDim)")
        precondition(sequences.maxLength <= table.positions, "Rotary.apply: table has \(table.positions) positions, sequence needs \(sequences.maxLength)")
        let sign: Float = inverse ? -1 : 1
        table.cos.withUnsafeBufferPointer { cosBuffer in
            table.sin.withUnsafeBufferPointer { sinBuffer in
                let cosTable = cosBuffer.baseAddress!, sinTable = sinBuffer.baseAddress!
                for s in 0..<sequences.count {
                    let base = sequences.offsets[s]
                    for p in 0..<sequences.length(s) {
                        let row = x + (base + p) * ld, c = cosTable + p * half, sn = sinTable + p * half
                        for h in 0..<heads {
                            let lo = row + h * headDim, hi = lo + half
                            for i in 0..<half {
                                let a = lo[i], b = hi[i], si = sign * sn[i]
                                lo[i] = a * c[i] - b * si
                                hi[i] = b * c[i] + a * si
                            }
                        }
                    }
                }
            }
        }
    }
}
