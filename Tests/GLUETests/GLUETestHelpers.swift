import Foundation
import XCTest
import TestSupport
@testable import GLUE

/// Resolves a test resource or records a failure that says how to get it (never a silent skip).
func requireResource(_ url: URL, hint: String, file: StaticString = #filePath, line: UInt = #line) throws -> URL {
    switch TestPaths.require(url, hint: hint) {
    case .success(let url):
        return url
    case .failure(let missing):
        XCTFail(missing.message, file: file, line: line)
        throw missing
    }
}

/// The real GLUE data directory (`../shared/glue` or `$SWIFT_LORA_GLUE_DIR`).
func glueDataRoot(file: StaticString = #filePath, line: UInt = #line) throws -> URL {
    try requireResource(TestPaths.glueDirectory,
                        hint: "set SWIFT_LORA_GLUE_DIR to the glue_data directory (CoLA/, SST-2/, ...)",
                        file: file, line: line)
}

/// `Tests/Fixtures/glue`, holding synthetic MNLI/QNLI/QQP files and metrics.json.
func glueFixtureRoot(file: StaticString = #filePath, line: UInt = #line) throws -> URL {
    try requireResource(TestPaths.fixture("glue"),
                        hint: "the fixtures are part of the repository (Tests/Fixtures/glue)",
                        file: file, line: line)
}

/// Asserts that `body` throws exactly `expected`.
func assertThrows<T>(_ expected: GLUEError, file: StaticString = #filePath, line: UInt = #line,
                     _ body: () throws -> T) {
    do {
        _ = try body()
        XCTFail("expected \(expected), nothing thrown", file: file, line: line)
    } catch let error as GLUEError {
        XCTAssertEqual(error, expected, file: file, line: line)
    } catch {
        XCTFail("expected \(expected), got \(error)", file: file, line: line)
    }
}

/// Asserts that `body` throws exactly `expected`.
func assertThrows<T>(_ expected: MetricError, file: StaticString = #filePath, line: UInt = #line,
                     _ body: () throws -> T) {
    do {
        _ = try body()
        XCTFail("expected \(expected), nothing thrown", file: file, line: line)
    } catch let error as MetricError {
        XCTAssertEqual(error, expected, file: file, line: line)
    } catch {
        XCTFail("expected \(expected), got \(error)", file: file, line: line)
    }
}

/// Counts of each class index among `examples` (regression labels are ignored).
func classCounts(_ examples: [Example]) -> [Int: Int] {
    var counts: [Int: Int] = [:]
    for example in examples {
        if let index = example.label.classIndex { counts[index, default: 0] += 1 }
    }
    return counts
}

/// A fresh temporary directory removed at the end of the test.
func temporaryDirectory(_ test: XCTestCase) throws -> URL {
    let url = FileManager.default.temporaryDirectory
        .appendingPathComponent("glue-tests-\(UUID().uuidString)", isDirectory: true)
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    test.addTeardownBlock { try? FileManager.default.removeItem(at: url) }
    return url
}
