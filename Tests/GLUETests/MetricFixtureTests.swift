import Foundation
import XCTest
@testable import GLUE

/// Compares every metric with scikit-learn / SciPy on `Tests/Fixtures/glue/metrics.json`
/// (written by `scripts/reference/make_metric_fixtures.py`), within 1e-9.
final class MetricFixtureTests: XCTestCase {
    private struct Fixture: Decodable {
        struct Classification: Decodable {
            let name: String
            let numClasses: Int
            let labels: [Int]
            let predictions: [Int]
            let accuracy: Double
            let matthews: Double
            let f1: Double?
            let macroF1: Double

            enum CodingKeys: String, CodingKey {
                case name, labels, predictions, accuracy, matthews, f1
                case macroF1 = "f1_macro"
                case numClasses = "num_classes"
            }
        }

        struct Regression: Decodable {
            let name: String
            let labels: [Double]
            let predictions: [Double]
            let pearson: Double
            let spearman: Double
        }

        let classification: [Classification]
        let regression: [Regression]
    }

    private static let tolerance = 1e-9

    private func loadFixture() throws -> Fixture {
        let url = try requireResource(
            try glueFixtureRoot().appendingPathComponent("metrics.json"),
            hint: "regenerate with scripts/reference/make_metric_fixtures.py (a Python with scikit-learn and scipy)")
        return try JSONDecoder().decode(Fixture.self, from: Data(contentsOf: url))
    }

    func testClassificationMetricsMatchScikitLearn() throws {
        let fixture = try loadFixture()
        XCTAssertGreaterThan(fixture.classification.count, 40)
        var binary = 0, degenerate = 0
        for c in fixture.classification {
            XCTAssertEqual(try Metrics.accuracy(predictions: c.predictions, labels: c.labels), c.accuracy,
                           accuracy: Self.tolerance, c.name)
            XCTAssertEqual(try Metrics.matthews(predictions: c.predictions, labels: c.labels), c.matthews,
                           accuracy: Self.tolerance, c.name)
            XCTAssertEqual(try Metrics.macroF1(predictions: c.predictions, labels: c.labels), c.macroF1,
                           accuracy: Self.tolerance, c.name)
            if let f1 = c.f1 {
                binary += 1
                XCTAssertEqual(try Metrics.f1(predictions: c.predictions, labels: c.labels), f1,
                               accuracy: Self.tolerance, c.name)
            }
            if Set(c.predictions).count == 1 || Set(c.labels).count == 1 { degenerate += 1 }
            // The task-level report agrees with the primitives.
            let task: GLUETask = c.numClasses == 3 ? .mnli : .mrpc
            let report = try task.evaluate(predictedClasses: c.predictions, labels: c.labels)
            XCTAssertEqual(report.primaryValue, c.accuracy, accuracy: Self.tolerance, c.name)
        }
        XCTAssertGreaterThan(binary, 30)
        XCTAssertGreaterThan(degenerate, 8, "fixture should cover constant predictions / labels")
    }

    func testCorrelationsMatchSciPy() throws {
        let fixture = try loadFixture()
        XCTAssertGreaterThan(fixture.regression.count, 15)
        for c in fixture.regression {
            XCTAssertEqual(try Metrics.pearson(predictions: c.predictions, labels: c.labels), c.pearson,
                           accuracy: Self.tolerance, c.name)
            XCTAssertEqual(try Metrics.spearman(predictions: c.predictions, labels: c.labels), c.spearman,
                           accuracy: Self.tolerance, c.name)
        }
    }
}
