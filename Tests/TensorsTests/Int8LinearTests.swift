// The int8 kernels against plain integer loops (exact), and the quantised Linear against its definition.
import Foundation
import Tensors
import XCTest

final class Int8LinearTests: XCTestCase {
    func randomInt8(_ count: Int, rng: inout RandomGenerator) -> [Int8] {
        (0..<count).map { _ in Int8(Int(rng.next() % 255) - 127) }
    }

    func testInt8ProductsAreExact() {
        var rng = RandomGenerator(seed: 5)
        print("int8 kernel of this processor: \(Int8Gemm.kernel) (2 AVX512-VNNI, 1 AVX-VNNI, 0 the plain loop)")
        // Odd sizes (rows past a tile, columns past a panel, K not a multiple of 4), and MiniLM's shapes.
        for (m, n, k) in [(1, 1, 1), (3, 5, 7), (9, 49, 13), (17, 33, 65), (8, 384, 384), (25, 64, 1536), (130, 97, 386)] {
            let x = randomInt8(m * k, rng: &rng), w = randomInt8(n * k, rng: &rng)
            var want = [Int32](repeating: 0, count: m * n)
            for i in 0..<m { for j in 0..<n { want[i * n + j] = (0..<k).reduce(Int32(0)) { $0 + Int32(x[i * k + $1]) * Int32(w[j * k + $1]) } } }
            var got = [Int32](repeating: -1, count: m * n)
            Int8Gemm.reference(m: m, n: n, k: k, x: x, w: w, out: &got)
            XCTAssertEqual(got, want, "reference \(m)x\(n)x\(k)")
            // Every kernel this processor has: the plain loop, AVX-VNNI, AVX512-VNNI.
            for isa in 0...Int8Gemm.kernel {
                got = [Int32](repeating: -1, count: m * n)
                Int8Gemm.multiply(m: m, n: n, k: k, x: x, w: w, out: &got, isa: isa)
                XCTAssertEqual(got, want, "kernel \(isa): \(m)x\(n)x\(k)")
                let extremes = [Int8](repeating: -127, count: m * k), top = [Int8](repeating: 127, count: n * k)
                Int8Gemm.multiply(m: m, n: n, k: k, x: extremes, w: top, out: &got, isa: isa)
                XCTAssertEqual(got, [Int32](repeating: Int32(-127 * 127 * k), count: m * n), "kernel \(isa): \(m)x\(n)x\(k) at ±127")
            }
        }
    }

    func testRowQuantisation() {
        let x: [Float] = [0.5, -2.54, 1.27, 0, 2.54]
        var q = [Int8](repeating: 0, count: x.count)
        let s = Int8Quantization.quantizeRow(x, count: x.count, into: &q)
        XCTAssertEqual(s, 2.54 / 127, accuracy: 1e-9)
        XCTAssertEqual(q, [25, -127, 64, 0, 127])   // 0.5/0.02 = 25; 1.27/0.02 = 63.5 rounds to the even 64
        var zeros = [Int8](repeating: 9, count: 3)
        XCTAssertEqual(Int8Quantization.quantizeRow([0, 0, 0], count: 3, into: &zeros), 1)
        XCTAssertEqual(zeros, [0, 0, 0])
    }

    func testQuantisedLinearIsItsDefinitionAndCloseToFP32() {
        var rng = RandomGenerator(seed: 9)
        let rows = 6, k = 96, n = 40
        var w = [Float](repeating: 0, count: n * k), x = [Float](repeating: 0, count: rows * k), b = [Float](repeating: 0, count: n)
        rng.fillNormal(&w, count: w.count, std: 0.05)
        rng.fillNormal(&x, count: x.count, std: 1)
        for i in stride(from: 0, to: x.count, by: 5) { x[i] = abs(x[i]) * 3 }   // skewed rows: a zero point away from 128
        rng.fillNormal(&b, count: n, std: 0.1)
        let weight = QuantizedWeight(quantizing: w, rows: n, cols: k)
        var out = [Float](repeating: 0, count: rows * n)
        let scratch = UnsafeMutableRawPointer.allocate(byteCount: Int8Linear.scratchBytes(rows: rows, weight: weight), alignment: 64)
        defer { scratch.deallocate() }
        Int8Linear.forward(out: &out, input: x, weight: weight, bias: b, rows: rows, scratch: scratch)
        // The definition: each row to u8 with its scale and zero point, then s_t · s_o · Σ (q − z) · w + bias.
        var fp32 = [Float](repeating: 0, count: rows * n)
        for t in 0..<rows {
            let row = Array(x[(t * k)..<((t + 1) * k)])
            let lo = min(0, row.min()!), hi = max(0, row.max()!)
            let st: Float = hi > lo ? (hi - lo) / 255 : 1, inverse = 1 / st
            let z = Int32(max(0, min(255, (-lo * inverse).rounded(.toNearestOrEven))))
            let q = row.map { Int32(max(0, min(255, Int32(($0 * inverse).rounded(.toNearestOrEven)) + z))) }
            for o in 0..<n {
                var acc: Int32 = 0
                for i in 0..<k { acc += (q[i] - z) * Int32(weight.values[o * k + i]) }
                XCTAssertEqual(out[t * n + o], Float(acc) * (st * weight.scales[o]) + b[o], "row \(t) column \(o)")
                fp32[t * n + o] = (0..<k).reduce(b[o]) { $0 + x[t * k + $1] * w[o * k + $1] }
            }
        }
        // Against fp32: each product carries at most half a step of error per operand.
        let worst = zip(out, fp32).map { abs($0 - $1) }.max()!, range = fp32.map(abs).max()!
        XCTAssertLessThan(worst, 0.02 * range, "int8 against fp32: \(worst) of a range of \(range)")
    }
}
