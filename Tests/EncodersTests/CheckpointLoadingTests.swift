import XCTest
import Foundation
import Tensors
import SafeTensors
import Encoders
import TestSupport

final class CheckpointLoadingTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("ckpt-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    /// A BertModel-style checkpoint (no `bert.` prefix, old `gamma`/`beta` LayerNorm names,
    /// no classifier) loads: the encoder matches, and the missing head is initialised
    /// normal(0, initializer_range) with zero bias, the same for the same seed.
    func testOldNamesWithoutPrefixAndNewHead() throws {
        let src = try requireFixture("encoders/tiny-bert")
        let file = try SafeTensorsFile(url: src.appendingPathComponent("model.safetensors"))
        var records: [SafeTensorRecord] = []
        for name in file.names where !name.hasPrefix("classifier") {
            var renamed = name.hasPrefix("bert.") ? String(name.dropFirst(5)) : name
            if renamed.hasSuffix("LayerNorm.weight") { renamed = String(renamed.dropLast(6)) + "gamma" }
            if renamed.hasSuffix("LayerNorm.bias") { renamed = String(renamed.dropLast(4)) + "beta" }
            let info = try file.info(name)
            records.append(SafeTensorRecord(name: renamed, shape: info.shape, floats: try file.floats(name)))
        }
        try SafeTensorsWriter.write(records, to: dir.appendingPathComponent("model.safetensors"))
        try FileManager.default.copyItem(at: src.appendingPathComponent("config.json"), to: dir.appendingPathComponent("config.json"))
        let reference = try EncoderModel.load(directory: src)
        let model = try EncoderModel.load(directory: dir, seed: 5)
        XCTAssertEqual(Set(model.newlyInitialised), ["classifier.weight", "classifier.bias"])
        let expected = try SafeTensorsFile(url: src.appendingPathComponent("expected.safetensors"))
        let batch = try fixtureBatch(expected)
        XCTAssertEqual(try model.hiddenStates(batch), try reference.hiddenStates(batch), "encoder weights read under old names")
        let w = model.parameters["classifier.weight"]!.value.toArray()
        XCTAssertEqual(model.parameters["classifier.bias"]!.value.toArray(), [0, 0, 0])
        let mean = w.reduce(0, +) / Float(w.count)
        let std = (w.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Float(w.count)).squareRoot()
        XCTAssertEqual(std, model.config.initializerRange, accuracy: 0.006)
        XCTAssertEqual(try EncoderModel.load(directory: dir, seed: 5).parameters["classifier.weight"]!.value.toArray(), w, "seeded")
        XCTAssertNotEqual(try EncoderModel.load(directory: dir, seed: 6).parameters["classifier.weight"]!.value.toArray(), w)
    }

    func testPickleOnlyDirectoryIsRefusedWithConversionHint() throws {
        let src = try requireFixture("encoders/tiny-bert")
        try FileManager.default.copyItem(at: src.appendingPathComponent("config.json"), to: dir.appendingPathComponent("config.json"))
        try Data("not a pickle".utf8).write(to: dir.appendingPathComponent("pytorch_model.bin"))
        XCTAssertThrowsError(try EncoderModel.load(directory: dir)) { error in
            guard case EncoderError.pickleCheckpoint = error else { return XCTFail("\(error)") }
            XCTAssertTrue("\(error)".contains("save_pretrained"), "says how to convert: \(error)")
            XCTAssertTrue("\(error)".contains("pytorch_model.bin"))
        }
    }

    func testMissingTensorAndWrongShapeNameTheTensor() throws {
        let src = try requireFixture("encoders/tiny-bert")
        let file = try SafeTensorsFile(url: src.appendingPathComponent("model.safetensors"))
        try FileManager.default.copyItem(at: src.appendingPathComponent("config.json"), to: dir.appendingPathComponent("config.json"))
        let dropped = "bert.encoder.layer.1.output.dense.weight"
        var records = try file.names.filter { $0 != dropped }.map { name in
            SafeTensorRecord(name: name, shape: try file.info(name).shape, floats: try file.floats(name))
        }
        try SafeTensorsWriter.write(records, to: dir.appendingPathComponent("model.safetensors"))
        XCTAssertThrowsError(try EncoderModel.load(directory: dir)) { error in
            XCTAssertEqual(error as? EncoderError, .missingTensor(file: dir.appendingPathComponent("model.safetensors").path, tensor: dropped))
        }
        records.append(SafeTensorRecord(name: dropped, shape: [36, 61], floats: [Float](repeating: 0, count: 36 * 61)))
        try SafeTensorsWriter.write(records, to: dir.appendingPathComponent("model.safetensors"))
        XCTAssertThrowsError(try EncoderModel.load(directory: dir)) { error in
            guard case let EncoderError.shapeMismatch(_, tensor, expected, actual) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(tensor, dropped)
            XCTAssertEqual(expected, [36, 60])
            XCTAssertEqual(actual, [36, 61])
        }
    }

    /// LoRA merge/unmerge: merged logits equal unmerged within 1e-5 and unmerge restores W.
    func testMergeAndUnmerge() throws {
        let src = try requireFixture("encoders/tiny-roberta")
        let model = try EncoderModel.load(directory: src)
        let before = model.parameters["roberta.encoder.layer.0.attention.self.query.weight"]!.value.toArray()
        var rng = RandomGenerator(seed: 9)
        try model.attachLoRA(LoRAConfig(rank: 4, alpha: 16, targets: [.query, .value, .output]), rng: &rng)
        for a in model.adapters { rng.fillNormal(a.b.value.pointer, count: a.b.count, std: 0.1) }
        let expected = try SafeTensorsFile(url: src.appendingPathComponent("expected.safetensors"))
        let batch = try fixtureBatch(expected)
        let unmerged = try model.predict(batch)
        XCTAssertGreaterThan(Approx.maxAbsDiff(unmerged, try expected.floats("logits")), 1e-3, "adapters change the output")
        model.mergeAdapters()
        XCTAssertLessThanOrEqual(Approx.maxAbsDiff(try model.predict(batch), unmerged), 1e-5)
        model.unmergeAdapters()
        let after = model.parameters["roberta.encoder.layer.0.attention.self.query.weight"]!.value.toArray()
        XCTAssertLessThanOrEqual(Approx.relativeL2(after, before), 1e-6)
        XCTAssertLessThanOrEqual(Approx.maxAbsDiff(try model.predict(batch), unmerged), 1e-6)
    }
}
