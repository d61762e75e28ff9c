// Tests of the growable parameter slab: alignment, zero fill, and contents kept across growth.
import XCTest
import Tensors

final class SlabTests: XCTestCase {
    func testReservationsAreAlignedDisjointAndZero() {
        let slab = Slab()
        let a = slab.reserve(3), b = slab.reserve(17), c = slab.reserve(0), d = slab.reserve(5)
        XCTAssertEqual(a, 0)
        XCTAssertEqual(b, 16, "each piece starts at a 64-byte boundary")
        XCTAssertEqual(c, 48)
        XCTAssertEqual(d, 48)
        XCTAssertEqual(slab.used, 53)
        XCTAssertEqual(Int(bitPattern: slab.base) % 4096, 0, "the mapping is page-aligned")
        XCTAssertEqual(slab.view(at: b, count: 17).toArray(), [Float](repeating: 0, count: 17))
    }

    func testGrowingKeepsContentsAndMayMoveTheBase() {
        let slab = Slab(capacity: 16)
        let first = slab.reserve(16)
        let view = slab.view(at: first, count: 16)
        for i in 0..<16 { view[i] = Float(i) + 0.5 }
        // Far beyond the first mapping: mremap must keep the values (whether or not it moves).
        let big = slab.reserve(5_000_000)
        XCTAssertGreaterThanOrEqual(slab.capacity, 5_000_016)
        XCTAssertEqual(slab.view(at: first, count: 16).toArray(), (0..<16).map { Float($0) + 0.5 })
        let tail = slab.view(at: big, count: 5_000_000)
        XCTAssertEqual(tail[0], 0)
        XCTAssertEqual(tail[4_999_999], 0)
        tail[4_999_999] = 7
        XCTAssertEqual(slab.view(at: big, count: 5_000_000)[4_999_999], 7)
        slab.zeroUsed()
        XCTAssertEqual(slab.view(at: first, count: 16).toArray(), [Float](repeating: 0, count: 16))
    }
}
