// ModernBERT's config.json: both spellings read to the same settings, and settings that change the maths refused by key.
import XCTest
import Foundation
import Encoders
import SafeTensors
import TestSupport

final class ModernBERTConfigTests: XCTestCase {
    func config(_ url: URL) throws -> EncoderConfig { try EncoderConfig.load(from: url) }

    /// transformers 5's `layer_types`/`rope_parameters`, the published checkpoints'
    /// `global_attn_every_n_layers`/`global_rope_theta`/`local_rope_theta`, and a re-saved
    /// config holding both give the same model.
    func testBothSpellingsGiveTheSameSettings() throws {
        let dir = try requireFixture("encoders/tiny-modernbert")
        let saved = try config(dir.appendingPathComponent("config.json"))
        let published = try config(dir.appendingPathComponent("config-published-spelling.json"))
        let resaved = try config(dir.appendingPathComponent("config-transformers5-resaved.json"))
        let settings = try XCTUnwrap(saved.modernBERT)
        XCTAssertEqual(settings.globalLayers, [true, false, false, true])
        XCTAssertEqual(settings.globalTheta, 10_000)
        XCTAssertEqual(settings.localTheta, 160)
        XCTAssertEqual(settings.halfWindow, 4)
        XCTAssertEqual(settings.pooling, .cls)
        XCTAssertTrue(settings.attentionBias && settings.mlpBias && settings.normBias && settings.classifierBias)
        XCTAssertEqual(published.modernBERT, settings)
        XCTAssertEqual(resaved.modernBERT, settings)
        XCTAssertEqual(saved.layerNormEps, 1e-5)
        XCTAssertEqual([saved.hiddenDropout, saved.attentionDropout, saved.embeddingDropout, saved.headDropout], [0, 0, 0, 0])
        // The published spelling runs to the same logits as transformers 5's.
        let file = try SafeTensorsFile(url: dir.appendingPathComponent("expected.safetensors"))
        let expected = try file.floats("logits")
        let copy = FileManager.default.temporaryDirectory.appendingPathComponent("modernbert-spelling-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: copy, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: copy) }
        try FileManager.default.copyItem(at: dir.appendingPathComponent("model.safetensors"), to: copy.appendingPathComponent("model.safetensors"))
        try FileManager.default.copyItem(at: dir.appendingPathComponent("config-published-spelling.json"), to: copy.appendingPathComponent("config.json"))
        let model = try EncoderModel.load(directory: copy)
        let batch = try fixtureBatch(file)
        XCTAssertLessThanOrEqual(Approx.maxAbsDiff(try model.predict(batch), expected), 1e-5)
    }

    /// An exported model's config.json keeps the file's floats floats (`2.0`, not `2`):
    /// transformers 5 checks ModernBERT's config types and refuses an int where a float belongs.
    func testExportedConfigKeepsFloatsFloats() throws {
        let dir = try requireFixture("encoders/tiny-modernbert")
        let model = try EncoderModel.load(directory: dir)
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("modernbert-export-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: out) }
        try model.saveModel(to: out)
        let text = try String(contentsOf: out.appendingPathComponent("config.json"), encoding: .utf8)
        for expected in [#""initializer_cutoff_factor": 2.0"#, #""rope_theta": 10000.0"#, #""attention_dropout": 0.0"#,
                         #""hidden_size": 48"#, #""num_hidden_layers": 4"#, #""norm_eps": 1e-05"#] {
            XCTAssertTrue(text.contains(expected), "\(expected) in\n\(text)")
        }
        let reloaded = try EncoderModel.load(directory: out)
        XCTAssertEqual(reloaded.config.modernBERT, model.config.modernBERT)
    }

    /// The defaults of a config that names nothing beyond the sizes: every third layer global
    /// from layer 0, θ 160 000 and 10 000, a window of 128, no biases, first-token pooling.
    func testDefaults() throws {
        let c = try JSONDecoder().decode(EncoderConfig.self, from: Data(Self.minimal("").utf8))
        let s = try XCTUnwrap(c.modernBERT)
        XCTAssertEqual(s.globalLayers, [true, false, false, true, false])
        XCTAssertEqual([s.globalTheta, s.localTheta], [160_000, 10_000])
        XCTAssertEqual(s.localAttention, 128)
        XCTAssertFalse(s.attentionBias || s.mlpBias || s.normBias || s.classifierBias)
        XCTAssertEqual(s.pooling, .cls)
        XCTAssertEqual(c.family.defaultTargets, [.qkv])
        let model = EncoderModel(config: c)
        XCTAssertNil(model.parameters["model.layers.0.attn_norm.weight"], "layer 0 reads the embeddings' norm output as it is")
        XCTAssertNotNil(model.parameters["model.layers.1.attn_norm.weight"])
        XCTAssertNil(model.parameters["model.layers.1.attn_norm.bias"], "norm_bias false")
        XCTAssertEqual(model.parameters["model.layers.0.attn.Wqkv.weight"]?.shape, [24, 8])
        XCTAssertNil(model.parameters["model.layers.0.attn.Wqkv.bias"])
        XCTAssertEqual(model.parameters["model.layers.0.mlp.Wi.weight"]?.shape, [12, 8])
        XCTAssertNotNil(model.parameters["classifier.bias"], "the classifier always has a bias")
        XCTAssertNil(model.parameters["head.dense.bias"])
    }

    static func minimal(_ extra: String) -> String {
        #"{"model_type": "modernbert", "vocab_size": 20, "hidden_size": 8, "num_hidden_layers": 5, "num_attention_heads": 2, "intermediate_size": 6, "pad_token_id": 0"#
            + extra + "}"
    }

    /// What loading a `config.json` of `minimal(extra)` says: "loaded" or the error's text.
    func loadError(_ extra: String) -> String {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("modernbert-config-\(UUID().uuidString).json")
        defer { try? FileManager.default.removeItem(at: url) }
        do {
            try Data(Self.minimal(extra).utf8).write(to: url)
            _ = try EncoderConfig.load(from: url)
            return "loaded"
        } catch {
            return "\(error)"
        }
    }

    /// Settings that would change the maths in ways swift-lora does not implement are refused by key.
    func testSettingsThatChangeTheMathsAreRefusedByKey() {
        let cases: [(String, String)] = [
            (#", "rope_scaling": {"rope_type": "linear", "factor": 2.0}"#, "rope_scaling"),
            (#", "rope_parameters": {"full_attention": {"rope_type": "yarn", "rope_theta": 10000.0}}"#, "rope_parameters.full_attention.rope_type"),
            (#", "rope_parameters": {"sliding_attention": {"rope_theta": 10.0, "factor": 4.0}}"#, "rope_parameters.sliding_attention.factor"),
            (#", "layer_types": ["full_attention", "chunked_attention", "full_attention", "full_attention", "full_attention"]"#, "layer_types"),
            (#", "layer_types": ["full_attention"]"#, "layer_types"),
            (#", "classifier_pooling": "max""#, "classifier_pooling"),
            (#", "classifier_activation": "silu""#, "classifier_activation"),
            (#", "hidden_activation": "gelu_new""#, "hidden_activation"),
            (#", "head_dim": 8"#, "head_dim"),
            (#", "global_attn_every_n_layers": 0"#, "global_attn_every_n_layers"),
            (#", "local_rope_theta": 0.5"#, "local_rope_theta"),
            (#", "local_attention": -2"#, "local_attention"),
            (#", "embedding_dropout": 1.5"#, "embedding_dropout"),
        ]
        for (extra, key) in cases {
            let text = loadError(extra)
            XCTAssertTrue(text.contains(key) && text != "loaded", "\(extra): \(text)")
        }
        // An odd head width cannot be rotated.
        let odd = #"{"model_type": "modernbert", "vocab_size": 20, "hidden_size": 6, "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 6, "pad_token_id": 0}"#
        do {
            let c = try JSONDecoder().decode(EncoderConfig.self, from: Data(odd.utf8))
            XCTAssertThrowsError(try c.validate(source: "config.json")) { XCTAssertTrue("\($0)".contains("num_attention_heads"), "\($0)") }
        } catch { XCTFail("\(error)") }
        XCTAssertEqual(loadError(#", "deterministic_flash_attn": true, "reference_compile": true, "sparse_prediction": true"#), "loaded",
                       "flags that do not change sequence classification are accepted")
    }

    /// LoRA targets are validated against the family: ModernBERT has no separate query.
    func testTargetsAreCheckedAgainstTheFamily() throws {
        let c = try JSONDecoder().decode(EncoderConfig.self, from: Data(Self.minimal("").utf8))
        XCTAssertThrowsError(try LoRAConfig(rank: 2, alpha: 2, targets: [.query]).validate(for: c, source: nil)) {
            XCTAssertTrue("\($0)".contains("attn.Wqkv"), "\($0)")
        }
        XCTAssertNoThrow(try LoRAConfig(rank: 2, alpha: 2, targets: [.qkv, .attentionOutput, .intermediate, .output]).validate(for: c, source: nil))
        XCTAssertEqual(try LoRATarget.parseList("Wqkv,Wi"), [.qkv, .intermediate])
        XCTAssertThrowsError(try LoRATarget.parseList("Wo")) { XCTAssertTrue("\($0)".contains("attn.Wo") && "\($0)".contains("mlp.Wo"), "\($0)") }
        XCTAssertEqual(try LoRATarget.parseList("attn.Wo,mlp.Wo"), [.attentionOutput, .output])
    }
}
