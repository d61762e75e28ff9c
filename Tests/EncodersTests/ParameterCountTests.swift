import XCTest
import Foundation
import Tensors
import Encoders

final class ParameterCountTests: XCTestCase {
    /// RoBERTa-base's shape (no weights needed: counts only).
    static let robertaBase = """
    {"model_type": "roberta", "vocab_size": 50265, "hidden_size": 768, "num_hidden_layers": 12,
     "num_attention_heads": 12, "intermediate_size": 3072, "max_position_embeddings": 514,
     "type_vocab_size": 1, "pad_token_id": 1, "layer_norm_eps": 1e-5, "hidden_act": "gelu", "num_labels": 2}
    """

    /// LoRA r = 8 on query and value of RoBERTa-base: 294,912 adapter parameters, as PEFT
    /// reports (12 layers × 2 modules × (8·768 + 768·8)); with the classification head
    /// (PEFT's `modules_to_save`) PEFT's `print_trainable_parameters` says 887,042 trainable
    /// of 125,534,212 — its total counts the head twice (original and trained copy), ours once.
    func testRobertaBaseLoRACountsMatchPEFT() throws {
        let config = try JSONDecoder().decode(EncoderConfig.self, from: Data(Self.robertaBase.utf8))
        let model = EncoderModel(config: config)
        XCTAssertEqual(model.parameterCounts.total, 124_647_170)
        var rng = RandomGenerator(seed: 0)
        try model.attachLoRA(LoRAConfig(rank: 8, alpha: 8, targets: [.query, .value]), rng: &rng)
        let adapter = model.adapters.reduce(0) { $0 + $1.a.count + $1.b.count }
        XCTAssertEqual(adapter, 294_912)
        XCTAssertEqual(model.parameterCounts.trainable, 887_042)
        XCTAssertEqual(model.parameterCounts.total, 124_647_170 + 294_912)
        // Full fine-tuning trains everything.
        let full = EncoderModel(config: config)
        full.setFullFineTuning()
        XCTAssertEqual(full.parameterCounts.trainable, 124_647_170)
    }
}
