// ModernBERT's own config.json settings (biases, attention pattern, rotary bases, pooling), read in either spelling and checked.
import Foundation

/// The settings of a ModernBERT `config.json` beyond the sizes every family has.
///
/// Both spellings are read: published checkpoints' `global_attn_every_n_layers`,
/// `global_rope_theta` and `local_rope_theta`, and transformers 5's `layer_types` and
/// `rope_parameters` (which win when both are present, as in transformers). Anything that
/// would change the maths in a way swift-lora does not implement is refused by name: a
/// `rope_type` other than `default` or extra RoPE parameters (scaling), `rope_scaling`, an
/// unknown layer type, a `head_dim` other than `hidden_size / num_attention_heads`, a
/// `classifier_activation` other than exact `gelu`, a `classifier_pooling` other than `cls`
/// and `mean`.
public struct ModernBERTSettings: Sendable, Equatable {
    /// `attention_bias`: `Wqkv` and `attn.Wo` have biases.
    public var attentionBias = false
    /// `mlp_bias`: `Wi` and `mlp.Wo` have biases.
    public var mlpBias = false
    /// `norm_bias`: every LayerNorm has a bias.
    public var normBias = false
    /// `classifier_bias`: `head.dense` has a bias (`classifier` always has one).
    public var classifierBias = false
    /// `local_attention`: the sliding window's total width; a token attends to those at most
    /// `local_attention / 2` positions away.
    public var localAttention = 128
    /// Per layer, whether it attends globally (`full_attention`) rather than in the window.
    public var globalLayers: [Bool]
    /// RoPE base θ of the global and of the local layers.
    public var globalTheta = 160_000.0
    public var localTheta = 10_000.0
    /// `classifier_pooling`.
    public var pooling: Pooling = .cls

    /// The window's half width: `|i − j| ≤ halfWindow` (transformers' `sliding_window`).
    public var halfWindow: Int { localAttention / 2 }

    /// Reads the settings from a `config.json` object of `layerCount` layers.
    ///
    /// - Throws: `DecodingError.dataCorrupted` naming the key and value.
    init(json: [String: JSONValue], layerCount: Int, hiddenSize: Int, headCount: Int) throws {
        func fail(_ key: String, _ reason: String) -> DecodingError {
            .dataCorrupted(DecodingError.Context(codingPath: [EncoderConfig.Key(key)], debugDescription: reason))
        }
        func bool(_ key: String, _ fallback: Bool) throws -> Bool {
            switch json[key] {
            case nil, .null?: return fallback
            case let .bool(b)?: return b
            case let v?: throw fail(key, "expected true or false, found \(v.jsonText)")
            }
        }
        func number(_ key: String, in object: [String: JSONValue]? = nil, path: String? = nil) throws -> Double? {
            switch (object ?? json)[key] {
            case nil, .null?: return nil
            case let .number(n)?: return n
            case let v?: throw fail(path ?? key, "expected a number, found \(v.jsonText)")
            }
        }
        attentionBias = try bool("attention_bias", false)
        mlpBias = try bool("mlp_bias", false)
        normBias = try bool("norm_bias", false)
        classifierBias = try bool("classifier_bias", false)
        if let w = try number("local_attention") {
            guard w == w.rounded(), w >= 0, w <= Double(EncoderConfig.maxSequenceLength) else {
                throw fail("local_attention", "expected a whole number of tokens in 0…\(EncoderConfig.maxSequenceLength), found \(w)")
            }
            localAttention = Int(w)
        }
        // Global or local, per layer.
        if case let .array(types)? = json["layer_types"] {
            guard types.count == layerCount else {
                throw fail("layer_types", "\(types.count) entries for num_hidden_layers \(layerCount)")
            }
            globalLayers = try types.enumerated().map { i, t in
                switch t {
                case .string("full_attention"): return true
                case .string("sliding_attention"): return false
                default: throw fail("layer_types", "entry \(i) is \(t.jsonText); known: \"full_attention\", \"sliding_attention\"")
                }
            }
        } else if let v = json["layer_types"], v != .null {
            throw fail("layer_types", "expected a list of layer types, found \(v.jsonText)")
        } else {
            let every = try number("global_attn_every_n_layers") ?? 3
            guard every == every.rounded(), every >= 1, every <= 1_000 else {
                throw fail("global_attn_every_n_layers", "expected a whole number ≥ 1, found \(every)")
            }
            globalLayers = (0..<layerCount).map { $0 % Int(every) == 0 }
        }
        // RoPE bases.
        if let scaling = json["rope_scaling"], scaling != .null {
            throw fail("rope_scaling", "\(scaling.jsonText) is not supported (only plain RoPE)")
        }
        var global = try number("global_rope_theta") ?? 160_000, local = try number("local_rope_theta") ?? 10_000
        if let rope = json["rope_parameters"], rope != .null {
            guard case let .object(byType) = rope else { throw fail("rope_parameters", "expected an object, found \(rope.jsonText)") }
            for (type, value) in byType {
                let path = "rope_parameters.\(type)"
                guard type == "full_attention" || type == "sliding_attention" else {
                    throw fail(path, "unknown layer type; known: full_attention, sliding_attention")
                }
                guard case let .object(p) = value else { throw fail(path, "expected an object, found \(value.jsonText)") }
                for (k, v) in p where k != "rope_theta" {
                    guard k == "rope_type" else { throw fail("\(path).\(k)", "\(v.jsonText) is not supported (only plain RoPE: rope_type and rope_theta)") }
                    guard v == .string("default") else { throw fail("\(path).rope_type", "\(v.jsonText) is not supported (only \"default\")") }
                }
                if let theta = try number("rope_theta", in: p, path: "\(path).rope_theta") {
                    if type == "full_attention" { global = theta } else { local = theta }
                }
            }
        }
        for (key, theta) in [("global_rope_theta", global), ("local_rope_theta", local)] where !(theta.isFinite && theta > 1) {
            throw fail(key, "a RoPE base must be a finite number > 1, found \(theta)")
        }
        globalTheta = global
        localTheta = local
        switch json["classifier_pooling"] {
        case nil, .null?, .string("cls")?: pooling = .cls
        case .string("mean")?: pooling = .mean
        case let v?: throw fail("classifier_pooling", "\(v.jsonText) is not supported (cls or mean)")
        }
        switch json["classifier_activation"] {
        case nil, .null?, .string("gelu")?: break
        case let v?: throw fail("classifier_activation", "\(v.jsonText) is not supported (only exact 'gelu')")
        }
        if let hd = try number("head_dim"), headCount > 0, hd != Double(hiddenSize / headCount) {
            throw fail("head_dim", "\(hd) is not supported: the heads must split hidden_size \(hiddenSize) evenly (\(hiddenSize / headCount))")
        }
    }
}
