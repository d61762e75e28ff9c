// Every bad model config, checkpoint and adapter input gets an error naming the file, key or tensor.
import Foundation
import InputValidation
import SafeTensors
import TestSupport
import XCTest
@testable import Encoders

final class InputValidationTests: XCTestCase {
    var scratch: URL!

    override func setUpWithError() throws {
        scratch = FileManager.default.temporaryDirectory.appendingPathComponent("lora-validation-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: scratch) }

    /// A copy of the tiny BERT fixture with some config.json keys changed.
    func tinyBERT(_ changes: [String: Any] = [:], name: String = "model") throws -> URL {
        let dir = scratch.appendingPathComponent(name)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let source = TestPaths.fixture("encoders/tiny-bert")
        var config = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: source.appendingPathComponent("config.json"))) as? [String: Any])
        for (k, v) in changes { config[k] = v }
        try JSONSerialization.data(withJSONObject: config).write(to: dir.appendingPathComponent("config.json"))
        try? FileManager.default.copyItem(at: source.appendingPathComponent("model.safetensors"), to: dir.appendingPathComponent("model.safetensors"))
        return dir
    }

    func message(_ body: () throws -> Void) -> String {
        do { try body(); return "no error" } catch { return "\(error)" }
    }

    /// The config traps and silent cases: zero or negative sizes, heads not dividing the
    /// width, dropout 1, eps 0, no labels — each refused naming the key and the range.
    func testModelConfigValuesAreRangeChecked() throws {
        let cases: [([String: Any], String)] = [
            (["num_attention_heads": 0], "num_attention_heads is 0; it must be an integer in 1…36"),
            (["num_attention_heads": -2], "num_attention_heads is -2"),
            (["num_attention_heads": 5], "num_attention_heads is 5; it must be a divisor of hidden_size 36"),
            (["hidden_size": -36], "hidden_size is -36"),
            (["intermediate_size": 0], "intermediate_size is 0"),
            (["vocab_size": -1], "vocab_size is -1"),
            (["max_position_embeddings": -5], "max_position_embeddings is -5"),
            (["num_hidden_layers": 0], "num_hidden_layers is 0"),
            (["hidden_dropout_prob": 1.0], "hidden_dropout_prob is 1; it must be in [0, 1)"),
            (["attention_probs_dropout_prob": 1.0], "attention_probs_dropout_prob is 1"),
            (["layer_norm_eps": 0], "layer_norm_eps is 0; it must be a finite number > 0"),
            (["num_labels": 0, "id2label": [String: String]()], "num_labels is 0"),
        ]
        for (change, expected) in cases {
            let dir = try tinyBERT(change, name: "case-\(UUID().uuidString)")
            let text = message { _ = try EncoderModel.load(directory: dir) }
            XCTAssertTrue(text.contains(expected), "\(change): \(text)")
            XCTAssertTrue(text.contains("config.json"), "names the file: \(text)")
        }
    }

    /// num_hidden_layers 1 on a 2-layer checkpoint would silently use half of it.
    func testLayerCountMustMatchTheCheckpoint() throws {
        let dir = try tinyBERT(["num_hidden_layers": 1])
        let text = message { _ = try EncoderModel.load(directory: dir) }
        XCTAssertTrue(text.contains("num_hidden_layers is 1; it must be 2, the number of layers in"), text)
    }

    /// A NaN weight makes every logit NaN; it is refused at load, naming the tensor.
    func testNonFiniteWeightsAreRefused() throws {
        let dir = try tinyBERT()
        let file = try SafeTensorsFile(url: dir.appendingPathComponent("model.safetensors"))
        var records: [SafeTensorRecord] = []
        var storage: [[Float]] = []
        for name in file.names {
            let info = try file.info(name)
            var values = [Float](repeating: 0, count: info.shape.reduce(1, *))
            try values.withUnsafeMutableBufferPointer { try file.readFloats(name, into: $0.baseAddress!, count: $0.count) }
            if name.hasSuffix("layer.1.output.dense.weight") { values[7] = .nan }
            storage.append(values)
            records.append(SafeTensorRecord(name: name, shape: info.shape, floats: values))
        }
        try SafeTensorsWriter.write(records, to: dir.appendingPathComponent("model.safetensors"))
        let text = message { _ = try EncoderModel.load(directory: dir) }
        XCTAssertTrue(text.contains("tensor 'bert.encoder.layer.1.output.dense.weight' holds a non-finite value (nan at element 7)"), text)
        XCTAssertEqual(FiniteCheck.firstNonFinite([1, 2, .infinity, 3], count: 4), 2)
        XCTAssertNil(FiniteCheck.firstNonFinite([Float](repeating: 1, count: 10_000), count: 10_000))
    }

    /// JSONSerialization keeps the last of two equal keys: a duplicate tensor must be refused.
    func testDuplicateTensorNamesAreRefused() throws {
        let header = #"{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"w":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#
        var bytes = Data()
        withUnsafeBytes(of: UInt64(header.utf8.count).littleEndian) { bytes.append(contentsOf: $0) }
        bytes.append(Data(header.utf8))
        bytes.append(Data(count: 8))
        let url = scratch.appendingPathComponent("dup.safetensors")
        try bytes.write(to: url)
        let text = message { _ = try SafeTensorsFile(url: url) }
        XCTAssertTrue(text.contains("tensor 'w' is named twice"), text)
    }

    /// Writes an adapter for the tiny BERT (r = 2 on query and value of both layers, a head).
    func adapter(config changes: [String: Any] = [:], extraLayer: Bool = false, head: Bool = true, nan: Bool = false) throws -> URL {
        let dir = scratch.appendingPathComponent("adapter-\(UUID().uuidString)")
        var config: [String: Any] = ["peft_type": "LORA", "task_type": "SEQ_CLS", "r": 2, "lora_alpha": 4, "lora_dropout": 0.0,
                                     "target_modules": ["query", "value"], "bias": "none", "use_dora": false, "layers_to_transform": NSNull()]
        for (k, v) in changes { config[k] = v }
        var records: [SafeTensorRecord] = []
        for layer in 0..<(extraLayer ? 3 : 2) {
            for module in ["query", "value"] {
                let path = "base_model.model.bert.encoder.layer.\(layer).attention.self.\(module)"
                var a = [Float](repeating: 0.01, count: 2 * 36)
                if nan && layer == 1 { a[3] = .nan }
                records.append(SafeTensorRecord(name: path + ".lora_A.weight", shape: [2, 36], floats: a))
                records.append(SafeTensorRecord(name: path + ".lora_B.weight", shape: [36, 2], floats: [Float](repeating: 0.01, count: 72)))
            }
        }
        if head {
            records.append(SafeTensorRecord(name: "base_model.model.classifier.weight", shape: [3, 36], floats: [Float](repeating: 0.1, count: 108)))
            records.append(SafeTensorRecord(name: "base_model.model.classifier.bias", shape: [3], floats: [0, 0, 0]))
        }
        try SafeTensorsWriter.write(records, to: dir.appendingPathComponent("adapter_model.safetensors"))
        try JSONSerialization.data(withJSONObject: config).write(to: dir.appendingPathComponent("adapter_config.json"))
        return dir
    }

    func testAdapterConfigAndTensorsAreChecked() throws {
        let model = try tinyBERT()
        func load(_ adapter: URL) -> String {
            message {
                let m = try EncoderModel.load(directory: model)
                try PEFTAdapter.load(adapter, into: m)
            }
        }
        XCTAssertEqual(load(try adapter()), "no error")
        XCTAssertTrue(load(try adapter(config: ["r": 0])).contains("r is 0; it must be an integer in 1…65536"))
        XCTAssertTrue(load(try adapter(config: ["r": -4])).contains("r is -4"))
        XCTAssertTrue(load(try adapter(config: ["lora_alpha": 0])).contains("lora_alpha is 0"))
        // Finite as a Double, infinite as the Float scale (a fuzzing find).
        XCTAssertTrue(load(try adapter(config: ["lora_alpha": 4.6e50])).contains("lora_alpha is 4.6e+50; it must be a finite number > 0 within a 32-bit float's range"))
        XCTAssertTrue(load(try adapter(config: ["layers_to_transform": [0]])).contains("layers_to_transform (adapters on some layers only) is not supported"))
        XCTAssertTrue(load(try adapter(config: ["use_dora": true])).contains("DoRA adapters are not supported"))
        let mismatch = load(try adapter(config: ["target_modules": ["query", "key", "value"]]))
        XCTAssertTrue(mismatch.contains("target_modules names key, query, value but"), mismatch)
        let extra = load(try adapter(extraLayer: true))
        XCTAssertTrue(extra.contains("tensors beyond this model and adapter (2 layers"), extra)
        XCTAssertTrue(extra.contains("layer.2.attention.self.query.lora_A.weight"), extra)
        XCTAssertTrue(load(try adapter(nan: true)).contains("holds a non-finite value"))
        // The rank may not exceed the adapted layers' width (36 here).
        XCTAssertTrue(load(try adapter(config: ["r": 40])).contains("r is 40; it must be an integer in 1…36"))

        // No head in the adapter, none of that size in the base: it loads, and the model says its head is random.
        let m = try EncoderModel.load(directory: model, labelCount: 2)
        try PEFTAdapter.load(try adapter(head: false), into: m)
        XCTAssertEqual(Set(m.newlyInitialised), Set(m.headParameterNames))
        let withHead = try EncoderModel.load(directory: model, labelCount: 3)
        try PEFTAdapter.load(try adapter(), into: withHead)
        XCTAssertTrue(withHead.newlyInitialised.isEmpty, "\(withHead.newlyInitialised)")
    }

    func testFileErrorsNameTheFileAndTheCause() {
        let error = CocoaError(.fileReadNoPermission, userInfo: [NSFilePathErrorKey: "/data/train.tsv",
                                                                 NSUnderlyingErrorKey: NSError(domain: NSPOSIXErrorDomain, code: Int(EACCES))])
        XCTAssertEqual(FileErrors.describe(error), "/data/train.tsv: Permission denied")
        let missing = CocoaError(.fileReadNoSuchFile, userInfo: [NSFilePathErrorKey: "/x/y"])
        XCTAssertEqual(FileErrors.describe(missing), "/x/y: no such file or directory")
        XCTAssertNil(FileErrors.describe(NSError(domain: "other", code: 1)))
    }
}
