import Foundation
import XCTest
@testable import Profiling

final class RAPLTests: XCTestCase {
    func testDeltaWithoutWrap() {
        XCTAssertEqual(RAPL.energyDelta(previous: 1_000, current: 5_500, maxEnergyRange: 262_143_328_850), 4_500)
        XCTAssertEqual(RAPL.energyDelta(previous: 7, current: 7, maxEnergyRange: 100), 0)
    }

    func testDeltaAcrossOneWrap() {
        // The counter wraps at max_energy_range_uj back to 0.
        let range: UInt64 = 262_143_328_850
        XCTAssertEqual(RAPL.energyDelta(previous: range - 1_000, current: 2_000, maxEnergyRange: range), 3_000)
        XCTAssertEqual(RAPL.energyDelta(previous: range, current: 0, maxEnergyRange: range), 0)
        XCTAssertEqual(RAPL.energyDelta(previous: 90, current: 10, maxEnergyRange: 100), 20)
    }

    func testInconsistentReadingsGiveNil() {
        XCTAssertNil(RAPL.energyDelta(previous: 50, current: 10, maxEnergyRange: 0))
        XCTAssertNil(RAPL.energyDelta(previous: 150, current: 10, maxEnergyRange: 100))
    }

    func testTopLevelZoneNames() {
        XCTAssertTrue(RAPL.isTopLevelZone("intel-rapl:0"))
        XCTAssertTrue(RAPL.isTopLevelZone("intel-rapl:12"))
        XCTAssertFalse(RAPL.isTopLevelZone("intel-rapl:0:1"))
        XCTAssertFalse(RAPL.isTopLevelZone("intel-rapl"))
        XCTAssertFalse(RAPL.isTopLevelZone("intel-rapl:"))
        XCTAssertFalse(RAPL.isTopLevelZone("dtpm"))
    }

    /// A fake powercap tree: two packages, a core sub-domain and a psys zone.
    func testDiscoveryAndWrapOnASyntheticPowercapTree() throws {
        let root = FileManager.default.temporaryDirectory
            .appendingPathComponent("powercap-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: root) }
        func zone(_ name: String, label: String, energy: UInt64, range: UInt64) throws {
            let dir = root + "/" + name
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            try "\(label)\n".write(toFile: dir + "/name", atomically: true, encoding: .utf8)
            try "\(energy)\n".write(toFile: dir + "/energy_uj", atomically: true, encoding: .utf8)
            try "\(range)\n".write(toFile: dir + "/max_energy_range_uj", atomically: true, encoding: .utf8)
        }
        try zone("intel-rapl:0", label: "package-0", energy: 999_000_000, range: 1_000_000_000)
        try zone("intel-rapl:0:0", label: "core", energy: 5, range: 1_000_000_000)
        try zone("intel-rapl:1", label: "package-1", energy: 10_000_000, range: 1_000_000_000)
        try zone("intel-rapl:2", label: "psys", energy: 0, range: 1_000_000_000)

        let domains = try RAPL.discover(root: root).get()
        XCTAssertEqual(domains.map(\.name), ["package-0", "package-1"])
        let meter = try XCTUnwrap(RAPLMeter(domains: domains))

        // Package 0 wraps (+1.5 J), package 1 counts up (+2 J).
        try "500000\n".write(toFile: root + "/intel-rapl:0/energy_uj", atomically: true, encoding: .utf8)
        try "12000000\n".write(toFile: root + "/intel-rapl:1/energy_uj", atomically: true, encoding: .utf8)
        XCTAssertEqual(try XCTUnwrap(meter.joulesSinceLastRead()), 3.5, accuracy: 1e-9)
        XCTAssertEqual(try XCTUnwrap(meter.joulesSinceLastRead()), 0, accuracy: 1e-9)

        // An unreadable package makes RAPL unavailable as a whole, with a reason.
        try FileManager.default.removeItem(atPath: root + "/intel-rapl:1/energy_uj")
        guard case .failure(let why) = RAPL.discover(root: root) else {
            return XCTFail("a package without energy_uj must not be summed partially")
        }
        XCTAssertTrue(why.reason.contains("intel-rapl:1"), why.reason)
        guard case .failure(let missing) = RAPL.discover(root: root + "/absent") else {
            return XCTFail("no powercap directory")
        }
        XCTAssertFalse(missing.reason.isEmpty)
    }
}
