import Foundation

/// A seeded pseudo-random generator (xoshiro256**, seeded through SplitMix64).
///
/// Value type: copying it forks the stream, and its `state` can be saved in a checkpoint
/// so that a resumed run draws the same numbers as an uninterrupted one.
public struct RandomGenerator: RandomNumberGenerator, Sendable, Codable, Equatable {
    enum CodingKeys: String, CodingKey { case state }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let words = try c.decode([UInt64].self, forKey: .state)
        guard words.count == 4 else { throw DecodingError.dataCorruptedError(forKey: .state, in: c, debugDescription: "RandomGenerator state needs 4 words") }
        state = words
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(state, forKey: .state)
    }

    /// The four 64-bit words of xoshiro256** state.
    public var state: [UInt64] {
        get { [s0, s1, s2, s3] }
        set { (s0, s1, s2, s3) = (newValue[0], newValue[1], newValue[2], newValue[3]) }
    }
    @usableFromInline var s0: UInt64 = 0, s1: UInt64 = 0, s2: UInt64 = 0, s3: UInt64 = 0

    /// Creates a generator whose stream is fully determined by `seed`.
    public init(seed: UInt64) {
        var s = seed
        func splitMix() -> UInt64 {
            s &+= 0x9E37_79B9_7F4A_7C15
            var z = s
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        s0 = splitMix(); s1 = splitMix(); s2 = splitMix(); s3 = splitMix()
    }

    /// Next 64 random bits.
    @inlinable public mutating func next() -> UInt64 {
        let result = ((s1 &* 5) << 7 | (s1 &* 5) >> 57) &* 9
        let t = s1 << 17
        s2 ^= s0
        s3 ^= s1
        s1 ^= s2
        s0 ^= s3
        s2 ^= t
        s3 = (s3 << 45) | (s3 >> 19)
        return result
    }

    /// Uniform in [0, 1) with 24 random bits.
    @inlinable public mutating func nextUniform() -> Float {
        Float(next() >> 40) * (1.0 / 16_777_216.0)
    }

    /// Uniform in [low, high).
    @inlinable public mutating func nextUniform(low: Float, high: Float) -> Float {
        low + (high - low) * nextUniform()
    }

    /// Standard normal sample (Box–Muller, in Double).
    public mutating func nextNormal() -> Float {
        var u1 = Double(next() >> 11) * (1.0 / 9_007_199_254_740_992.0)
        if u1 < 1e-300 { u1 = 1e-300 }
        let u2 = Double(next() >> 11) * (1.0 / 9_007_199_254_740_992.0)
        return Float((-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2))
    }

    /// Fills `count` floats with normal(mean, std) samples.
    public mutating func fillNormal(_ p: UnsafeMutablePointer<Float>, count: Int, mean: Float = 0, std: Float) {
        for i in 0..<count { p[i] = mean + std * nextNormal() }
    }

    /// Fills `count` floats uniformly in [low, high).
    public mutating func fillUniform(_ p: UnsafeMutablePointer<Float>, count: Int, low: Float, high: Float) {
        for i in 0..<count { p[i] = nextUniform(low: low, high: high) }
    }
}
