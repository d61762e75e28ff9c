import XCTest
import Foundation
import SafeTensors

final class SafeTensorsTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("safetensors-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    /// Builds a file by hand from a header object and a data section.
    func rawFile(_ name: String, header: String, data: [UInt8], headerLength: UInt64? = nil) throws -> URL {
        var bytes = Data()
        let h = Data(header.utf8)
        withUnsafeBytes(of: (headerLength ?? UInt64(h.count)).littleEndian) { bytes.append(contentsOf: $0) }
        bytes.append(h)
        bytes.append(contentsOf: data)
        let url = dir.appendingPathComponent(name)
        try bytes.write(to: url)
        return url
    }

    func testRoundTripAllDTypesAndMetadata() throws {
        let url = dir.appendingPathComponent("rt.safetensors")
        let f32: [Float] = [1.5, -2, 3.25, 0, 1e-3, 7]
        let half: [UInt16] = [0x3C00, 0xC000, 0x3555, 0x0001]          // 1, -2, 0.333…, smallest subnormal
        let bf16: [UInt16] = [0x3F80, 0xC040, 0x4049]                  // 1, -3, 3.140625
        try SafeTensorsWriter.write([
            SafeTensorRecord(name: "w", shape: [2, 3], floats: f32),
            SafeTensorRecord(name: "h", dtype: .f16, shape: [4], bytes: half.withUnsafeBufferPointer { Data(buffer: $0) }),
            SafeTensorRecord(name: "b", dtype: .bf16, shape: [3], bytes: bf16.withUnsafeBufferPointer { Data(buffer: $0) }),
            SafeTensorRecord(name: "ids", shape: [2, 2], integers: [1, -2, 1 << 40, 0]),
            SafeTensorRecord(name: "scalar", shape: [], floats: [42]),
        ], metadata: ["format": "pt"], to: url)
        let file = try SafeTensorsFile(url: url)
        XCTAssertEqual(file.metadata, ["format": "pt"])
        XCTAssertEqual(file.names, ["w", "h", "b", "ids", "scalar"])
        XCTAssertEqual(try file.info("w").shape, [2, 3])
        XCTAssertEqual(try file.floats("w"), f32)
        let h = try file.floats("h")
        XCTAssertEqual(h[0], 1); XCTAssertEqual(h[1], -2)
        XCTAssertEqual(h[2], 0.333251953125, accuracy: 1e-9)
        XCTAssertEqual(h[3], Float(5.960464477539063e-08), accuracy: 1e-15)
        XCTAssertEqual(try file.floats("b"), [1, -3, 3.140625])
        XCTAssertEqual(try file.integers("ids"), [1, -2, 1 << 40, 0])
        XCTAssertEqual(try file.floats("scalar"), [42])
        // Header is 8-byte aligned, as Hugging Face writes it.
        let bytes = try Data(contentsOf: url)
        let n = bytes.prefix(8).withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }
        XCTAssertEqual(n % 8, 0)
        // Atomic write leaves no temporary file behind.
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), ["rt.safetensors"])
    }

    func assertError(_ url: URL, file: StaticString = #filePath, line: UInt = #line, _ check: (SafeTensorsError) -> Bool) {
        do {
            _ = try SafeTensorsFile(url: url)
            XCTFail("opened a bad file \(url.lastPathComponent)", file: file, line: line)
        } catch let e as SafeTensorsError {
            XCTAssertTrue(check(e), "unexpected error: \(e)", file: file, line: line)
            XCTAssertTrue(e.description.contains(url.path), "error does not name the file: \(e)", file: file, line: line)
        } catch {
            XCTFail("untyped error \(error)", file: file, line: line)
        }
    }

    func testTruncatedFile() throws {
        let url = dir.appendingPathComponent("short.safetensors")
        try Data([1, 2, 3]).write(to: url)
        assertError(url) { if case .truncated = $0 { return true }; return false }
    }

    func testHeaderLongerThanFile() throws {
        let url = try rawFile("long.safetensors", header: "{}", data: [], headerLength: 1000)
        assertError(url) { if case .headerTooLong = $0 { return true }; return false }
    }

    func testOutOfRangeOffsets() throws {
        let url = try rawFile("range.safetensors", header: #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[4],"data_offsets":[8,24]}}"#,
                              data: [UInt8](repeating: 0, count: 12))
        assertError(url) { if case let .offsetOutOfRange(_, t, _, _, _) = $0 { return t == "b" }; return false }
    }

    func testOverlappingOffsets() throws {
        let url = try rawFile("overlap.safetensors", header: #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#,
                              data: [UInt8](repeating: 0, count: 12))
        assertError(url) {
            if case let .overlapping(_, t, o) = $0 { return Set([t, o]) == ["a", "b"] && $0.description.contains("'b'") }
            return false
        }
    }

    func testUnknownDType() throws {
        let url = try rawFile("dtype.safetensors", header: #"{"weird":{"dtype":"Q4","shape":[2],"data_offsets":[0,1]}}"#, data: [0])
        assertError(url) { if case let .unknownDType(_, t, d) = $0 { return t == "weird" && d == "Q4" }; return false }
    }

    func testShapeNotMatchingByteSpan() throws {
        let url = try rawFile("size.safetensors", header: #"{"x":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#, data: [UInt8](repeating: 0, count: 8))
        assertError(url) { if case let .sizeMismatch(_, t, 12, 8) = $0 { return t == "x" }; return false }
    }

    func testMalformedJSONHeader() throws {
        let url = try rawFile("json.safetensors", header: "{not json", data: [])
        assertError(url) { if case .invalidHeader = $0 { return true }; return false }
    }

    func testMissingTensorNamesFileAndTensor() throws {
        let url = dir.appendingPathComponent("one.safetensors")
        try SafeTensorsWriter.write([SafeTensorRecord(name: "a", shape: [1], floats: [1])], to: url)
        let file = try SafeTensorsFile(url: url)
        XCTAssertThrowsError(try file.floats("nope")) { error in
            XCTAssertEqual(error as? SafeTensorsError, .tensorNotFound(file: url.path, tensor: "nope"))
        }
    }

    func testMissingFile() {
        let url = dir.appendingPathComponent("absent.safetensors")
        assertError(url) { if case .cannotOpen = $0 { return true }; return false }
    }
}
