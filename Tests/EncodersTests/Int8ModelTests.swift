// A whole encoder with int8 Linears against the same encoder in fp32, on every body kind.
import Foundation
import Encoders
import SafeTensors
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

    func testSavedInt8ModelLoadsWithoutQuantisingAgainAndBadFilesAreRefused() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("lora-int8-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let model = try EncoderModel.load(directory: TestPaths.fixture("encoders/tiny-roberta"), labelCount: 2)
        model.quantizeLinears()
        try model.saveQuantizedModel(to: dir)
        let loaded = try EncoderModel.load(directory: dir)
        XCTAssertTrue(loaded.isQuantized, "an int8 directory loads as an int8 model")
        let batch = EncoderBatch(sequences: [[5, 6, 7, 8], [9, 10, 11]])
        XCTAssertEqual(try loaded.predict(batch), try model.predict(batch), "the same int8 values and scales, so the same logits")

        let weights = dir.appendingPathComponent("model.safetensors")
        let file = try SafeTensorsFile(url: weights)
        let name = "roberta.encoder.layer.0.attention.self.query.weight"
        XCTAssertEqual(try file.info(name).dtype, .i8)
        XCTAssertEqual(try file.info(name + "_scale").shape, [try file.info(name).shape[0]])

        // Rewrites the file with one tensor changed or left out, and expects a refusal naming it.
        func refused(_ change: (inout [SafeTensorRecord]) -> Void, _ text: String, line: UInt = #line) throws {
            let f = try SafeTensorsFile(url: weights)
            var records = try f.names.map { n -> SafeTensorRecord in
                let info = try f.info(n)
                return SafeTensorRecord(name: n, dtype: info.dtype, shape: info.shape, bytes: Data(try f.rawBytes(n)))
            }
            change(&records)
            let bad = dir.appendingPathComponent("bad")
            try? FileManager.default.removeItem(at: bad)
            try FileManager.default.createDirectory(at: bad, withIntermediateDirectories: true)
            try FileManager.default.copyItem(at: dir.appendingPathComponent("config.json"), to: bad.appendingPathComponent("config.json"))
            try SafeTensorsWriter.write(records, to: bad.appendingPathComponent("model.safetensors"))
            XCTAssertThrowsError(try EncoderModel.load(directory: bad), line: line) { error in
                XCTAssertTrue("\(error)".contains(text), "\(error)", line: line)
            }
        }
        try refused({ $0.removeAll { $0.name == name + "_scale" } }, name + "_scale")
        try refused({ records in
            let i = records.firstIndex { $0.name == name }!
            records[i].bytes[0] = 0x80
        }, "-128")
        try refused({ records in
            let i = records.firstIndex { $0.name == name + "_scale" }!
            records[i] = SafeTensorRecord(name: name + "_scale", shape: records[i].shape, floats: [Float](repeating: 0, count: records[i].shape[0]))
        }, "must be finite and > 0")
        // Another quantisation method is refused by name.
        var config = try JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent("config.json"))) as! [String: Any]
        config["quantization_config"] = ["quant_method": "bitsandbytes"]
        try JSONSerialization.data(withJSONObject: config).write(to: dir.appendingPathComponent("config.json"))
        XCTAssertThrowsError(try EncoderModel.load(directory: dir)) { XCTAssertTrue("\($0)".contains("bitsandbytes"), "\($0)") }
    }
}
