import Foundation
import InputValidation
import JSONText

/// A Hugging Face `config.json` of a known encoder family, with the fields the encoder needs.
///
/// Field names map from the snake_case keys of `config.json`; absent optional keys take
/// the `transformers` defaults.
public struct EncoderConfig: Sendable, Equatable, Decodable {
    /// The family `model_type` names (`EncoderFamily.known`).
    public var family: EncoderFamily
    /// `vocab_size`.
    public var vocabularySize: Int
    /// `hidden_size` (C; DistilBERT: `dim`).
    public var hiddenSize: Int
    /// Width of the embedding tables (E): `embedding_size` where the family has it
    /// (ELECTRA), else `hiddenSize`.
    public var embeddingSize: Int
    /// `num_hidden_layers` (DistilBERT: `n_layers`).
    public var layerCount: Int
    /// `num_attention_heads` (NH; DistilBERT: `n_heads`); `hiddenSize` must be divisible by it.
    public var headCount: Int
    /// `intermediate_size` of the feed-forward block (DistilBERT: `hidden_dim`).
    public var intermediateSize: Int
    /// `hidden_act` (DistilBERT: `activation`); only the exact-erf `gelu` is supported.
    public var hiddenActivation: String
    /// `hidden_dropout_prob` (DistilBERT: `dropout`).
    public var hiddenDropout: Float
    /// `attention_probs_dropout_prob` (DistilBERT: `attention_dropout`).
    public var attentionDropout: Float
    /// `classifier_dropout` (DistilBERT: `seq_classif_dropout`; nil: use `hiddenDropout`, as transformers does).
    public var classifierDropout: Float?
    /// Dropout after the embeddings' LayerNorm: `hiddenDropout`, or the family's own key
    /// (ModernBERT's `embedding_dropout`).
    public var embeddingDropout: Float
    /// ModernBERT's settings (biases, attention pattern, RoPE bases, pooling); nil for the
    /// post-norm families.
    public var modernBERT: ModernBERTSettings?
    /// `max_position_embeddings`.
    public var maxPositions: Int
    /// `type_vocab_size` (1 for families without token types, whose type ids are ignored).
    public var typeVocabularySize: Int
    /// `initializer_range`: std of the normal initialisation of new weights.
    public var initializerRange: Float
    /// `layer_norm_eps` (fixed by families whose config has none).
    public var layerNormEps: Float
    /// `pad_token_id` (positions start at `padTokenId + 1` in families numbered `.afterPadding`).
    public var padTokenId: Int
    /// Number of outputs of the classification head (`num_labels`, or the size of `id2label`; 1 means regression).
    public var labelCount: Int
    /// `id2label` when present.
    public var labelNames: [String]?
    /// The raw JSON object, kept so that an exported model writes back every original key.
    public var rawJSON: [String: JSONValue]
    /// Key paths of `rawJSON`'s numbers written with a fraction or exponent in the file
    /// (`initializer_cutoff_factor: 2.0`): an exported config writes them as floats again.
    public var decimalPaths: Set<[String]> = []

    /// A `config.json` key chosen at run time (the family decides the spelling).
    struct Key: CodingKey {
        let stringValue: String
        init(_ name: String) { stringValue = name }
        init?(stringValue: String) { self.stringValue = stringValue }
        var intValue: Int? { nil }
        init?(intValue: Int) { nil }
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: Key.self)
        let type = try c.decode(String.self, forKey: Key("model_type"))
        guard let fam = EncoderFamily.forModelType(type) else {
            throw DecodingError.dataCorruptedError(forKey: Key("model_type"), in: c,
                debugDescription: "model_type '\(type)' is not one swift-lora runs (known: \(EncoderFamily.knownModelTypes.joined(separator: ", ")))")
        }
        family = fam
        let keys = fam.configKeys
        func required<T: Decodable>(_ key: String) throws -> T { try c.decode(T.self, forKey: Key(key)) }
        func optional<T: Decodable>(_ key: String?) throws -> T? {
            guard let key else { return nil }
            return try c.decodeIfPresent(T.self, forKey: Key(key))
        }
        vocabularySize = try required("vocab_size")
        hiddenSize = try required(keys.hiddenSize)
        embeddingSize = try optional(keys.embeddingSize) ?? hiddenSize
        layerCount = try required(keys.layerCount)
        headCount = try required(keys.headCount)
        intermediateSize = try required(keys.intermediateSize)
        hiddenActivation = try optional(keys.activation) ?? "gelu"
        hiddenDropout = try optional(keys.hiddenDropout) ?? keys.defaultDropout
        attentionDropout = try optional(keys.attentionDropout) ?? keys.defaultDropout
        classifierDropout = try optional(keys.classifierDropout) ?? keys.defaultClassifierDropout
        embeddingDropout = try optional(keys.embeddingDropout) ?? hiddenDropout
        maxPositions = try optional("max_position_embeddings") ?? 512
        let typeRows: Int? = try optional(keys.typeVocabularySize)
        typeVocabularySize = fam.embeddings.tokenType == nil ? 1 : typeRows ?? 2
        initializerRange = try optional("initializer_range") ?? 0.02
        layerNormEps = try optional(keys.layerNormEps) ?? keys.fixedLayerNormEps
        padTokenId = try optional("pad_token_id") ?? fam.defaultPadTokenId
        let id2label: [String: String]? = try optional("id2label")
        if let id2label, !id2label.isEmpty {
            labelNames = (0..<id2label.count).map { id2label[String($0)] ?? "LABEL_\($0)" }
        }
        labelCount = try optional("num_labels") ?? labelNames?.count ?? 2
        rawJSON = try JSONValue.object(from: decoder)
        if fam.body == .preNormRotary {
            modernBERT = try ModernBERTSettings(json: rawJSON, layerCount: layerCount, hiddenSize: hiddenSize, headCount: headCount)
        }
        guard hiddenActivation == "gelu" else {
            throw DecodingError.dataCorruptedError(forKey: Key(keys.activation), in: c,
                debugDescription: "\(keys.activation) '\(hiddenActivation)' is not supported (only exact 'gelu')")
        }
        for refused in keys.refused {
            guard let value = rawJSON[refused.key] else { continue }
            let text = value.jsonText
            if text == refused.value {
                throw DecodingError.dataCorruptedError(forKey: Key(refused.key), in: c,
                    debugDescription: "\(refused.key) = \(text) is not supported: \(refused.why)")
            }
        }
    }

    /// Reads and validates `config.json`.
    public static func load(from url: URL) throws -> EncoderConfig {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw EncoderError.missingFile(path: url.path, hint: "a Hugging Face model directory needs config.json")
        }
        var config: EncoderConfig
        do { config = try JSONDecoder().decode(EncoderConfig.self, from: data) } catch {
            throw EncoderError.invalidConfig(path: url.path, reason: Self.describe(error))
        }
        config.decimalPaths = (try? JSONParser.decimalNumberPaths([UInt8](data))) ?? []
        try config.validate(source: url.relativePath)
        return config
    }

    /// A decoding error in words: the key path and what was wrong.
    static func describe(_ error: any Error) -> String {
        guard let e = error as? DecodingError else { return "\(error)" }
        func path(_ keys: [any CodingKey]) -> String { keys.map(\.stringValue).joined(separator: ".") }
        switch e {
        case let .typeMismatch(type, c): return "\(path(c.codingPath)): expected \(type)"
        case let .valueNotFound(type, c): return "\(path(c.codingPath)): expected \(type), found null"
        case let .keyNotFound(key, _): return "the key \(key.stringValue) is required"
        case let .dataCorrupted(c): return (c.codingPath.isEmpty ? "" : path(c.codingPath) + ": ") + c.debugDescription
        @unknown default: return "\(error)"
        }
    }

    /// Per-head width `C / NH`.
    public var headDim: Int { hiddenSize / headCount }
    /// Whether the head is a regression (`num_labels == 1`, MSE loss).
    public var isRegression: Bool { labelCount == 1 }
    /// Dropout before the classifier.
    public var headDropout: Float { classifierDropout ?? hiddenDropout }

    /// `config.json` for an exported model: the original keys, with `num_labels`/`id2label`
    /// set to this head and the architecture named.
    public func exportJSON() -> [String: JSONValue] {
        var j = rawJSON
        j["architectures"] = .array([.string(family.architecture)])
        let names = labelNames ?? (0..<labelCount).map { "LABEL_\($0)" }
        var id2label: [String: JSONValue] = [:], label2id: [String: JSONValue] = [:]
        for (i, n) in names.enumerated() { id2label[String(i)] = .string(n); label2id[n] = .number(Double(i)) }
        j["id2label"] = .object(id2label)
        j["label2id"] = .object(label2id)
        j.removeValue(forKey: "num_labels")
        if isRegression { j["problem_type"] = .string("regression") }
        return j
    }
}

/// Errors loading or running an encoder; each names the file or tensor involved.
public enum EncoderError: Error, CustomStringConvertible, Equatable {
    case missingFile(path: String, hint: String)
    case invalidConfig(path: String, reason: String)
    case pickleCheckpoint(path: String)
    case missingTensor(file: String, tensor: String)
    case shapeMismatch(file: String, tensor: String, expected: [Int], actual: [Int])
    case invalidInput(String)

    public var description: String {
        switch self {
        case let .missingFile(path, hint): "\(path): not found (\(hint))"
        case let .invalidConfig(path, reason): "\(path): invalid config: \(reason)"
        case let .pickleCheckpoint(path):
            "\(path): only a PyTorch pickle checkpoint (pytorch_model.bin) is here; swift-lora never executes pickle files. Convert it once with Python: `from transformers import AutoModel; AutoModel.from_pretrained(DIR).save_pretrained(DIR, safe_serialization=True)` (writes model.safetensors)"
        case let .missingTensor(file, tensor): "\(file): checkpoint has no tensor '\(tensor)'"
        case let .shapeMismatch(file, tensor, e, a): "\(file): tensor '\(tensor)' has shape \(a), expected \(e)"
        case let .invalidInput(m): m
        }
    }
}
