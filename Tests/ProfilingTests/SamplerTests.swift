#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import XCTest
@testable import Profiling

/// A counter shared with the sampler thread's callback.
private final class Counter: @unchecked Sendable {
    // @unchecked: `value` is only touched under `lock`.
    private let lock = NSLock()
    private var value = 0
    func increment() { lock.withLock { value += 1 } }
    var count: Int { lock.withLock { value } }
}

/// Spins on the calling thread for `seconds` (the clock read keeps the loop from being removed).
private func busyLoop(seconds: Double) -> UInt64 {
    let end = MonotonicClock.nanoseconds() + UInt64(seconds * 1e9)
    var spins: UInt64 = 0
    while MonotonicClock.nanoseconds() < end { spins &+= 1 }
    return spins
}

/// CPU seconds used by the calling thread.
private func threadCPUSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

final class SamplerTests: XCTestCase {
    func testSamplesFallOnTheIntervalGrid() {
        let counter = Counter()
        let sampler = ProfilingSampler(interval: 0.5, onSample: { _ in counter.increment() })
        sampler.start()
        XCTAssertTrue(sampler.isRunning)
        Thread.sleep(forTimeInterval: 1.6)
        let stopStart = MonotonicClock.seconds()
        let samples = sampler.stop()
        let stopSeconds = MonotonicClock.seconds() - stopStart
        XCTAssertFalse(sampler.isRunning)

        // Ticks at 0.5, 1.0, 1.5 and a last, short interval ending at stop (~1.6).
        XCTAssertGreaterThanOrEqual(samples.count, 3)
        XCTAssertLessThanOrEqual(samples.count, 5)
        for (i, sample) in samples.prefix(3).enumerated() {
            XCTAssertEqual(sample.t, 0.5 * Double(i + 1), accuracy: 0.2, "tick \(i + 1)")
        }
        for (a, b) in zip(samples, samples.dropFirst()) {
            XCTAssertGreaterThan(b.t - a.t, 0)
            XCTAssertLessThanOrEqual(b.t - a.t, 0.5 + 0.25)
        }
        if let last = samples.last {
            XCTAssertGreaterThanOrEqual(last.t, 1.5)
            XCTAssertLessThan(last.t, 2.5)
        }
        XCTAssertLessThan(stopSeconds, 0.5, "stop() must wake the thread, not wait for the tick")
        XCTAssertEqual(counter.count, samples.count, "one callback per sample")
        XCTAssertEqual(sampler.samples, samples)
        for sample in samples {
            XCTAssertGreaterThan(sample.rssMiB, 0)
            XCTAssertGreaterThanOrEqual(sample.cpuUtilisation, 0)
        }
        // A second stop returns the same samples.
        XCTAssertEqual(sampler.stop(), samples)
    }

    func testStopIsPromptWithALongInterval() {
        let sampler = ProfilingSampler(interval: 30)
        sampler.start()
        Thread.sleep(forTimeInterval: 0.1)
        let start = MonotonicClock.seconds()
        let samples = sampler.stop()
        XCTAssertLessThan(MonotonicClock.seconds() - start, 0.5)
        XCTAssertEqual(samples.count, 1, "only the final sample at stop")
        XCTAssertEqual(samples.first?.t ?? 0, 0.1, accuracy: 0.3)
    }

    func testSamplerRestartsWithFreshSamples() {
        let sampler = ProfilingSampler(interval: 0.05)
        sampler.start()
        Thread.sleep(forTimeInterval: 0.2)
        let first = sampler.stop()
        XCTAssertGreaterThanOrEqual(first.count, 2)
        sampler.start()
        Thread.sleep(forTimeInterval: 0.05)
        let second = sampler.stop()
        XCTAssertFalse(second.isEmpty)
        XCTAssertLessThan(second.first?.t ?? 1, 0.2, "time restarts at the new start")
    }

    func testRSSGrowsWhen200MBIsTouched() throws {
        let sampler = ProfilingSampler(interval: 0.1, power: .none)
        sampler.start()
        Thread.sleep(forTimeInterval: 0.25)
        let before = try XCTUnwrap(ProcessMemory.currentRSSBytes)
        let bytes = 200 << 20
        // A fresh anonymous mapping: malloc could hand back memory that earlier tests left
        // resident, which would not grow the resident set.
        guard let mapped = mmap(nil, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), mapped != MAP_FAILED else {
            return XCTFail("mmap of \(bytes) bytes failed")
        }
        let buffer = UnsafeMutableRawPointer(mapped)
        // Touch every page so that it becomes resident.
        var offset = 0
        while offset < bytes {
            buffer.storeBytes(of: UInt8(truncatingIfNeeded: offset >> 12), toByteOffset: offset, as: UInt8.self)
            offset += 4096
        }
        Thread.sleep(forTimeInterval: 0.35)
        let during = try XCTUnwrap(ProcessMemory.currentRSSBytes)
        let peak = try XCTUnwrap(ProcessMemory.peakRSSBytes)
        munmap(mapped, bytes)
        Thread.sleep(forTimeInterval: 0.25)
        let after = try XCTUnwrap(ProcessMemory.currentRSSBytes)
        let samples = sampler.stop()

        let mib = 1_048_576.0
        XCTAssertGreaterThan(Double(during) - Double(before), 180 * mib)
        XCTAssertGreaterThanOrEqual(peak, during)
        XCTAssertLessThan(Double(after), Double(during) - 150 * mib, "freed pages leave the resident set")

        let first = try XCTUnwrap(samples.first)
        let highest = try XCTUnwrap(samples.map(\.rssMiB).max())
        XCTAssertGreaterThan(highest - first.rssMiB, 180, "the sampler saw the growth")
        let summary = ProfileSummary(samples: samples, powerSource: sampler.powerSource)
        XCTAssertEqual(summary.peakRSSMiB, highest)
        XCTAssertGreaterThanOrEqual(try XCTUnwrap(summary.processPeakRSSMiB), highest - 1)
        XCTAssertGreaterThan(summary.averageRSSMiB, first.rssMiB)
        XCTAssertLessThan(summary.averageRSSMiB, highest)
    }

    func testCPUUtilisationWhileBusyOnOneThread() {
        let sampler = ProfilingSampler(interval: 0.5, power: .none)
        sampler.start()
        let threadCPUStart = threadCPUSeconds()
        let wallStart = MonotonicClock.seconds()
        let spins = busyLoop(seconds: 1.6)
        // What the scheduler actually gave this thread, measured independently of the sampler.
        let threadShare = (threadCPUSeconds() - threadCPUStart) / (MonotonicClock.seconds() - wallStart)
        let samples = sampler.stop()
        XCTAssertGreaterThan(spins, 0)
        XCTAssertGreaterThanOrEqual(samples.count, 3)
        let summary = ProfileSummary(samples: samples, powerSource: sampler.powerSource)
        XCTAssertLessThan(summary.averageCPUUtilisation, Double(summary.logicalCores) + 0.5)
        XCTAssertEqual(summary.duration, samples.last?.t ?? 0)
        // The process used at least what the busy thread used (minus clock granularity slack).
        XCTAssertGreaterThan(summary.averageCPUUtilisation, threadShare - 0.1,
                             "sampler \(summary.averageCPUUtilisation) vs busy thread \(threadShare)")
        let sorted = samples.dropLast().map(\.cpuUtilisation).sorted()  // the regular intervals
        let median = sorted.isEmpty ? 0 : sorted[sorted.count / 2]
        if threadShare > 0.6 {
            // An uncontended core: one busy thread is about one core busy.
            XCTAssertGreaterThan(summary.averageCPUUtilisation, 0.5, "one busy thread is about 1 core busy")
            XCTAssertGreaterThan(median, 0.5, "median interval utilisation")
        } else {
            print("CPU test: the machine is oversubscribed (busy thread got \(threadShare) of a core);"
                  + " only checked sampler ≥ thread share")
        }
    }

    func testPowerSourceMatchesTheMachine() {
        let raplReadable = (try? String(contentsOfFile: "/sys/class/powercap/intel-rapl:0/energy_uj", encoding: .utf8))
            .flatMap { UInt64($0.trimmingCharacters(in: .whitespacesAndNewlines)) } != nil
        let sampler = ProfilingSampler(interval: 0.2)
        let source = sampler.powerSource
        XCTAssertTrue([PowerSourceKind.rapl, .nvml, .notMeasured].contains(source.kind))
        XCTAssertTrue(["rapl", "nvml", "not measured"].contains(source.kind.rawValue))
        if raplReadable {
            XCTAssertEqual(source.kind, .rapl, source.description)
        } else {
            XCTAssertNotEqual(source.kind, .rapl, source.description)
        }
        XCTAssertEqual(PowerSource.detect().kind, source.kind)
        XCTAssertFalse(source.detail.isEmpty)

        sampler.start()
        _ = busyLoop(seconds: 0.5)
        let samples = sampler.stop()
        let summary = ProfileSummary(samples: samples, powerSource: source)
        XCTAssertEqual(summary.powerSource, source.kind)
        XCTAssertEqual(summary.powerSourceDetail, source.detail)
        print("power source: \(source); summary: average \(summary.averagePowerWatts.map { "\($0) W" } ?? "nil"),"
              + " energy \(summary.totalEnergyJoules.map { "\($0) J" } ?? "nil")")
        switch source {
        case .notMeasured(let reason):
            XCTAssertFalse(reason.isEmpty)
            XCTAssertTrue(samples.allSatisfy { $0.powerWatts == nil && $0.energyJoules == nil })
            XCTAssertNil(summary.averagePowerWatts)
            XCTAssertNil(summary.totalEnergyJoules)
        case .rapl, .nvml:
            XCTAssertTrue(samples.contains { ($0.powerWatts ?? 0) > 0 })
            let energies = samples.compactMap(\.energyJoules)
            XCTAssertEqual(energies, energies.sorted(), "energy is cumulative")
            XCTAssertGreaterThan(summary.totalEnergyJoules ?? 0, 0)
            XCTAssertGreaterThan(summary.averagePowerWatts ?? 0, 0)
        }
    }

    func testDisabledPowerIsNotMeasuredWithAReason() {
        let source = PowerSource.detect(.none)
        XCTAssertEqual(source.kind, .notMeasured)
        XCTAssertEqual(source.kind.rawValue, "not measured")
        XCTAssertTrue(source.detail.contains("disabled"))
    }
}
