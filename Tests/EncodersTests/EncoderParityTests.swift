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
    /// ELECTRA with `embedding_size` 24 < `hidden_size` 36: `embeddings_project` and the GELU head.
    func testTinyElectraFullFineTuningParity() throws { try checkFullFineTuningParity("tiny-electra") }
    /// DistilBERT: its names, no token types (the fixture's pair types must be ignored), no
    /// dropout after attention, the pre_classifier + ReLU head.
    func testTinyDistilbertFullFineTuningParity() throws { try checkFullFineTuningParity("tiny-distilbert") }
    /// XLM-RoBERTa and CamemBERT: RoBERTa's body under their own model types and classes.
    func testTinyXLMRobertaFullFineTuningParity() throws { try checkFullFineTuningParity("tiny-xlm-roberta") }
    func testTinyCamembertFullFineTuningParity() throws { try checkFullFineTuningParity("tiny-camembert") }
    /// ModernBERT with every bias on, global layers 0 and 3, a window of 8 (|i − j| ≤ 4) in
    /// layers 1 and 2 over sequences up to 21 tokens, distinct RoPE bases, first-token pooling.
    func testTinyModernBertFullFineTuningParity() throws { try checkFullFineTuningParity("tiny-modernbert") }
    /// ModernBERT bias-free (the published default) with mean pooling.
    func testTinyModernBertMeanPoolingParity() throws { try checkFullFineTuningParity("tiny-modernbert-mean") }

    /// Frozen encoder with LoRA (PEFT's names and initial weights): gradients of the adapters
    /// and the head match PEFT's first step; frozen weights get no gradient buffer.
    func checkLoRAGradients(_ name: String) throws {
        let dir = try requireFixture("lora/\(name)")
        let initial = try SafeTensorsFile(url: dir.appendingPathComponent("initial.safetensors"))
        let expected = try SafeTensorsFile(url: dir.appendingPathComponent("expected.safetensors"))
        let model = try EncoderModel.load(directory: dir.appendingPathComponent("base"))
        var rng = RandomGenerator(seed: 1)
        let targets = model.config.family.defaultTargets
        try model.attachLoRA(LoRAConfig(rank: 4, alpha: 8, targets: targets), rng: &rng)
        for p in model.parameters.trainable {
            try initial.readFloats("base_model.model." + p.name, into: p.value.pointer, count: p.count)
        }
        XCTAssertEqual(Set(model.parameters.trainable.map(\.name)).count,
                       2 * targets.count * model.config.layerCount + model.headParameterNames.count)
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
    func testTinyElectraLoRAGradientsMatchPEFT() throws { try checkLoRAGradients("peft-tiny-electra") }
    func testTinyDistilbertLoRAGradientsMatchPEFT() throws { try checkLoRAGradients("peft-tiny-distilbert") }
    func testTinyModernBertLoRAGradientsMatchPEFT() throws { try checkLoRAGradients("peft-tiny-modernbert") }
    func testTinyXLMRobertaLoRAGradientsMatchPEFT() throws { try checkLoRAGradients("peft-tiny-xlm-roberta") }
    func testTinyCamembertLoRAGradientsMatchPEFT() throws { try checkLoRAGradients("peft-tiny-camembert") }

    /// A batch of random ids with one-token sequences among others.
    func mixedLengthBatch(_ rng: inout RandomGenerator, lengths: [Int] = [1, 9, 4, 1, 17]) -> EncoderBatch {
        let sequences = lengths.map { l in (0..<l).map { _ in Int32(5 + Int(rng.next() % 90)) } }
        return EncoderBatch(sequences: sequences, typeIds: lengths.map { [Int32](repeating: 0, count: $0) })
    }

    /// `predict` with the last layer on first tokens only gives the logits of the full layer.
    func testPredictMatchesFullLastLayer() throws {
        for name in ["tiny-bert", "tiny-roberta", "tiny-electra", "tiny-distilbert"] {
            let model = try EncoderModel.load(directory: try requireFixture("encoders/\(name)"))
            var rng = RandomGenerator(seed: 3)
            let batch = mixedLengthBatch(&rng)
            XCTAssertTrue(model.lastLayerFirstTokensOnly, "on by default")
            let predicted = try model.predict(batch)
            model.lastLayerFirstTokensOnly = false
            let full = try model.predict(batch)
            XCTAssertEqual(predicted.count, full.count)
            XCTAssertLessThanOrEqual(Approx.maxAbsDiff(predicted, full), 1e-5, "\(name)")
        }
    }

    /// A training step with the last layer on first tokens only gives the loss, logits and
    /// every gradient of the full layer, with hidden, attention and adapter dropout on (the
    /// masks are drawn in the full layer's order and shapes, so the same seed drops the same
    /// elements). LoRA on all six projections with random B, and full fine-tuning.
    func testFirstTokenLastLayerTrainingStepMatchesFullLayer() throws {
        for (name, lora) in [("tiny-roberta", true), ("tiny-bert", false), ("tiny-roberta-regression", false),
                             ("tiny-electra", true), ("tiny-electra", false), ("tiny-distilbert", true), ("tiny-distilbert", false)] {
            let model = try EncoderModel.load(directory: try requireFixture("encoders/\(name)"))
            model.setDropout(hidden: 0.1, attention: 0.1)
            var rng = RandomGenerator(seed: 11)
            if lora {
                try model.attachLoRA(LoRAConfig(rank: 4, alpha: 8, dropout: 0.1, targets: model.config.family.layer.targets), rng: &rng)
                for adapter in model.adapters {
                    for i in 0..<adapter.b.count { adapter.b.value.pointer[i] = 0.05 * rng.nextNormal() }
                }
            } else {
                model.setFullFineTuning()
            }
            let batch = mixedLengthBatch(&rng)
            let labels: BatchLabels = model.config.isRegression
                ? .targets((0..<batch.count).map { Float($0) / 2 }) : .classes((0..<batch.count).map { Int32($0 % 2) })
            func step(firstTokensOnly: Bool) throws -> (Float, [Float], [String: [Float]]) {
                model.lastLayerFirstTokensOnly = firstTokensOnly
                model.parameters.zeroGradients()
                var stepRNG = RandomGenerator(seed: 77)
                let (loss, logits) = try model.forwardBackward(batch, labels: labels, training: true, rng: &stepRNG)
                var gradients: [String: [Float]] = [:]
                for p in model.parameters.trainable { gradients[p.name] = p.gradient!.toArray() }
                return (loss, logits, gradients)
            }
            let (fullLoss, fullLogits, fullGradients) = try step(firstTokensOnly: false)
            let (loss, logits, gradients) = try step(firstTokensOnly: true)
            XCTAssertEqual(loss, fullLoss, accuracy: 1e-5, name)
            XCTAssertLessThanOrEqual(Approx.maxAbsDiff(logits, fullLogits), 1e-5, name)
            XCTAssertFalse(fullGradients.isEmpty)
            for (parameter, reference) in fullGradients {
                let ours = gradients[parameter]!
                if parameter.hasSuffix("key.bias") || parameter.hasSuffix("k_lin.bias") {
                    // Mathematically zero (softmax ignores a shift shared by all keys): rounding noise on both sides.
                    XCTAssertLessThanOrEqual(Approx.maxAbsDiff(ours, reference), 1e-6, "\(name): \(parameter) (zero gradient)")
                } else {
                    let rel = Approx.relativeL2(ours, reference)
                    XCTAssertLessThanOrEqual(rel, 1e-5, "\(name): gradient of \(parameter): relative L2 error \(rel)")
                }
            }
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
