import XCTest
import Foundation
import Tensors
import SafeTensors
import Encoders
import TestSupport

/// A packed batch read from a fixture's `input_ids`, `token_type_ids` and `lengths`.
func fixtureBatch(_ file: SafeTensorsFile, prefix: String = "") throws -> EncoderBatch {
    let ids = try file.integers(prefix + "input_ids").map(Int32.init)
    let types = try file.integers(prefix + "token_type_ids").map(Int32.init)
    let lengths = try file.integers(prefix + "lengths")
    var seqs: [[Int32]] = [], tseqs: [[Int32]] = []
    var o = 0
    for l in lengths {
        seqs.append(Array(ids[o..<(o + l)]))
        tseqs.append(Array(types[o..<(o + l)]))
        o += l
    }
    return EncoderBatch(sequences: seqs, typeIds: tseqs)
}

func requireFixture(_ relative: String) throws -> URL {
    let url = TestPaths.fixture(relative)
    switch TestPaths.require(url, hint: "regenerate with scripts/reference/make_fixtures.py") {
    case let .success(u): return u
    case let .failure(e): XCTFail(e.message); throw e
    }
}

final class EncoderParityTests: XCTestCase {
    /// Logits and loss within 1e-5 absolute; hidden states within 1e-5; every parameter
    /// gradient within 1e-4 relative in the L2 norm of the whole tensor (absolute 1e-6 for
    /// gradients that are mathematically zero, such as the key bias).
    func checkFullFineTuningParity(_ name: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let dir = try requireFixture("encoders/\(name)")
        let expected = try SafeTensorsFile(url: dir.appendingPathComponent("expected.safetensors"))
        let model = try EncoderModel.load(directory: dir)
        XCTAssertTrue(model.newlyInitialised.isEmpty, "\(name): head should come from the checkpoint")
        model.setFullFineTuning()
        let batch = try fixtureBatch(expected)
        let labels: BatchLabels = model.config.isRegression
            ? .targets(try expected.floats("labels")) : .classes(try expected.integers("labels").map(Int32.init))
        var rng = RandomGenerator(seed: 0)
        let (loss, logits) = try model.forwardBackward(batch, labels: labels, training: false, rng: &rng)
        XCTAssertLessThanOrEqual(Approx.maxAbsDiff(logits, try expected.floats("logits")), 1e-5, "\(name): logits", file: file, line: line)
        // predict computes the last layer for each sequence's first token only.
        XCTAssertLessThanOrEqual(Approx.maxAbsDiff(try model.predict(batch), try expected.floats("logits")), 1e-5,
                                 "\(name): predict's logits", file: file, line: line)
        XCTAssertEqual(loss, try expected.floats("loss")[0], accuracy: 1e-5, "\(name): loss", file: file, line: line)
        XCTAssertLessThanOrEqual(Approx.maxAbsDiff(try model.hiddenStates(batch), try expected.floats("hidden")), 1e-5,
                                 "\(name): last hidden state", file: file, line: line)
        var checked = 0
        for p in model.parameters.all {
            let ref = try expected.floats("grad." + p.name)
            guard let g = p.gradient?.toArray() else { XCTFail("\(p.name) has no gradient"); continue }
            let refNorm = Approx.relativeL2(ref, [Float](repeating: 0, count: ref.count))
            if refNorm.isNaN || ref.allSatisfy({ abs($0) < 1e-9 }) {
                XCTAssertLessThanOrEqual(Approx.maxAbsDiff(g, ref), 1e-6, "\(name): \(p.name) (zero gradient)", file: file, line: line)
            } else {
                let rel = Approx.relativeL2(g, ref)
                XCTAssertLessThanOrEqual(rel, 1e-4, "\(name): gradient of \(p.name): relative L2 error \(rel)", file: file, line: line)
            }
            checked += 1
        }
        XCTAssertEqual(checked, expected.tensors.keys.filter { $0.hasPrefix("grad.") }.count, "every fixture gradient checked")
    }

    func testTinyBertFullFineTuningParity() throws { try checkFullFineTuningParity("tiny-bert") }
    func testTinyRobertaFullFineTuningParity() throws { try checkFullFineTuningParity("tiny-roberta") }
    func testTinyRobertaRegressionParity() throws { try checkFullFineTuningParity("tiny-roberta-regression") }

    /// Frozen encoder with LoRA (PEFT's names and initial weights): gradients of the adapters
    /// and the head match PEFT's first step; frozen weights get no gradient buffer.
    func checkLoRAGradients(_ name: String) throws {
        let dir = try requireFixture("lora/\(name)")
        let initial = try SafeTensorsFile(url: dir.appendingPathComponent("initial.safetensors"))
        let expected = try SafeTensorsFile(url: dir.appendingPathComponent("expected.safetensors"))
        let model = try EncoderModel.load(directory: dir.appendingPathComponent("base"))
        var rng = RandomGenerator(seed: 1)
        model.attachLoRA(LoRAConfig(rank: 4, alpha: 8, targets: [.query, .value]), rng: &rng)
        for p in model.parameters.trainable {
            try initial.readFloats("base_model.model." + p.name, into: p.value.pointer, count: p.count)
        }
        XCTAssertEqual(Set(model.parameters.trainable.map(\.name)).count, 8 + model.headParameterNames.count)
        for p in model.parameters.all where !p.name.contains("lora_") && !model.headParameterNames.contains(p.name) {
            XCTAssertNil(p.gradient, "\(p.name) is frozen and must have no gradient buffer")
        }
        let batch = try fixtureBatch(expected, prefix: "step1.")
        let labels = try expected.integers("step1.labels").map(Int32.init)
        let (loss, logits) = try model.forwardBackward(batch, labels: .classes(labels), training: false, rng: &rng)
        XCTAssertEqual(loss, try expected.floats("step1.loss")[0], accuracy: 1e-5)
        XCTAssertLessThanOrEqual(Approx.maxAbsDiff(logits, try expected.floats("step1.logits")), 1e-5)
        for p in model.parameters.trainable {
            let full = "base_model.model." + p.name
                .replacingOccurrences(of: "lora_A.weight", with: "lora_A.default.weight")
                .replacingOccurrences(of: "lora_B.weight", with: "lora_B.default.weight")
                .replacingOccurrences(of: "classifier.", with: "classifier.modules_to_save.default.")
            let ref = try expected.floats("step1.grad." + full)
            let rel = Approx.relativeL2(p.gradient!.toArray(), ref)
            XCTAssertLessThanOrEqual(rel, 1e-4, "\(name): gradient of \(p.name): relative L2 error \(rel)")
        }
    }

    func testTinyRobertaLoRAGradientsMatchPEFT() throws { try checkLoRAGradients("peft-tiny-roberta") }
    func testTinyBertLoRAGradientsMatchPEFT() throws { try checkLoRAGradients("peft-tiny-bert") }

    /// `predict` (last layer on first tokens only) gives the logits of the full forward pass,
    /// one-token sequences included.
    func testPredictMatchesFullForwardPass() throws {
        for name in ["tiny-bert", "tiny-roberta"] {
            let model = try EncoderModel.load(directory: try requireFixture("encoders/\(name)"))
            var rng = RandomGenerator(seed: 3)
            let lengths = [1, 9, 4, 1, 17]
            let sequences = lengths.map { l in (0..<l).map { _ in Int32(5 + Int(rng.next() % 90)) } }
            let batch = EncoderBatch(sequences: sequences, typeIds: lengths.map { [Int32](repeating: 0, count: $0) })
            let labels: BatchLabels = model.config.isRegression
                ? .targets([Float](repeating: 0, count: lengths.count)) : .classes([Int32](repeating: 0, count: lengths.count))
            let full = try model.forwardBackward(batch, labels: labels, training: false, rng: &rng).logits
            let predicted = try model.predict(batch)
            XCTAssertEqual(predicted.count, full.count)
            XCTAssertLessThanOrEqual(Approx.maxAbsDiff(predicted, full), 1e-5, "\(name)")
        }
    }

    /// all-MiniLM-L6-v2 (real weights) on 64 MRPC dev pairs: logits within 1e-4 of transformers.
    func testMiniLMLogitsOnRealMRPCPairs() throws {
        let modelDir = TestPaths.miniLMDirectory
        guard FileManager.default.fileExists(atPath: modelDir.appendingPathComponent("model.safetensors").path) else {
            XCTFail("missing \(modelDir.path): run scripts/fetch-model.sh (the README's test command does)")
            return
        }
        let expected = try SafeTensorsFile(url: try requireFixture("encoders/minilm-mrpc64/expected.safetensors"))
        let model = try EncoderModel.load(directory: modelDir, labelCount: 2)
        XCTAssertEqual(Set(model.newlyInitialised), ["classifier.weight", "classifier.bias"])
        for name in ["classifier.weight", "classifier.bias"] {
            let p = model.parameters[name]!
            try expected.readFloats(name, into: p.value.pointer, count: p.count)
        }
        let batch = try fixtureBatch(expected)
        XCTAssertEqual(batch.count, 64)
        let logits = try model.predict(batch)
        let diff = Approx.maxAbsDiff(logits, try expected.floats("logits"))
        XCTAssertLessThanOrEqual(diff, 1e-4, "MiniLM logits max abs diff \(diff)")
    }
}
