import XCTest
import Foundation
import Tensors

final class VectorMathTests: XCTestCase {
    func testExpRelativeError() {
        var worst = 0.0
        var x: Float = -87
        while x < 88 {
            let v = SIMD8<Float>((0..<8).map { x + Float($0) * 0.0137 })
            let y = VectorMath.exp(v)
            for i in 0..<8 {
                let ref = Foundation.exp(Double(v[i]))
                worst = max(worst, abs(Double(y[i]) - ref) / ref)
            }
            x += 0.0937
        }
        XCTAssertLessThan(worst, 3e-7, "exp relative error \(worst)")
        // Clamping: very negative inputs give a tiny positive number, not NaN or a negative one.
        let tiny = VectorMath.exp(SIMD8(repeating: -1000))
        XCTAssertTrue(tiny[0] >= 0 && tiny[0] < 1e-37)
    }

    func testErfAbsoluteError() {
        var worst = 0.0
        var x: Float = -6
        while x < 6 {
            let v = SIMD8<Float>((0..<8).map { x + Float($0) * 0.0011 })
            let y = VectorMath.erf(v)
            for i in 0..<8 { worst = max(worst, abs(Double(y[i]) - Foundation.erf(Double(v[i])))) }
            x += 0.0091
        }
        XCTAssertLessThan(worst, 5e-7, "erf absolute error \(worst)")
    }
}
