/// Inverted dropout: kept elements are scaled by `1/(1 − p)` so evaluation needs no scaling.
///
/// The mask is one byte per element (1 kept, 0 dropped), drawn from a seeded generator; the
/// backward pass reuses it. Bytes rather than floats: a training step keeps a mask for every
/// dropout site of every layer, and at a quarter of the size they stop dominating memory.
public enum Dropout {
    /// The multiplier applied to kept elements, `1/(1 − p)`.
    @inlinable public static func keepScale(_ p: Float) -> Float { 1 / (1 - p) }

    /// Draws `count` keep flags into `mask`: 0 with probability `p`, else 1.
    public static func makeMask(_ mask: UnsafeMutablePointer<UInt8>, count: Int, probability p: Float, rng: inout RandomGenerator) {
        precondition(p >= 0 && p < 1, "Dropout: probability \(p) outside [0, 1)")
        // Two 24-bit uniforms from each 64-bit draw: u < p ⇔ bits < p·2²⁴.
        let threshold = UInt64(p * 16_777_216)
        var i = 0
        while i + 2 <= count {
            let r = rng.next()
            mask[i] = (r >> 40) < threshold ? 0 : 1
            mask[i + 1] = ((r >> 8) & 0xFF_FFFF) < threshold ? 0 : 1
            i += 2
        }
        if i < count { mask[i] = (rng.next() >> 40) < threshold ? 0 : 1 }
    }

    /// `out[i] = input[i] · mask[i] · keep` on the calling thread (`keep` = `keepScale(p)`);
    /// `out` may alias `input`. The loop behind `forward`, the overwriting `backward` and the
    /// kernels that fuse dropout into a pass of their own.
    @inlinable @inline(__always)
    public static func scale(out: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>, mask: UnsafePointer<UInt8>,
                             count: Int, keep: Float) {
        for i in 0..<count { out[i] = input[i] * (Float(mask[i]) * keep) }
    }

    /// `out[i] = input[i] · mask[i] / (1 − p)`; `out` may alias `input`.
    public static func forward(out: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>, mask: UnsafePointer<UInt8>,
                               count: Int, probability p: Float) {
        let keep = keepScale(p)
        nonisolated(unsafe) let (out, input, mask) = (out, input, mask)
        Threads.parallelFor(count, minimumChunk: 65_536) { start, end in
            scale(out: out + start, input: input + start, mask: mask + start, count: end - start, keep: keep)
        }
    }

    /// `dInput[i] (+)= dOut[i] · mask[i] / (1 − p)`: accumulates unless `accumulate` is false;
    /// `dInput` may alias `dOut` when overwriting.
    public static func backward(dInput: UnsafeMutablePointer<Float>, dOut: UnsafePointer<Float>, mask: UnsafePointer<UInt8>,
                                count: Int, probability p: Float, accumulate: Bool = true) {
        let keep = keepScale(p)
        nonisolated(unsafe) let (dInput, dOut, mask) = (dInput, dOut, mask)
        Threads.parallelFor(count, minimumChunk: 65_536) { start, end in
            if accumulate {
                for i in start..<end { dInput[i] += dOut[i] * (Float(mask[i]) * keep) }
            } else {
                scale(out: dInput + start, input: dOut + start, mask: mask + start, count: end - start, keep: keep)
            }
        }
    }
}
