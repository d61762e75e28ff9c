// The one place that checks a model's config.json values and their agreement with its checkpoint.
import Foundation
import InputValidation
import SafeTensors

extension EncoderConfig {
    /// The longest input any command accepts (tokens).
    public static let maxSequenceLength = 1_048_576

    /// The longest input this model's position embeddings allow.
    public var maxInputLength: Int { maxPositions - (family == .roberta ? padTokenId + 1 : 0) }

    /// Refuses `--max-length` (`key`) beyond what the position embeddings cover.
    public func validateMaxLength(_ length: Int, key: String = "--max-length") throws {
        guard length <= maxInputLength else {
            throw InvalidValue(source: nil, key: key, value: String(length),
                               allowed: "at most \(maxInputLength), the longest input this model's position embeddings cover")
        }
    }

    /// Checks every value the encoder uses: positive sizes, `hidden_size` divisible by
    /// `num_attention_heads`, dropouts in [0, 1), `layer_norm_eps` > 0, at least one label.
    ///
    /// - Throws: `InvalidValue` naming the key and its allowed range (`source` is the file).
    public func validate(source: String? = nil) throws {
        let rules = ValueRules(source: source)
        try rules.within(vocabularySize, 1...50_000_000, key: "vocab_size")
        try rules.within(hiddenSize, 1...65_536, key: "hidden_size")
        try rules.within(layerCount, 1...1_000, key: "num_hidden_layers")
        try rules.within(headCount, 1...hiddenSize, key: "num_attention_heads", why: "at most hidden_size \(hiddenSize)")
        guard hiddenSize % headCount == 0 else {
            throw InvalidValue(source: source, key: "num_attention_heads", value: String(headCount),
                               allowed: "a divisor of hidden_size \(hiddenSize)")
        }
        try rules.within(intermediateSize, 1...1_048_576, key: "intermediate_size")
        try rules.within(padTokenId, 0...(vocabularySize - 1), key: "pad_token_id", why: "a token of the vocabulary")
        // RoBERTa's positions start at pad_token_id + 1, so it needs at least pad_token_id + 2.
        let minPositions = family == .roberta ? padTokenId + 2 : 1
        if maxPositions < minPositions || maxPositions > Self.maxSequenceLength + minPositions {
            throw InvalidValue(source: source, key: "max_position_embeddings", value: String(maxPositions),
                               allowed: "an integer in \(minPositions)…\(Self.maxSequenceLength + minPositions)"
                                   + (family == .roberta ? " (RoBERTa positions start at pad_token_id + 1)" : ""))
        }
        try rules.within(typeVocabularySize, 1...1_024, key: "type_vocab_size")
        try rules.dropProbability(Double(hiddenDropout), key: "hidden_dropout_prob")
        try rules.dropProbability(Double(attentionDropout), key: "attention_probs_dropout_prob")
        if let classifierDropout { try rules.dropProbability(Double(classifierDropout), key: "classifier_dropout") }
        try rules.positive(Double(layerNormEps), key: "layer_norm_eps")
        try rules.nonNegative(Double(initializerRange), key: "initializer_range")
        try rules.within(labelCount, 1...100_000, key: "num_labels")
        if let labelNames, labelNames.count != labelCount {
            throw InvalidValue(source: source, key: "id2label", value: "\(labelNames.count) labels",
                               allowed: "as many labels as num_labels (\(labelCount))")
        }
    }

    /// Checks the config against the checkpoint's header before any weight is allocated: the
    /// embedding and feed-forward shapes, and that the checkpoint has exactly
    /// `num_hidden_layers` layers (a config that names fewer would silently drop some).
    ///
    /// - Throws: `InvalidValue` naming the config key, or `EncoderError.shapeMismatch`.
    public func validate(against file: SafeTensorsFile, configPath: String, checkpointPath: String) throws {
        func find(_ canonical: String) -> String? {
            CheckpointNames.candidates(for: canonical, family: family).first { file.tensors[$0] != nil }
        }
        // Every size the config implies is checked against the file before anything is
        // allocated, so a config cannot make the encoder allocate more than the file holds.
        let shapes: [(String, [Int])] = [
            ("embeddings.word_embeddings.weight", [vocabularySize, hiddenSize]),
            ("embeddings.position_embeddings.weight", [maxPositions, hiddenSize]),
            ("embeddings.token_type_embeddings.weight", [typeVocabularySize, hiddenSize]),
            ("encoder.layer.0.intermediate.dense.weight", [intermediateSize, hiddenSize]),
        ]
        for (suffix, expected) in shapes {
            guard let name = find(prefix + suffix) else { throw EncoderError.missingTensor(file: checkpointPath, tensor: prefix + suffix) }
            let info = try file.info(name)
            if info.shape != expected {
                throw EncoderError.shapeMismatch(file: checkpointPath, tensor: name, expected: expected, actual: info.shape)
            }
        }
        var layers = Set<Int>()
        for name in file.tensors.keys {
            guard let range = name.range(of: "encoder.layer.") else { continue }
            let digits = name[range.upperBound...].prefix { $0.isNumber }
            if digits.count <= 6, let l = Int(digits) { layers.insert(l) }
        }
        let present = (layers.max() ?? -1) + 1
        if present != layerCount || layers.count != present {
            throw InvalidValue(source: configPath, key: "num_hidden_layers", value: String(layerCount),
                               allowed: "\(present), the number of layers in \(checkpointPath)")
        }
    }
}
