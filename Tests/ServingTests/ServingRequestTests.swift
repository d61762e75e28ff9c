// Request bodies, adapter loading and answers of the server, checked without HTTP.
import Foundation
import Encoders
import Serving
import Tensors
import TestSupport
import XCTest

final class ServingRequestTests: XCTestCase {
    func status(_ body: String, maxInputs: Int = 4, file: StaticString = #filePath, line: UInt = #line) -> (Int, String)? {
        do {
            _ = try ClassifyRequest.parse(Data(body.utf8), maxInputs: maxInputs)
            return nil
        } catch let e as ServingError {
            return (e.status, e.message)
        } catch {
            XCTFail("not a ServingError: \(error)", file: file, line: line)
            return nil
        }
    }

    func testClassifyBodiesAreParsedAndEachFaultNamed() throws {
        let ok = try ClassifyRequest.parse(Data(#"{"adapter": "sst2", "inputs": ["a", ["b", "c"]]}"#.utf8), maxInputs: 4)
        XCTAssertEqual(ok, ClassifyRequest(adapter: "sst2", inputs: [.init("a"), .init("b", pair: "c")]))
        let cases: [(String, String)] = [
            ("", "empty"),
            (#"{"adapter": "x", "inputs": ["a"]"#, "not valid JSON: line 1"),
            ("[1, 2]", "must be a JSON object"),
            (#"{"adapter": "x"}"#, "missing field inputs"),
            (#"{"adapter": "x", "inputs": ["a"], "input": 1}"#, "unknown field \"input\""),
            (#"{"adapter": 3, "inputs": ["a"]}"#, "\"adapter\" must be a string"),
            (#"{"adapter": "x", "inputs": "a"}"#, "\"inputs\" must be an array"),
            (#"{"adapter": "x", "inputs": []}"#, "\"inputs\" is empty"),
            (#"{"adapter": "x", "inputs": ["a", "b", "c", "d", "e"]}"#, "at most 4 per request"),
            (#"{"adapter": "x", "inputs": ["a", 7]}"#, "inputs[1] must be a string"),
            (#"{"adapter": "x", "inputs": [["a", "b", "c"]]}"#, "inputs[0] is an array of 3"),
            (#"{"adapter": "x", "inputs": [["a", 1]]}"#, "inputs[0][1] must be a string"),
            (#"{"adapter": "x", "inputs": ["a", ""]}"#, "inputs[1] is an empty string"),
        ]
        for (body, expected) in cases {
            guard let (code, message) = status(body) else { XCTFail("accepted: \(body)"); continue }
            XCTAssertEqual(code, 400, body)
            XCTAssertTrue(message.contains(expected), "\(body): \(message)")
        }
    }

    func testLoadAdapterBodiesAndNames() throws {
        XCTAssertEqual(try LoadAdapterRequest.parse(Data(#"{"name": "mrpc-2", "path": "runs/a"}"#.utf8)),
                       LoadAdapterRequest(name: "mrpc-2", path: "runs/a"))
        for body in [#"{"name": "a/b", "path": "x"}"#, #"{"name": "", "path": "x"}"#, #"{"name": "a", "path": ""}"#, #"{"name": "a"}"#] {
            XCTAssertThrowsError(try LoadAdapterRequest.parse(Data(body.utf8)), body) { error in
                XCTAssertEqual((error as? ServingError)?.status, 400, body)
            }
        }
    }

    func testRegistryLoadsChecksAndUnloadsAdapters() async throws {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("lora-registry-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        let modelDir = try TinyModels.withVocabulary("tiny-bert", in: scratch).dir
        let registry = try AdapterRegistry(modelPath: modelDir.path, maxLength: 8)

        // A trained adapter: A, B and a three-class head with names.
        let trained = try EncoderModel.load(directory: modelDir, labelCount: 3)
        var rng = RandomGenerator(seed: 1)
        try trained.attachLoRA(LoRAConfig(rank: 2), rng: &rng)
        trained.setLabelNames(["a", "b", "c"])
        let good = scratch.appendingPathComponent("good")
        try PEFTAdapter.save(trained, to: good, baseModelPath: "base")
        let entry = try registry.load(name: "good", path: good.path)
        XCTAssertEqual(entry.adapter.labelCount, 3)
        XCTAssertEqual(entry.adapter.labelNames, ["a", "b", "c"])

        func refused(_ name: String, _ path: String, _ code: Int, _ text: String, line: UInt = #line) {
            XCTAssertThrowsError(try registry.load(name: name, path: path), line: line) { error in
                let e = error as? ServingError
                XCTAssertEqual(e?.status, code, "\(error)", line: line)
                XCTAssertTrue(e?.message.contains(text) ?? false, "\(error)", line: line)
            }
        }
        refused("good", good.path, 409, "already loaded")
        refused("bad/name", good.path, 400, "must be 1-64")
        refused("missing", scratch.appendingPathComponent("nowhere").path, 422, "adapter_config.json")
        // A truncated weights file.
        let corrupt = scratch.appendingPathComponent("corrupt")
        try FileManager.default.copyItem(at: good, to: corrupt)
        let weights = corrupt.appendingPathComponent("adapter_model.safetensors")
        try Data(try Data(contentsOf: weights).prefix(100)).write(to: weights)
        refused("corrupt", corrupt.path, 422, "adapter_model.safetensors")
        // No head: its answers would come from a random layer.
        let headless = scratch.appendingPathComponent("headless")
        try FileManager.default.copyItem(at: good, to: headless)
        let file = try SafeTensorsTestFile(headless.appendingPathComponent("adapter_model.safetensors"))
        try file.dropping { $0.contains("classifier") }
        refused("headless", headless.path, 422, "no trained classification head")
        XCTAssertEqual(registry.all.map(\.name), ["good"], "failed loads leave the registry as it was")

        // Truncation as lora predict truncates, and said.
        let service = ClassifyService(registry: registry, scheduler: BatchScheduler(models: [registry.model]))
        let long = service.encode(.init((5..<40).map { "w\($0)" }.joined(separator: " ")))
        XCTAssertTrue(long.truncated)
        XCTAssertEqual(long.encoding.count, 8)
        XCTAssertEqual(long.encoding, registry.tokenizer.encode("w5 w6 w7 w8 w9 w10 w11 w12 w13", pair: nil, maxLength: 8))
        XCTAssertFalse(service.encode(.init("w5 w6")).truncated)

        service.scheduler.start()
        let answer = try await service.classify(body: Data(#"{"adapter": "good", "inputs": ["w5 w6", ["w7", "w8 w9"]]}"#.utf8))
        service.scheduler.shutdown()
        let json = try JSONSerialization.jsonObject(with: answer) as! [String: Any]
        let results = json["results"] as! [[String: Any]]
        XCTAssertEqual(results.count, 2)
        for r in results {
            let p = (r["probabilities"] as! [NSNumber]).map(\.doubleValue)
            XCTAssertEqual(p.reduce(0, +), 1, accuracy: 1e-5)
            XCTAssertTrue(["a", "b", "c"].contains(r["label"] as! String))
            XCTAssertEqual((r["logits"] as! [NSNumber]).count, 3)
        }
        XCTAssertTrue(registry.unload("good"))
        XCTAssertFalse(registry.unload("good"))
        XCTAssertThrowsError(try registry.require("good")) { XCTAssertEqual(($0 as? ServingError)?.status, 404) }
    }
}

/// Rewrites a safetensors file without some tensors (a headless adapter).
struct SafeTensorsTestFile {
    let url: URL
    init(_ url: URL) throws { self.url = url }

    func dropping(_ drop: (String) -> Bool) throws {
        let data = try Data(contentsOf: url)
        let n = data.prefix(8).withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }
        var header = try JSONSerialization.jsonObject(with: data.subdata(in: 8..<(8 + Int(n)))) as! [String: Any]
        for key in header.keys where drop(key) { header.removeValue(forKey: key) }
        var headerData = try JSONSerialization.data(withJSONObject: header)
        while headerData.count % 8 != 0 { headerData.append(0x20) }
        var out = Data()
        withUnsafeBytes(of: UInt64(headerData.count).littleEndian) { out.append(contentsOf: $0) }
        out.append(headerData)
        out.append(data.subdata(in: (8 + Int(n))..<data.count))
        try out.write(to: url)
    }
}
