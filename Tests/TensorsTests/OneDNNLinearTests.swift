// oneDNN's product behind Linear.forward against OpenBLAS's, and the backend switch.
import Tensors
import TestSupport
import XCTest

final class OneDNNLinearTests: XCTestCase {
    override func tearDown() { Linear.useBackend(.openBLAS) }

    /// Both weight layouts, with and without bias, from one row to a batch's: oneDNN's output
    /// is OpenBLAS's within 1e-5 relative (L2), and each row within 1e-4 of its largest value.
    func testOneDNNLinearForwardMatchesOpenBLAS() throws {
        if let why = OneDNN.load() {
            XCTFail("\(why): scripts/setup.sh installs Debian's libdnnl2")
            return
        }
        var rng = RandomGenerator(seed: 9)
        for (rows, inF, outF) in [(1, 768, 768), (7, 64, 3), (128, 768, 3072), (200, 3072, 768)] {
            for transposed in [false, true] {
                for withBias in [false, true] {
                    var x = [Float](repeating: 0, count: rows * inF), w = [Float](repeating: 0, count: inF * outF)
                    var bias = [Float](repeating: 0, count: outF)
                    rng.fillUniform(&x, count: x.count, low: -1, high: 1)
                    rng.fillUniform(&w, count: w.count, low: -0.1, high: 0.1)
                    rng.fillUniform(&bias, count: bias.count, low: -1, high: 1)
                    func forward(_ backend: LinearBackend) -> [Float] {
                        XCTAssertNil(Linear.useBackend(backend))
                        var out = [Float](repeating: .nan, count: rows * outF)
                        bias.withUnsafeBufferPointer { b in
                            Linear.forward(out: &out, input: x, weight: w, bias: withBias ? b.baseAddress : nil, rows: rows,
                                           inFeatures: inF, outFeatures: outF, weightTransposed: transposed)
                        }
                        return out
                    }
                    let reference = forward(.openBLAS), candidate = forward(.oneDNN)
                    XCTAssertEqual(Linear.backend, .oneDNN)
                    let label = "\(rows)×\(inF)→\(outF) transposed \(transposed) bias \(withBias)"
                    XCTAssertLessThanOrEqual(Approx.relativeL2(candidate, reference), 1e-5, label)
                    XCTAssertLessThanOrEqual(Approx.maxAbsDiff(candidate, reference), 1e-4 * (reference.map(abs).max() ?? 1), label)
                    // Another library ran: its sums are rounded differently somewhere in a large product.
                    if rows * inF * outF >= 1 << 24 { XCTAssertNotEqual(candidate, reference, "\(label): oneDNN did not run") }
                }
            }
        }
    }
}
