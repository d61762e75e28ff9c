/// Vectorised elementary functions on `SIMD8<Float>` for the row kernels.
///
/// Written with explicit fused multiply-adds (`addingProduct`) and bit-pattern
/// reinterpretation only, so that with `-target-cpu haswell` they compile to straight AVX2/FMA
/// code; `clamped()`, `rounded()` and int↔float vector conversions are avoided because they
/// scalarise.
public enum VectorMath {
    /// `exp(x)`, relative error ≤ 2 ulp on [−87.3, 88.3] (Cody–Waite reduction and the Cephes
    /// `expf` polynomial); inputs outside are clamped to that range.
    @inlinable @inline(__always)
    public static func exp(_ x: SIMD8<Float>) -> SIMD8<Float> {
        let xc = clamp(x, -87.336_544_750_401_9, 88.376_262_664_794_9)
        // n = round(x / ln 2), by adding 1.5·2²³ so that the sum's low mantissa bits hold n.
        let magic = SIMD8<Float>(repeating: 12_582_912)
        let t = magic.addingProduct(xc, SIMD8(repeating: 1.442_695_040_888_963_4))
        let n = t - magic
        var r = xc.addingProduct(n, SIMD8(repeating: -0.693_359_375))
        r = r.addingProduct(n, SIMD8(repeating: 2.121_944_400_5e-4))
        var p = SIMD8<Float>(repeating: 1.987_569_150_0e-4)
        p = SIMD8(repeating: 1.398_199_950_7e-3).addingProduct(p, r)
        p = SIMD8(repeating: 8.333_451_907_3e-3).addingProduct(p, r)
        p = SIMD8(repeating: 4.166_579_589_4e-2).addingProduct(p, r)
        p = SIMD8(repeating: 1.666_666_545_9e-1).addingProduct(p, r)
        p = SIMD8(repeating: 5.000_000_120_1e-1).addingProduct(p, r)
        let y = (r + 1).addingProduct(p, r * r)
        let nBits = unsafeBitCast(t, to: SIMD8<Int32>.self) &- 0x4B40_0000
        let scale = unsafeBitCast((nBits &+ 127) &<< 23, to: SIMD8<Float>.self)
        return y * scale
    }

    /// `erf(x)`: a rational approximation (odd degree-13 numerator over even degree-8
    /// denominator, as used by Eigen/XLA for float), absolute error below 5e-7; saturates
    /// to ±1 beyond |x| = 4.
    @inlinable @inline(__always)
    public static func erf(_ x: SIMD8<Float>) -> SIMD8<Float> {
        let xc = clamp(x, -4, 4)
        let x2 = xc * xc
        var p = SIMD8<Float>(repeating: -2.726_142_258_013_06e-10)
        p = SIMD8(repeating: 2.770_681_424_959_02e-08).addingProduct(p, x2)
        p = SIMD8(repeating: -2.101_024_020_825_08e-06).addingProduct(p, x2)
        p = SIMD8(repeating: -5.692_506_394_623_46e-05).addingProduct(p, x2)
        p = SIMD8(repeating: -7.349_906_303_268_55e-04).addingProduct(p, x2)
        p = SIMD8(repeating: -2.954_599_808_540_25e-03).addingProduct(p, x2)
        p = SIMD8(repeating: -1.609_603_332_624_15e-02).addingProduct(p, x2)
        p = p * xc
        var q = SIMD8<Float>(repeating: -1.456_607_184_649_96e-05)
        q = SIMD8(repeating: -2.133_740_552_789_05e-04).addingProduct(q, x2)
        q = SIMD8(repeating: -1.682_826_974_382_03e-03).addingProduct(q, x2)
        q = SIMD8(repeating: -7.373_329_167_204_68e-03).addingProduct(q, x2)
        q = SIMD8(repeating: -1.426_473_905_141_89e-02).addingProduct(q, x2)
        return p / q
    }

    /// `min(max(x, low), high)` lane by lane, as compare-and-blend (the generic
    /// `pointwiseMin`/`pointwiseMax` are not inlined and showed up in profiles).
    @inlinable @inline(__always)
    public static func clamp(_ x: SIMD8<Float>, _ low: Float, _ high: Float) -> SIMD8<Float> {
        var r = x
        r.replace(with: high, where: x .> high)
        r.replace(with: low, where: r .< low)
        return r
    }

    /// Lane-wise maximum as compare-and-blend.
    @inlinable @inline(__always)
    public static func maximum(_ a: SIMD8<Float>, _ b: SIMD8<Float>) -> SIMD8<Float> {
        a.replacing(with: b, where: b .> a)
    }
}
