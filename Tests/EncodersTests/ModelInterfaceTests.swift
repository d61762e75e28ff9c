// Tests of the one model interface: parameters as views into one slab, gradients into another, and families as data.
import XCTest
import Foundation
import Tensors
import Encoders
import TestSupport

final class ParameterSlabTests: XCTestCase {
    func tinyModel(_ family: String) throws -> EncoderModel {
        let json = """
        {"model_type": "\(family)", "vocab_size": 40, "hidden_size": 12, "num_hidden_layers": 2, "num_attention_heads": 3,
         "intermediate_size": 20, "max_position_embeddings": 24, "num_labels": 3}
        """
        let model = EncoderModel(config: try JSONDecoder().decode(EncoderConfig.self, from: Data(json.utf8)))
        model.initialiseRandomly(seed: 5)
        return model
    }

    /// Every parameter is a disjoint, in-bounds view of the store's one value slab.
    func assertOneSlab(_ store: ParameterStore, file: StaticString = #filePath, line: UInt = #line) {
        var end = 0
        for p in store.all {
            XCTAssertEqual(p.value.pointer, store.values.base + p.valueOffset, p.name, file: file, line: line)
            XCTAssertGreaterThanOrEqual(p.valueOffset, end, "\(p.name) overlaps the parameter before it", file: file, line: line)
            end = p.valueOffset + p.count
        }
        XCTAssertLessThanOrEqual(end, store.values.used, file: file, line: line)
    }

    func testParametersAndGradientsAreViewsIntoOneAllocationEach() throws {
        for family in ["bert", "roberta"] {
            let model = try tinyModel(family)
            let store = model.parameters
            assertOneSlab(store)
            XCTAssertNil(store.gradients, "nothing trains before a method is chosen")
            let before = store.all.map { $0.value.toArray() }

            var rng = RandomGenerator(seed: 1)
            try model.attachLoRA(LoRAConfig(rank: 2, alpha: 4, targets: [.query, .value]), rng: &rng)
            assertOneSlab(store)
            for (p, values) in zip(store.all, before) {
                XCTAssertEqual(p.value.toArray(), values, "\(family): \(p.name) changed when the slab grew for the adapters")
            }
            // Gradients: exactly the adapters and the head, laid out in order in one slab.
            let trained = Set(store.trainable.map(\.name))
            XCTAssertEqual(trained, Set(store.all.filter { $0.name.contains(".lora_") }.map(\.name) + model.headParameterNames))
            var next = 0
            for p in store.trainable {
                XCTAssertEqual(p.gradient?.pointer, store.gradients!.base + p.gradientOffset!)
                XCTAssertEqual(p.gradientOffset!, (next + 15) & ~15, "\(p.name) is not right after the gradient before it")
                next = p.gradientOffset! + p.count
            }
            XCTAssertEqual(store.gradientCount, next)
            for p in store.all where !trained.contains(p.name) { XCTAssertNil(p.gradient, p.name) }

            // Zeroing is one pass over the slab.
            store.trainable.last!.gradient![0] = 3
            store.zeroGradients()
            XCTAssertEqual(store.trainable.last!.gradient![0], 0)
        }
    }

    func testFullFineTuningLaysOutEveryGradient() throws {
        let model = try tinyModel("bert")
        model.setFullFineTuning()
        XCTAssertEqual(model.parameters.trainable.count, model.parameters.all.count)
        XCTAssertEqual(model.parameters.trainableCount, model.parameters.totalCount)
        XCTAssertGreaterThanOrEqual(model.parameters.gradientCount, model.parameters.totalCount)
    }
}

final class FamilyTests: XCTestCase {
    func testEveryFamilyIsFoundByItsModelTypeAndNamesItsModules() {
        XCTAssertEqual(EncoderFamily.forModelType("bert"), .bert)
        XCTAssertEqual(EncoderFamily.forModelType("roberta"), .roberta)
        XCTAssertEqual(EncoderFamily.forModelType("xlm-roberta"), .xlmRoberta)
        XCTAssertEqual(EncoderFamily.forModelType("camembert"), .camembert)
        XCTAssertEqual(EncoderFamily.forModelType("modernbert"), .modernbert)
        XCTAssertNil(EncoderFamily.forModelType("gpt2"))
        for family in EncoderFamily.known {
            // A post-norm layer has six Linears; ModernBERT's pre-norm layer four, its query, key and value fused.
            let expected: Set<LoRATarget> = family.body == .postNorm
                ? [.query, .key, .value, .attentionOutput, .intermediate, .output] : [.qkv, .attentionOutput, .intermediate, .output]
            XCTAssertEqual(Set(family.layer.linears.keys), expected, "\(family) names every Linear of a layer")
            XCTAssertFalse(family.defaultTargets.isEmpty)
            XCTAssertTrue(Set(family.defaultTargets).isSubset(of: expected), "\(family)'s default targets are Linears it has")
            XCTAssertTrue(family.head.trainedNames.contains(family.head.out + ".weight"))
        }
        XCTAssertEqual(EncoderFamily.bert.layerModule(3, EncoderFamily.bert.layer.path(.value)), "bert.encoder.layer.3.attention.self.value")
        XCTAssertEqual(EncoderFamily.roberta.head.trainedNames,
                       ["classifier.dense.weight", "classifier.dense.bias", "classifier.out_proj.weight", "classifier.out_proj.bias"])
        XCTAssertEqual(EncoderFamily.bert.head.trainedNames, ["classifier.weight", "classifier.bias"])
    }

    /// The error `config.json` with `json` gives, as text.
    func loadError(_ json: String) throws -> String {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("swift-lora-family-\(getpid()).json")
        try Data(json.utf8).write(to: url)
        defer { try? FileManager.default.removeItem(at: url) }
        do {
            _ = try EncoderConfig.load(from: url)
            return "loaded"
        } catch {
            return "\(error)"
        }
    }

    func testUnknownModelTypeIsRefusedByName() throws {
        let text = try loadError(#"{"model_type": "gpt2", "vocab_size": 4, "hidden_size": 4, "num_hidden_layers": 1, "num_attention_heads": 1, "intermediate_size": 4}"#)
        XCTAssertTrue(text.contains("model_type") && text.contains("gpt2") && text.contains("bert, roberta, xlm-roberta, camembert, electra, distilbert, modernbert"), text)
    }

    /// A known family with a setting that changes the maths is refused by key and value.
    func testUnsupportedSettingsOfAKnownFamilyAreRefusedByKey() throws {
        let distil = #"{"model_type": "distilbert", "vocab_size": 40, "dim": 12, "n_layers": 1, "n_heads": 3, "hidden_dim": 20"#
        let sinusoidal = try loadError(distil + #", "sinusoidal_pos_embds": true}"#)
        XCTAssertTrue(sinusoidal.contains("sinusoidal_pos_embds = true is not supported"), sinusoidal)
        let relu = try loadError(distil + #", "activation": "relu"}"#)
        XCTAssertTrue(relu.contains("activation 'relu' is not supported"), relu)
        XCTAssertEqual(try loadError(distil + #", "sinusoidal_pos_embds": false}"#), "loaded")
        // DistilBERT's own keys are required under their own names.
        let missing = try loadError(#"{"model_type": "distilbert", "vocab_size": 40, "hidden_size": 12, "n_layers": 1, "n_heads": 3, "hidden_dim": 20}"#)
        XCTAssertTrue(missing.contains("dim"), missing)
    }

    func testDistilBERTAndELECTRAConfigs() throws {
        let distil = try JSONDecoder().decode(EncoderConfig.self, from: Data(#"{"model_type": "distilbert", "vocab_size": 40, "dim": 12, "n_layers": 2, "n_heads": 3, "hidden_dim": 20, "dropout": 0.2, "attention_dropout": 0.3, "seq_classif_dropout": 0.4}"#.utf8))
        XCTAssertEqual([distil.hiddenSize, distil.layerCount, distil.headCount, distil.intermediateSize], [12, 2, 3, 20])
        XCTAssertEqual([distil.hiddenDropout, distil.attentionDropout, distil.headDropout], [0.2, 0.3, 0.4])
        XCTAssertEqual(distil.layerNormEps, 1e-12)
        XCTAssertNil(distil.embeddingProjection)
        let electra = try JSONDecoder().decode(EncoderConfig.self, from: Data(#"{"model_type": "electra", "vocab_size": 40, "embedding_size": 8, "hidden_size": 12, "num_hidden_layers": 1, "num_attention_heads": 3, "intermediate_size": 20}"#.utf8))
        XCTAssertEqual(electra.embeddingSize, 8)
        XCTAssertEqual(electra.embeddingProjection, "electra.embeddings_project")
        let model = EncoderModel(config: electra)
        XCTAssertEqual(model.parameters["electra.embeddings.word_embeddings.weight"]?.shape, [40, 8])
        XCTAssertEqual(model.parameters["electra.embeddings_project.weight"]?.shape, [12, 8])
    }

    func testTargetNamesOfEveryFamily() throws {
        XCTAssertEqual(try LoRATarget.parseList("q_lin, v_lin"), [.query, .value])
        XCTAssertEqual(try LoRATarget.parseList("query,attention.output.dense,ffn.lin2"), [.query, .attentionOutput, .output])
        XCTAssertThrowsError(try LoRATarget.parseList("dense"), "ambiguous in BERT's layer")
        XCTAssertEqual(EncoderFamily.distilbert.peftName(.query), "q_lin")
        XCTAssertNil(EncoderFamily.bert.peftName(.output))
        XCTAssertEqual(EncoderFamily.distilbert.modulesToSave, ["pre_classifier", "classifier", "score"])
        XCTAssertEqual(EncoderFamily.roberta.modulesToSave, ["classifier", "score"])
        XCTAssertEqual(EncoderFamily.bert.modulesToSave, ["classifier", "score"])
    }

    /// One parser of "which layer, and what in it" serves the layer count check and adapter reading.
    func testLayerAndRestOfTensorNames() {
        let bert = EncoderFamily.bert, distil = EncoderFamily.distilbert
        XCTAssertEqual(bert.layerAndRest(of: "base_model.model.bert.encoder.layer.11.attention.self.query.lora_A.weight")?.layer, 11)
        XCTAssertEqual(bert.layerAndRest(of: "encoder.layer.3.output.dense.bias").map { String($0.rest) }, "output.dense.bias")
        XCTAssertEqual(distil.layerAndRest(of: "distilbert.transformer.layer.0.attention.q_lin.weight").map { String($0.rest) }, "attention.q_lin.weight")
        XCTAssertNil(bert.layerAndRest(of: "bert.embeddings.word_embeddings.weight"))
        XCTAssertNil(bert.layerAndRest(of: "encoder.layer.1234567.output.dense.bias"), "more than six digits")
    }

    func testPositionSchemes() {
        let ids: [Int32] = [0, 5, 1, 7]   // token 1 is RoBERTa's padding
        var out = [Int32](repeating: -1, count: 4)
        EncoderFamily.bert.writePositions(&out, ids: ids, count: 4, padTokenId: 0)
        XCTAssertEqual(out, [0, 1, 2, 3])
        EncoderFamily.roberta.writePositions(&out, ids: ids, count: 4, padTokenId: 1)
        XCTAssertEqual(out, [2, 3, 1, 4])
        XCTAssertEqual(EncoderFamily.roberta.maxInputLength(positions: 514, padTokenId: 1), 512)
        XCTAssertEqual(EncoderFamily.bert.maxInputLength(positions: 512, padTokenId: 0), 512)
    }
}
