/// Inverted dropout: kept elements are scaled by `1/(1 − p)` so evaluation needs no scaling.
///
/// The mask holds the multipliers (0 or `1/(1−p)`) drawn from a seeded generator, and the
/// backward pass reuses it.
public enum Dropout {
    /// Draws `count` multipliers into `mask`.
    public static func makeMask(_ mask: UnsafeMutablePointer<Float>, count: Int, probability p: Float, rng: inout RandomGenerator) {
        precondition(p >= 0 && p < 1, "Dropout: probability \(p) outside [0, 1)")
        let keep = 1 / (1 - p)
        // Two 24-bit uniforms from each 64-bit draw: u < p ⇔ bits < p·2²⁴.
        let threshold = UInt64(p * 16_777_216)
        var i = 0
        while i + 2 <= count {
            let r = rng.next()
            mask[i] = (r >> 40) < threshold ? 0 : keep
            mask[i + 1] = ((r >> 8) & 0xFF_FFFF) < threshold ? 0 : keep
            i += 2
        }
        if i < count { mask[i] = (rng.next() >> 40) < threshold ? 0 : keep }
    }

    /// `out[i] = input[i] · mask[i]`; `out` may alias `input`.
    public static func forward(out: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>, mask: UnsafePointer<Float>, count: Int) {
        for i in 0..<count { out[i] = input[i] * mask[i] }
    }

    /// `dInput[i] += dOut[i] · mask[i]`.
    public static func backward(dInput: UnsafeMutablePointer<Float>, dOut: UnsafePointer<Float>, mask: UnsafePointer<Float>, count: Int) {
        for i in 0..<count { dInput[i] += dOut[i] * mask[i] }
    }
}
