// A whole encoder with int8 Linears against the same encoder in fp32, on every body kind.
import Foundation
import Encoders
import Tensors
import TestSupport
import XCTest

final class Int8ModelTests: XCTestCase {
    func testInt8LogitsStayCloseToFP32() throws {
        for fixture in ["tiny-bert", "tiny-roberta", "tiny-electra", "tiny-distilbert", "tiny-modernbert"] {
            let fp32 = try EncoderModel.load(directory: TestPaths.fixture("encoders/\(fixture)"), labelCount: 3)
            let int8 = try EncoderModel.load(directory: TestPaths.fixture("encoders/\(fixture)"), labelCount: 3)
            int8.quantizeLinears()
            XCTAssertTrue(int8.isQuantized)
            var rng = RandomGenerator(seed: 4)
            let sequences = (0..<10).map { i in (0..<(3 + i * 2)).map { _ in Int32(5 + rng.next() % UInt64(fp32.config.vocabularySize - 5)) } }
            let batch = EncoderBatch(sequences: sequences)
            let a = try fp32.predict(batch), b = try int8.predict(batch)
            let hiddenA = try fp32.hiddenStates(batch), hiddenB = try int8.hiddenStates(batch)
            // Bounds: the last hidden states within 3 % in L2, the logits within 5 % of their range.
            let relative = Approx.relativeL2(hiddenB, hiddenA)
            XCTAssertLessThan(relative, 0.03, "\(fixture): hidden states, relative L2 \(relative)")
            let range = a.map(abs).max()!, worst = Approx.maxAbsDiff(a, b)
            XCTAssertLessThan(worst, 0.05 * range, "\(fixture): logits differ by \(worst) of a range of \(range)")
            XCTAssertGreaterThan(worst, 0, "\(fixture): the int8 path ran")
            XCTAssertThrowsError(try int8.forwardBackward(batch, labels: .classes([Int32](repeating: 0, count: 10)), rng: &rng),
                                 "\(fixture): training an int8 model is refused")
        }
    }
}
