import Foundation
import XCTest
@testable import Profiling

private struct Boom: Error {}

final class LatencyTests: XCTestCase {
    func testStatsOfKnownSamples() {
        let stats = LatencyStats(samples: [5, 1, 3, 2, 4])
        XCTAssertEqual(stats.samples, [5, 1, 3, 2, 4], "kept in measurement order")
        XCTAssertEqual(stats.median, 3)
        XCTAssertEqual(stats.mean, 3)
        XCTAssertEqual(stats.min, 1)
        XCTAssertEqual(stats.max, 5)
        XCTAssertEqual(stats.p90, 4.6, accuracy: 1e-12)  // rank 0.9·4 = 3.6 → 4 + 0.6·(5 − 4)
    }

    func testStatsOfAnEvenCount() {
        let stats = LatencyStats(samples: [0.004, 0.001, 0.003, 0.002])
        XCTAssertEqual(stats.median, 0.0025, accuracy: 1e-15)
        XCTAssertEqual(stats.mean, 0.0025, accuracy: 1e-15)
        XCTAssertEqual(stats.p90, 0.0037, accuracy: 1e-15)  // rank 2.7
        XCTAssertEqual(stats.min, 0.001)
    }

    func testStatsOfOneSample() {
        let stats = LatencyStats(samples: [0.25])
        XCTAssertEqual(stats.median, 0.25)
        XCTAssertEqual(stats.p90, 0.25)
        XCTAssertEqual(stats.mean, 0.25)
        XCTAssertEqual(LatencyStats.quantile(sorted: [1, 2, 3], 0), 1)
        XCTAssertEqual(LatencyStats.quantile(sorted: [1, 2, 3], 1), 3)
    }

    func testMeasureLatencyRunsWarmupAndRepeats() {
        var calls = 0
        let stats = measureLatency(repeats: 5, warmup: 2) {
            calls += 1
            Thread.sleep(forTimeInterval: 0.01)
        }
        XCTAssertEqual(calls, 7)
        XCTAssertEqual(stats.samples.count, 5)
        XCTAssertGreaterThanOrEqual(stats.min, 0.009)
        XCTAssertLessThan(stats.median, 1.0)
        XCTAssertLessThanOrEqual(stats.min, stats.median)
        XCTAssertLessThanOrEqual(stats.median, stats.p90)
        XCTAssertLessThanOrEqual(stats.p90, stats.max)
    }

    func testMeasureLatencyRethrows() {
        XCTAssertThrowsError(try measureLatency(repeats: 3) { throw Boom() }) { error in
            XCTAssertTrue(error is Boom)
        }
    }

    func testMonotonicClockAdvances() {
        let a = MonotonicClock.nanoseconds()
        Thread.sleep(forTimeInterval: 0.01)
        let b = MonotonicClock.nanoseconds()
        XCTAssertGreaterThanOrEqual(b - a, 9_000_000)
    }
}
