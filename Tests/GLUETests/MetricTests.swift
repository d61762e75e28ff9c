import Foundation
import XCTest
@testable import GLUE

/// Hand-checked metric values and the task-level metric report.
final class MetricTests: XCTestCase {
    func testAccuracy() throws {
        XCTAssertEqual(try Metrics.accuracy(predictions: [0, 1, 1, 0], labels: [0, 1, 0, 0]), 0.75)
        XCTAssertEqual(try Metrics.accuracy(predictions: [2], labels: [2]), 1)
        assertThrows(MetricError.empty) { try Metrics.accuracy(predictions: [], labels: []) }
        assertThrows(MetricError.lengthMismatch(predictions: 2, labels: 1)) {
            try Metrics.accuracy(predictions: [0, 1], labels: [0])
        }
    }

    func testF1() throws {
        // TP = 2, FP = 1, FN = 1: F1 = 4 / 6.
        XCTAssertEqual(try Metrics.f1(predictions: [1, 1, 1, 0, 0], labels: [1, 1, 0, 1, 0]), 4.0 / 6.0, accuracy: 1e-15)
        // No positive prediction: 0 (scikit-learn's zero_division default).
        XCTAssertEqual(try Metrics.f1(predictions: [0, 0, 0], labels: [1, 0, 1]), 0)
        // No positive anywhere: 0.
        XCTAssertEqual(try Metrics.f1(predictions: [0, 0], labels: [0, 0]), 0)
        XCTAssertEqual(try Metrics.f1(predictions: [0, 0, 1], labels: [0, 1, 1], positive: 0), 2.0 / 3.0, accuracy: 1e-15)
    }

    func testMatthews() throws {
        // TP 2, TN 1, FP 1, FN 1: (2·1 − 1·1) / √(3·3·2·2) = 1/6.
        XCTAssertEqual(try Metrics.matthews(predictions: [1, 1, 1, 0, 0], labels: [1, 1, 0, 1, 0]), 1.0 / 6.0, accuracy: 1e-15)
        XCTAssertEqual(try Metrics.matthews(predictions: [0, 1, 0, 1], labels: [0, 1, 0, 1]), 1)
        XCTAssertEqual(try Metrics.matthews(predictions: [1, 0, 1, 0], labels: [0, 1, 0, 1]), -1)
        // A constant prediction gives 0, not NaN.
        XCTAssertEqual(try Metrics.matthews(predictions: [1, 1, 1, 1], labels: [0, 1, 0, 1]), 0)
        XCTAssertEqual(try Metrics.matthews(predictions: [0, 0], labels: [0, 0]), 0)
    }

    func testPearsonAndSpearman() throws {
        XCTAssertEqual(try Metrics.pearson(predictions: [1.0, 2, 3], labels: [2.0, 4, 6]), 1, accuracy: 1e-15)
        XCTAssertEqual(try Metrics.pearson(predictions: [1.0, 2, 3], labels: [3.0, 2, 1]), -1, accuracy: 1e-15)
        XCTAssertEqual(try Metrics.spearman(predictions: [1.0, 2, 3, 4], labels: [1.0, 4, 9, 16]), 1, accuracy: 1e-15)
        // Constant input: 0 by definition (SciPy gives NaN).
        XCTAssertEqual(try Metrics.pearson(predictions: [2.0, 2, 2], labels: [1.0, 2, 3]), 0)
        XCTAssertEqual(try Metrics.spearman(predictions: [1.0, 2, 3], labels: [0.1, 0.1, 0.1]), 0)
        XCTAssertEqual(try Metrics.pearson(predictions: [Float(1), 2, 3], labels: [Float(1), 2, 4]),
                       try Metrics.pearson(predictions: [1.0, 2, 3], labels: [1.0, 2, 4]))
        assertThrows(MetricError.tooFewValues(count: 1, minimum: 2)) { try Metrics.pearson(predictions: [1.0], labels: [1.0]) }
        assertThrows(MetricError.tooFewValues(count: 0, minimum: 2)) { try Metrics.spearman(predictions: [Double](), labels: []) }
        assertThrows(MetricError.lengthMismatch(predictions: 3, labels: 2)) {
            try Metrics.pearson(predictions: [1.0, 2, 3], labels: [1.0, 2])
        }
        // NaN propagates (a diverged model), it is not clamped into range.
        XCTAssertTrue(try Metrics.pearson(predictions: [1.0, .nan, 3], labels: [1.0, 2, 3]).isNaN)
        XCTAssertTrue(try Metrics.spearman(predictions: [1.0, .nan, 3], labels: [1.0, 2, 3]).isNaN)
    }

    func testAverageRanks() {
        XCTAssertEqual(Metrics.averageRanks([10, 20, 20, 5, 20]), [2, 4, 4, 1, 4])
        XCTAssertEqual(Metrics.averageRanks([3, 3]), [1.5, 1.5])
        XCTAssertEqual(Metrics.averageRanks([]), [])
    }

    func testTaskReports() throws {
        let mrpc = try GLUETask.mrpc.evaluate(predictedClasses: [1, 1, 1, 0, 0], labels: [1, 1, 0, 1, 0])
        XCTAssertEqual(mrpc.task, "MRPC")
        XCTAssertEqual(mrpc.primary, .accuracy)
        XCTAssertEqual(mrpc.primaryValue, 0.6, accuracy: 1e-15)
        XCTAssertEqual(mrpc[.f1] ?? -1, 4.0 / 6.0, accuracy: 1e-15)
        XCTAssertNil(mrpc[.matthews])
        XCTAssertEqual(Set(mrpc.dictionary.keys), ["accuracy", "f1"])

        let cola = try GLUETask.cola.evaluate(predictions: [.classIndex(1), .classIndex(1)],
                                              labels: [.classIndex(0), .classIndex(1)])
        XCTAssertEqual(cola.primary, .matthews)
        XCTAssertEqual(cola.values, [.matthews: 0])
        XCTAssertEqual(cola.dictionary, ["matthews_correlation": 0])

        let stsb = try GLUETask.stsb.evaluate(predictions: [.score(1), .score(2), .score(4)],
                                              labels: [.score(1), .score(3), .score(2)])
        XCTAssertEqual(stsb.primary, .pearson)
        XCTAssertEqual(Set(stsb.values.keys), [.pearson, .spearman])
        XCTAssertEqual(stsb[.spearman] ?? -1, 0.5, accuracy: 1e-15)

        let mnli = try GLUETask.named("mnli-mm").evaluate(predictedClasses: [0, 1, 2, 2], labels: [0, 1, 2, 1])
        XCTAssertEqual(mnli.primaryValue, 0.75)
    }

    func testTaskReportErrors() {
        assertThrows(MetricError.classOutOfRange(index: 1, value: 2, numLabels: 2)) {
            try GLUETask.sst2.evaluate(predictedClasses: [0, 2], labels: [0, 1])
        }
        assertThrows(MetricError.classOutOfRange(index: 0, value: -1, numLabels: 3)) {
            try GLUETask.mnli.evaluate(predictedClasses: [0], labels: [-1])
        }
        assertThrows(MetricError.labelKindMismatch(index: 1, task: "RTE")) {
            try GLUETask.rte.evaluate(predictions: [.classIndex(0), .score(1)], labels: [.classIndex(0), .classIndex(1)])
        }
        assertThrows(MetricError.labelKindMismatch(index: 0, task: "STS-B")) {
            try GLUETask.stsb.evaluate(predictions: [.classIndex(0)], labels: [.score(1)])
        }
        assertThrows(MetricError.labelKindMismatch(index: 0, task: "STS-B")) {
            try GLUETask.stsb.evaluate(predictedClasses: [0], labels: [0])
        }
        assertThrows(MetricError.labelKindMismatch(index: 0, task: "QQP")) {
            try GLUETask.qqp.evaluate(predictedScores: [0, 1], labels: [0, 1])
        }
        assertThrows(MetricError.lengthMismatch(predictions: 1, labels: 2)) {
            try GLUETask.wnli.evaluate(predictions: [.classIndex(0)], labels: [.classIndex(0), .classIndex(1)])
        }
        assertThrows(MetricError.empty) { try GLUETask.wnli.evaluate(predictedClasses: [], labels: []) }
    }
}
