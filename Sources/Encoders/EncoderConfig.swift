import Foundation
import InputValidation

/// The encoder families swift-lora runs.
public enum ModelFamily: String, Sendable, Codable {
    case bert, roberta
}

/// A Hugging Face `config.json` for BERT or RoBERTa, with the fields the encoder needs.
///
/// Field names map from the snake_case keys of `config.json`; absent optional keys take
/// the `transformers` defaults.
public struct EncoderConfig: Sendable, Equatable, Decodable {
    /// `model_type`: bert or roberta.
    public var family: ModelFamily
    /// `vocab_size`.
    public var vocabularySize: Int
    /// `hidden_size` (C).
    public var hiddenSize: Int
    /// `num_hidden_layers`.
    public var layerCount: Int
    /// `num_attention_heads` (NH); `hiddenSize` must be divisible by it.
    public var headCount: Int
    /// `intermediate_size` of the feed-forward block.
    public var intermediateSize: Int
    /// `hidden_act`; only the exact-erf `gelu` is supported.
    public var hiddenActivation: String
    /// `hidden_dropout_prob`.
    public var hiddenDropout: Float
    /// `attention_probs_dropout_prob`.
    public var attentionDropout: Float
    /// `classifier_dropout` (nil: use `hiddenDropout`, as transformers does).
    public var classifierDropout: Float?
    /// `max_position_embeddings`.
    public var maxPositions: Int
    /// `type_vocab_size`.
    public var typeVocabularySize: Int
    /// `initializer_range`: std of the normal initialisation of new weights.
    public var initializerRange: Float
    /// `layer_norm_eps`.
    public var layerNormEps: Float
    /// `pad_token_id` (RoBERTa positions start at `padTokenId + 1`).
    public var padTokenId: Int
    /// Number of outputs of the classification head (`num_labels`, or the size of `id2label`; 1 means regression).
    public var labelCount: Int
    /// `id2label` when present.
    public var labelNames: [String]?
    /// The raw JSON object, kept so that an exported model writes back every original key.
    public var rawJSON: [String: JSONValue]

    enum Keys: String, CodingKey {
        case model_type, vocab_size, hidden_size, num_hidden_layers, num_attention_heads, intermediate_size, hidden_act
        case hidden_dropout_prob, attention_probs_dropout_prob, classifier_dropout, max_position_embeddings
        case type_vocab_size, initializer_range, layer_norm_eps, pad_token_id, num_labels, id2label
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: Keys.self)
        let type = try c.decode(String.self, forKey: .model_type)
        guard let fam = ModelFamily(rawValue: type) else {
            throw DecodingError.dataCorruptedError(forKey: .model_type, in: c, debugDescription: "model_type '\(type)' is not bert or roberta")
        }
        family = fam
        vocabularySize = try c.decode(Int.self, forKey: .vocab_size)
        hiddenSize = try c.decode(Int.self, forKey: .hidden_size)
        layerCount = try c.decode(Int.self, forKey: .num_hidden_layers)
        headCount = try c.decode(Int.self, forKey: .num_attention_heads)
        intermediateSize = try c.decode(Int.self, forKey: .intermediate_size)
        hiddenActivation = try c.decodeIfPresent(String.self, forKey: .hidden_act) ?? "gelu"
        hiddenDropout = try c.decodeIfPresent(Float.self, forKey: .hidden_dropout_prob) ?? 0.1
        attentionDropout = try c.decodeIfPresent(Float.self, forKey: .attention_probs_dropout_prob) ?? 0.1
        classifierDropout = try c.decodeIfPresent(Float.self, forKey: .classifier_dropout)
        maxPositions = try c.decodeIfPresent(Int.self, forKey: .max_position_embeddings) ?? 512
        typeVocabularySize = try c.decodeIfPresent(Int.self, forKey: .type_vocab_size) ?? 2
        initializerRange = try c.decodeIfPresent(Float.self, forKey: .initializer_range) ?? 0.02
        layerNormEps = try c.decodeIfPresent(Float.self, forKey: .layer_norm_eps) ?? 1e-12
        padTokenId = try c.decodeIfPresent(Int.self, forKey: .pad_token_id) ?? (fam == .roberta ? 1 : 0)
        let id2label = try c.decodeIfPresent([String: String].self, forKey: .id2label)
        if let id2label, !id2label.isEmpty {
            labelNames = (0..<id2label.count).map { id2label[String($0)] ?? "LABEL_\($0)" }
        }
        labelCount = try c.decodeIfPresent(Int.self, forKey: .num_labels) ?? labelNames?.count ?? 2
        rawJSON = try JSONValue.object(from: decoder)
        guard hiddenActivation == "gelu" else {
            throw DecodingError.dataCorruptedError(forKey: .hidden_act, in: c, debugDescription: "hidden_act '\(hiddenActivation)' is not supported (only exact 'gelu')")
        }
    }

    /// Reads and validates `config.json`.
    public static func load(from url: URL) throws -> EncoderConfig {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw EncoderError.missingFile(path: url.path, hint: "a Hugging Face model directory needs config.json")
        }
        let config: EncoderConfig
        do { config = try JSONDecoder().decode(EncoderConfig.self, from: data) } catch {
            throw EncoderError.invalidConfig(path: url.path, reason: Self.describe(error))
        }
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
    /// Prefix of encoder tensors in a `*ForSequenceClassification` checkpoint.
    public var prefix: String { family.rawValue + "." }

    /// `config.json` for an exported model: the original keys, with `num_labels`/`id2label`
    /// set to this head and the architecture named.
    public func exportJSON() -> [String: JSONValue] {
        var j = rawJSON
        j["architectures"] = .array([.string(family == .bert ? "BertForSequenceClassification" : "RobertaForSequenceClassification")])
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
