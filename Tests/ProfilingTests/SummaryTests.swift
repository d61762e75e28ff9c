import Foundation
import XCTest
@testable import Profiling

final class SummaryTests: XCTestCase {
    private let samples = [
        Sample(t: 0.5, rssMiB: 100, peakRSSMiB: 100, cpuUtilisation: 1, cpuSeconds: 0.5, powerWatts: 20, energyJoules: 10),
        Sample(t: 1.0, rssMiB: 300, peakRSSMiB: 300, cpuUtilisation: 2, cpuSeconds: 1.5, powerWatts: 40, energyJoules: 30),
        Sample(t: 1.25, rssMiB: 200, peakRSSMiB: 310, cpuUtilisation: 2, cpuSeconds: 2.0, powerWatts: 40, energyJoules: 40),
    ]

    func testSummaryIsTimeWeighted() {
        let summary = ProfileSummary(samples: samples, powerSource: .rapl(domains: ["package-0"]), logicalCores: 2)
        XCTAssertEqual(summary.sampleCount, 3)
        XCTAssertEqual(summary.duration, 1.25)
        // (100·0.5 + 300·0.5 + 200·0.25) / 1.25 = 200
        XCTAssertEqual(summary.averageRSSMiB, 200, accuracy: 1e-9)
        XCTAssertEqual(summary.peakRSSMiB, 300)
        XCTAssertEqual(summary.processPeakRSSMiB, 310)
        XCTAssertEqual(summary.cpuSeconds, 2.0)
        XCTAssertEqual(summary.averageCPUUtilisation, 1.6, accuracy: 1e-9)
        XCTAssertEqual(summary.totalEnergyJoules, 40)
        XCTAssertEqual(summary.averagePowerWatts ?? 0, 32, accuracy: 1e-9)
        XCTAssertEqual(summary.powerSource, .rapl)
        XCTAssertEqual(summary.powerSourceDetail, "RAPL package domains: package-0")
    }

    func testNotMeasuredSummaryHasNoPower() {
        var unmeasured = samples
        for i in unmeasured.indices {
            unmeasured[i].powerWatts = nil
            unmeasured[i].energyJoules = nil
        }
        let summary = ProfileSummary(samples: unmeasured, powerSource: .notMeasured(reason: "no meter"))
        XCTAssertNil(summary.averagePowerWatts)
        XCTAssertNil(summary.totalEnergyJoules)
        XCTAssertEqual(summary.powerSource.rawValue, "not measured")
        XCTAssertEqual(summary.powerSourceDetail, "no meter")
    }

    func testEmptySummary() {
        let summary = ProfileSummary(samples: [], powerSource: .nvml(devices: 1))
        XCTAssertEqual(summary.sampleCount, 0)
        XCTAssertEqual(summary.duration, 0)
        XCTAssertEqual(summary.averageRSSMiB, 0)
        XCTAssertEqual(summary.averageCPUUtilisation, 0)
        XCTAssertNil(summary.totalEnergyJoules)
    }

    func testSampleCodableRoundTripOmitsNil() throws {
        let sample = Sample(t: 0.5, rssMiB: 12.5, cpuUtilisation: 0.75, cpuSeconds: 0.375)
        let data = try JSONEncoder().encode(sample)
        let text = try XCTUnwrap(String(data: data, encoding: .utf8))
        XCTAssertFalse(text.contains("powerWatts"))
        XCTAssertFalse(text.contains("energyJoules"))
        XCTAssertEqual(try JSONDecoder().decode(Sample.self, from: data), sample)
        let summary = ProfileSummary(samples: samples, powerSource: .notMeasured(reason: "x"))
        let summaryJSON = try XCTUnwrap(String(data: JSONEncoder().encode(summary), encoding: .utf8))
        XCTAssertTrue(summaryJSON.contains("\"not measured\""))
        XCTAssertEqual(try JSONDecoder().decode(ProfileSummary.self, from: Data(summaryJSON.utf8)), summary)
    }

    func testEnergyEstimateIsLabelledAndFollowsItsFormula() {
        let estimate = EnergyEstimate(cpuSeconds: 12.5)
        XCTAssertEqual(estimate.label, "ESTIMATE")
        XCTAssertEqual(estimate.assumedWattsPerBusyCore, 10)
        XCTAssertEqual(estimate.estimatedJoules, 125, accuracy: 1e-9)
        XCTAssertTrue(estimate.formula.hasPrefix("ESTIMATE"))
        XCTAssertTrue(estimate.formula.contains("12.5 × 10 = 125 J"), estimate.formula)
        XCTAssertTrue(estimate.formula.contains("not measured"))
        let summary = ProfileSummary(samples: samples, powerSource: .notMeasured(reason: "x"))
        XCTAssertEqual(EnergyEstimate(summary: summary, assumedWattsPerBusyCore: 7).estimatedJoules, 14, accuracy: 1e-9)
    }

    func testProcessMemoryParsers() {
        XCTAssertEqual(ProcessMemory.parseStatmResidentPages("765 433 404 5 0 123 0\n"), 433)
        XCTAssertNil(ProcessMemory.parseStatmResidentPages("765"))
        let status = "Name:\tswift\nVmPeak:\t  10000 kB\nVmHWM:\t    1968 kB\nVmRSS:\t    1900 kB\n"
        XCTAssertEqual(ProcessMemory.parseStatusField(status, field: "VmHWM"), 1968)
        XCTAssertEqual(ProcessMemory.parseStatusField(status, field: "VmRSS"), 1900)
        XCTAssertNil(ProcessMemory.parseStatusField(status, field: "VmSwap"))
        XCTAssertNotNil(ProcessMemory.currentRSSBytes)
        XCTAssertGreaterThanOrEqual(ProcessMemory.peakRSSBytes ?? 0, ProcessMemory.currentRSSBytes ?? 0)
    }
}
