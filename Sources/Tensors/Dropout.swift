/// Inverted dropout: kept elements are scaled by `1/(1 − p)` so evaluation needs no scaling.
///
/// The mask holds the multipliers (0 or `1/(1−p)`) drawn from a seeded generator, and the
/// backward pass reuses it.
public enum Dropout {
    /// Draws `count` multipliers into `mask`.
    public static func makeMask(_ mask: UnsafeMutablePointer<Float>, count: Int, probability p: Float, rng: inout RandomGenerator) {
        precondition(p >= 0 && p < 1, "Dropout: probability \(p) outside [0, 1)")
        let keep = 1 / (1 - p)
        for i in 0..<count { mask[i] = rng.nextUniform() < p ? 0 : keep }
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
