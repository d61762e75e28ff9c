import Foundation
import Profiling
import XCTest
@testable import Study

final class IsoAccuracyTests: XCTestCase {
    private func evals(_ values: [(epoch: Double, seconds: Double, primary: Double)]) -> [EvalRecord] {
        values.enumerated().map { i, v in
            EvalRecord(step: (i + 1) * 10, epoch: v.epoch, primary: v.primary, metric: "accuracy",
                       trainSeconds: v.seconds, evalSeconds: Double(i + 1), time: 1000 + v.seconds + Double(i + 1))
        }
    }

    func testThresholdIsLowerBestMinusHalfAPoint() {
        XCTAssertEqual(IsoAccuracy.threshold(bestFFT: 0.86, bestLoRA: 0.85), 0.845, accuracy: 1e-12)
        XCTAssertEqual(IsoAccuracy.threshold(bestFFT: 0.60, bestLoRA: 0.65), 0.595, accuracy: 1e-12)
        XCTAssertEqual(IsoAccuracy.threshold(bestFFT: 0.9, bestLoRA: 0.8, margin: 0.01), 0.79, accuracy: 1e-12)
    }

    func testFirstReachPicksTheFirstEvaluationAtOrAboveTheThreshold() throws {
        let sequence = evals([(1, 10, 0.80), (2, 20, 0.844), (3, 30, 0.846), (4, 40, 0.90), (5, 50, 0.85)])
        let reach = try XCTUnwrap(IsoAccuracy.firstReach(evals: sequence, threshold: 0.845))
        XCTAssertEqual(reach.trainSeconds, 30)
        XCTAssertEqual(reach.epoch, 3)
        XCTAssertEqual(reach.step, 30)
        XCTAssertEqual(reach.score, 0.846)
        XCTAssertEqual(reach.evalSeconds, 3)
    }

    func testAScoreEqualToTheThresholdReachesIt() throws {
        // 0.85 − 0.005 is 0.8450000000000001 in binary; the logged 0.845 must still count.
        let threshold = IsoAccuracy.threshold(bestFFT: 0.85, bestLoRA: 0.9)
        let reach = try XCTUnwrap(IsoAccuracy.firstReach(evals: evals([(1, 10, 0.83), (2, 20, 0.845)]), threshold: threshold))
        XCTAssertEqual(reach.epoch, 2)
    }

    func testNeverReachedAndEmpty() {
        XCTAssertNil(IsoAccuracy.firstReach(evals: evals([(1, 10, 0.5), (2, 20, 0.6)]), threshold: 0.7))
        XCTAssertNil(IsoAccuracy.firstReach(evals: [], threshold: 0.1))
        // Non-finite scores never count.
        XCTAssertNil(IsoAccuracy.firstReach(evals: evals([(1, 10, .nan)]), threshold: 0))
    }

    func testFirstReachUsesLeastTrainingTimeWhateverTheLogOrder() throws {
        let sequence = evals([(2, 20, 0.9), (1, 10, 0.9)])
        XCTAssertEqual(try XCTUnwrap(IsoAccuracy.firstReach(evals: sequence, threshold: 0.8)).trainSeconds, 10)
    }

    func testProfileSecondsUseWallClockUnlessResumed() {
        let reach = IsoAccuracy.Reach(trainSeconds: 30, epoch: 3, step: 30, score: 0.9, evalSeconds: 3, time: 1033)
        XCTAssertEqual(IsoAccuracy.profileSeconds(of: reach, startTime: 1000, resumed: false), 33)
        XCTAssertEqual(IsoAccuracy.profileSeconds(of: reach, startTime: 1000, resumed: true), 33)  // 30 + 3
        XCTAssertEqual(IsoAccuracy.profileSeconds(of: reach, startTime: nil, resumed: false), 33)
        var noEval = reach
        noEval.evalSeconds = nil
        noEval.time = nil
        XCTAssertEqual(IsoAccuracy.profileSeconds(of: noEval, startTime: 1000, resumed: false), 30)
    }

    func testCumulativeInterpolation() {
        let samples = [
            Sample(t: 1, rssMiB: 1, cpuUtilisation: 1, cpuSeconds: 1, energyJoules: 10),
            Sample(t: 2, rssMiB: 1, cpuUtilisation: 1, cpuSeconds: 2, energyJoules: 30),
            Sample(t: 3, rssMiB: 1, cpuUtilisation: 1, cpuSeconds: 3, energyJoules: nil),
            Sample(t: 4, rssMiB: 1, cpuUtilisation: 1, cpuSeconds: 4, energyJoules: 70),
        ]
        let energy: (Sample) -> Double? = { $0.energyJoules }
        XCTAssertEqual(try XCTUnwrap(ProfileSeries.cumulative(energy, at: 1.5, in: samples)), 20, accuracy: 1e-12)
        XCTAssertEqual(try XCTUnwrap(ProfileSeries.cumulative(energy, at: 0.5, in: samples)), 5, accuracy: 1e-12)  // from (0, 0)
        XCTAssertEqual(try XCTUnwrap(ProfileSeries.cumulative(energy, at: 3, in: samples)), 50, accuracy: 1e-12)  // nil sample skipped
        XCTAssertEqual(ProfileSeries.cumulative(energy, at: 4.5, in: samples), 70)  // within 1 s past the end
        XCTAssertNil(ProfileSeries.cumulative(energy, at: 6, in: samples))
        XCTAssertNil(ProfileSeries.cumulative({ _ in nil }, at: 1, in: samples))
        XCTAssertEqual(ProfileSeries.cumulative({ $0.cpuSeconds }, at: 0, in: samples), 0)
    }

    func testIsoAccuracyOfARunWithMeasuredPower() throws {
        var log = RunLogFile()
        log.start = RunStartRecord(time: 1000)
        log.evals = evals([(1, 10, 0.7), (2, 20, 0.9)])  // reach at 20 s, logged at 1000 + 22
        let samples = stride(from: 0.5, through: 30, by: 0.5).map {
            Sample(t: $0, rssMiB: 100, cpuUtilisation: 2, cpuSeconds: 2 * $0, powerWatts: 25, energyJoules: 25 * $0)
        }
        let run = RunData(task: "MRPC", method: .lora, directory: URL(fileURLWithPath: "runs/x"), log: log, samples: samples)
        let result = StudyAnalysis.isoAccuracy(run, threshold: 0.8, options: ReportOptions(assumedWattsPerBusyCore: 10))
        XCTAssertTrue(result.reached)
        XCTAssertTrue(result.powerMeasured)
        XCTAssertEqual(result.profileSeconds, 22)
        XCTAssertEqual(try XCTUnwrap(result.energyJoules), 550, accuracy: 1e-9)
        XCTAssertEqual(try XCTUnwrap(result.averageWatts), 25, accuracy: 1e-9)
        XCTAssertEqual(try XCTUnwrap(result.cpuSeconds), 44, accuracy: 1e-9)
        XCTAssertEqual(try XCTUnwrap(result.estimatedEnergyJoules), 440, accuracy: 1e-9)
        XCTAssertTrue(result.estimateFormula?.hasPrefix("ESTIMATE") ?? false)

        let missed = StudyAnalysis.isoAccuracy(run, threshold: 0.95)
        XCTAssertFalse(missed.reached)
        XCTAssertNil(missed.reach)
    }

    func testMedianOfInferencePasses() {
        XCTAssertEqual(InferenceTimings.median([0.5, 0.3, 0.4]), 0.4)
        XCTAssertEqual(try XCTUnwrap(InferenceTimings.median([0.41, 0.39, 0.40, 0.42])), 0.405, accuracy: 1e-12)
        XCTAssertNil(InferenceTimings.median([]))
    }

    func testRunDirectoryNames() throws {
        let sst = try XCTUnwrap(StudyData.parseRunName("SST-2-lora"))
        XCTAssertEqual(sst.task, "SST-2")
        XCTAssertEqual(sst.method, .lora)
        let sts = try XCTUnwrap(StudyData.parseRunName("STS-B-full"))
        XCTAssertEqual(sts.task, "STS-B")
        XCTAssertEqual(sts.method, .full)
        XCTAssertNil(StudyData.parseRunName("MRPC"))
        XCTAssertNil(StudyData.parseRunName("MRPC-adapter"))
        XCTAssertNil(StudyData.parseRunName("-lora"))
    }

    func testPaperMetricsAndTaskKeys() {
        XCTAssertEqual(PaperFigures.metric(task: "CoLA"), "matthews_correlation")
        XCTAssertEqual(PaperFigures.metric(task: "STS-B"), "pearson")
        XCTAssertEqual(PaperFigures.metric(task: "MRPC"), "accuracy")
        XCTAssertEqual(PaperFigures.taskIndex("sst2"), 0)
        XCTAssertEqual(PaperFigures.taskIndex("STS-B"), 4)
        XCTAssertNil(PaperFigures.taskIndex("QNLI"))
    }

    func testNiceScaleAndDownsample() {
        let scale = SVGChart.niceScale(min: 0, max: 97)
        XCTAssertEqual(scale.lower, 0)
        XCTAssertEqual(scale.upper, 100)
        XCTAssertEqual(scale.step, 20)
        XCTAssertEqual(scale.ticks, [0, 20, 40, 60, 80, 100])
        let flat = SVGChart.niceScale(min: 5, max: 5)
        XCTAssertLessThan(flat.lower, 5)
        XCTAssertGreaterThan(flat.upper, 5)

        var points = (0 ..< 10_000).map { SVGChart.Point(x: Double($0), y: 1) }
        points[5_000].y = 99  // a spike
        let thin = SVGChart.downsample(points, maxPoints: 100)
        XCTAssertLessThanOrEqual(thin.count, 102)
        XCTAssertTrue(thin.contains(SVGChart.Point(x: 5_000, y: 99)))
        XCTAssertEqual(thin.first?.x, 0)
        XCTAssertEqual(thin.last?.x, 9_999)
        XCTAssertEqual(thin.map(\.x), thin.map(\.x).sorted())
    }
}
