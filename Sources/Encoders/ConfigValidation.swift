// The one place that checks a model's config.json values and their agreement with its checkpoint.
import Foundation
import InputValidation
import SafeTensors

extension EncoderConfig {
    /// The longest input any command accepts (tokens).
    public static let maxSequenceLength = 1_048_576

    /// Canonical name of the Linear from the embeddings' width to the hidden size, when this
    /// model has one (ELECTRA with `embedding_size` ≠ `hidden_size`).
    public var embeddingProjection: String? {
        guard embeddingSize != hiddenSize, let name = family.embeddings.projection else { return nil }
        return family.embeddingModule(name)
    }

    /// The longest input this model's position embeddings allow.
    public var maxInputLength: Int { family.maxInputLength(positions: maxPositions, padTokenId: padTokenId) }

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
        let keys = family.configKeys
        try rules.within(vocabularySize, 1...50_000_000, key: "vocab_size")
        try rules.within(hiddenSize, 1...65_536, key: keys.hiddenSize)
        if let key = keys.embeddingSize { try rules.within(embeddingSize, 1...65_536, key: key) }
        try rules.within(layerCount, 1...1_000, key: keys.layerCount)
        try rules.within(headCount, 1...hiddenSize, key: keys.headCount, why: "at most \(keys.hiddenSize) \(hiddenSize)")
        guard hiddenSize % headCount == 0 else {
            throw InvalidValue(source: source, key: keys.headCount, value: String(headCount),
                               allowed: "a divisor of \(keys.hiddenSize) \(hiddenSize)")
        }
        try rules.within(intermediateSize, 1...1_048_576, key: keys.intermediateSize)
        try rules.within(padTokenId, 0...(vocabularySize - 1), key: "pad_token_id", why: "a token of the vocabulary")
        // Positions numbered after the padding id start at pad_token_id + 1, so the table needs
        // at least pad_token_id + 2 rows for one token.
        let afterPadding = family.positions == .afterPadding
        let minPositions = afterPadding ? padTokenId + 2 : 1
        if maxPositions < minPositions || maxPositions > Self.maxSequenceLength + minPositions {
            throw InvalidValue(source: source, key: "max_position_embeddings", value: String(maxPositions),
                               allowed: "an integer in \(minPositions)…\(Self.maxSequenceLength + minPositions)"
                                   + (afterPadding ? " (\(family.name) positions start at pad_token_id + 1)" : ""))
        }
        if let key = keys.typeVocabularySize { try rules.within(typeVocabularySize, 1...1_024, key: key) }
        try rules.dropProbability(Double(hiddenDropout), key: keys.hiddenDropout)
        try rules.dropProbability(Double(attentionDropout), key: keys.attentionDropout)
        if let key = keys.embeddingDropout { try rules.dropProbability(Double(embeddingDropout), key: key) }
        if family.positions == .rotary, headDim % 2 != 0 {
            throw InvalidValue(source: source, key: keys.headCount, value: String(headCount),
                               allowed: "a head count giving an even head width for rotary positions (\(keys.hiddenSize) \(hiddenSize) / \(headCount) = \(headDim))")
        }
        if let classifierDropout { try rules.dropProbability(Double(classifierDropout), key: keys.classifierDropout) }
        if let key = keys.layerNormEps { try rules.positive(Double(layerNormEps), key: key) }
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
        let e = family.embeddings
        var shapes: [(String, [Int])] = [
            (family.embeddingModule(e.word) + ".weight", [vocabularySize, embeddingSize]),
            (family.layerModule(0, family.layer.path(.intermediate)) + ".weight", [family.body.intermediateRows(intermediateSize), hiddenSize]),
        ]
        if let position = e.position { shapes.append((family.embeddingModule(position) + ".weight", [maxPositions, embeddingSize])) }
        if let tokenType = e.tokenType { shapes.append((family.embeddingModule(tokenType) + ".weight", [typeVocabularySize, embeddingSize])) }
        if let projection = embeddingProjection { shapes.append((projection + ".weight", [hiddenSize, embeddingSize])) }
        for (canonical, expected) in shapes {
            guard let name = find(canonical) else { throw EncoderError.missingTensor(file: checkpointPath, tensor: canonical) }
            let info = try file.info(name)
            if info.shape != expected {
                throw EncoderError.shapeMismatch(file: checkpointPath, tensor: name, expected: expected, actual: info.shape)
            }
        }
        var layers = Set<Int>()
        for name in file.tensors.keys {
            if let l = family.layerAndRest(of: name)?.layer { layers.insert(l) }
        }
        let present = (layers.max() ?? -1) + 1
        if present != layerCount || layers.count != present {
            throw InvalidValue(source: configPath, key: family.configKeys.layerCount, value: String(layerCount),
                               allowed: "\(present), the number of layers in \(checkpointPath)")
        }
    }
}
