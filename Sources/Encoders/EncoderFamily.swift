// What distinguishes one encoder family from another, as data: its names, its position scheme, its head and where LoRA attaches.
import Foundation

/// How a family numbers token positions for the position-embedding table.
public enum PositionScheme: Sendable, Equatable {
    /// 0, 1, 2, … in each sequence (BERT).
    case fromZero
    /// Non-padding tokens count from `pad_token_id + 1`; padding tokens get `pad_token_id`
    /// (RoBERTa, transformers' `create_position_ids_from_input_ids`).
    case afterPadding
    /// No position table: queries and keys are rotated by their position 0, 1, 2, … in each
    /// sequence (RoPE, ModernBERT); `max_position_embeddings` bounds the length.
    case rotary
}

/// How a family's layers are composed from the kernels in Tensors.
public enum EncoderBody: Sendable, Equatable {
    /// BERT's post-LayerNorm layer: separate query/key/value, attention, output dense,
    /// residual + LayerNorm, GELU feed-forward, residual + LayerNorm (`EncoderForward.swift`).
    case postNorm
    /// ModernBERT's pre-LayerNorm layer: LayerNorm (none in layer 0), fused `Wqkv`, rotary
    /// positions, global or sliding-window attention, `Wo`, residual; LayerNorm, GeGLU
    /// feed-forward, residual; a final LayerNorm after the last layer
    /// (`Families/ModernBERT/`).
    case preNormRotary

    /// Rows of the feed-forward's first weight for `intermediate` units (GeGLU: input and gate).
    public func intermediateRows(_ intermediate: Int) -> Int { self == .preNormRotary ? 2 * intermediate : intermediate }
}

/// The activation between a classification head's two Linears.
public enum HeadActivation: String, Sendable, Equatable {
    /// BERT's pooler, RoBERTa.
    case tanh
    /// ELECTRA (exact erf GELU).
    case gelu
    /// DistilBERT.
    case relu
}

/// What a classification head reads from the last hidden states `(T, C)`.
public enum Pooling: String, Sendable, Equatable, Codable {
    /// Each sequence's first token (`[CLS]`, `<s>`).
    case cls
    /// The mean over each sequence's tokens (ModernBERT's `classifier_pooling: "mean"`).
    case mean
}

/// A family's sequence-classification head on the pooled token:
/// `[dropout] → dense → activation → [LayerNorm] → dropout → out`.
public struct HeadLayout: Sendable, Equatable {
    /// Module name of the first Linear, `(C, C)`, without `.weight` (`bert.pooler.dense`).
    public let dense: String
    /// Module name of the output Linear, `(K, C)` (`classifier`).
    public let out: String
    /// Whether dropout is applied to the first token before `dense` (RoBERTa), not only after it.
    public let dropoutBeforeDense: Bool
    /// The activation after `dense`.
    public let activation: HeadActivation
    /// Whether `dense` belongs to the pretrained encoder (BERT's pooler: frozen under LoRA,
    /// kept when the head is replaced) rather than to the head (trained with LoRA, as PEFT's
    /// `modules_to_save`, and re-initialised with it).
    public let denseIsPretrained: Bool
    /// The LayerNorm after the activation (ModernBERT's `head.norm`), pretrained with `dense`; nil when the head has none.
    public var norm: String? = nil

    /// Parameter names of the part trained with LoRA and replaced for a new label count.
    public var trainedNames: [String] {
        (denseIsPretrained ? [out] : [dense, out]).flatMap { [$0 + ".weight", $0 + ".bias"] }
    }
}

/// Module names of a family's embeddings, relative to its prefix. The tables are `E` wide:
/// the hidden size `C`, or ELECTRA's `embedding_size`, projected to `C` after the LayerNorm.
public struct EmbeddingNames: Sendable, Equatable {
    /// `(V, E)`.
    public let word: String
    /// `(P, E)`; nil for rotary positions (ModernBERT).
    public let position: String?
    /// `(type_vocab_size, E)`; nil for families without token types (DistilBERT), which
    /// ignore the type ids of a pair.
    public let tokenType: String?
    /// The LayerNorm after their sum, `E` wide.
    public let norm: String
    /// The Linear `(C, E)` after the LayerNorm and dropout when `E ≠ C` (ELECTRA's
    /// `embeddings_project`); nil when the family never has one.
    public let projection: String?

    /// Names with BERT's layout (`embeddings.word_embeddings`, …).
    public init(word: String, position: String?, tokenType: String?, norm: String, projection: String? = nil) {
        self.word = word
        self.position = position
        self.tokenType = tokenType
        self.norm = norm
        self.projection = projection
    }
}

/// The `config.json` keys a family uses for the encoder's sizes and rates (BERT's names, or
/// DistilBERT's `dim`, `n_layers`, …). A nil key means the family has no such setting and the
/// value is fixed (`fixedLayerNormEps`) or absent.
public struct ConfigKeys: Sendable, Equatable {
    public var hiddenSize = "hidden_size"
    public var layerCount = "num_hidden_layers"
    public var headCount = "num_attention_heads"
    public var intermediateSize = "intermediate_size"
    public var activation = "hidden_act"
    public var hiddenDropout = "hidden_dropout_prob"
    public var attentionDropout = "attention_probs_dropout_prob"
    public var classifierDropout = "classifier_dropout"
    public var typeVocabularySize: String? = "type_vocab_size"
    public var layerNormEps: String? = "layer_norm_eps"
    /// The embeddings' width when it may differ from the hidden size (ELECTRA).
    public var embeddingSize: String? = nil
    /// Dropout after the embeddings' LayerNorm when it has a key of its own (ModernBERT's
    /// `embedding_dropout`); nil: the hidden dropout.
    public var embeddingDropout: String? = nil
    /// Dropout probabilities of keys the config lacks (transformers' defaults: 0.1 for BERT's
    /// family, 0 for ModernBERT).
    public var defaultDropout: Float = 0.1
    /// `classifier_dropout` when the config lacks it; nil: the hidden dropout (BERT's rule).
    public var defaultClassifierDropout: Float? = nil
    /// `layer_norm_eps` of families whose config has none.
    public var fixedLayerNormEps: Float = 1e-12
    /// Settings the family's checkpoints may carry that swift-lora does not implement: a key,
    /// the JSON value that changes the maths, and why it is refused.
    public var refused: [RefusedSetting] = []

    /// BERT's keys.
    public init() {}
}

/// A configuration value that would make the model compute something swift-lora does not.
public struct RefusedSetting: Sendable, Equatable {
    /// The `config.json` key.
    public let key: String
    /// The value that is refused (compared with the config's JSON text of it).
    public let value: String
    /// Why, for the error message.
    public let why: String

    public init(key: String, value: String, why: String) {
        self.key = key
        self.value = value
        self.why = why
    }
}

/// Module names inside one transformer layer, relative to `layerPrefix + "N."`.
public struct LayerNames: Sendable, Equatable {
    /// The Linears, by the role they play (also the LoRA targets): six for a post-norm layer,
    /// four for ModernBERT's (`qkv`, attention output, intermediate, output).
    public let linears: [LoRATarget: String]
    /// The attention's LayerNorm: after it in a post-norm layer, before it in a pre-norm one.
    public let attentionNorm: String
    /// The feed-forward's LayerNorm: after it in a post-norm layer, before it in a pre-norm one.
    public let outputNorm: String
    /// Whether layer 0 has `attentionNorm` (ModernBERT's first layer reads the embeddings' LayerNorm output as it is).
    public var firstLayerHasAttentionNorm = true
    /// Whether hidden dropout is applied to the attention output before its residual
    /// (BERT); DistilBERT has none there.
    public let dropoutAfterAttention: Bool

    /// Names of a layer.
    public init(linears: [LoRATarget: String], attentionNorm: String, outputNorm: String, dropoutAfterAttention: Bool = true) {
        self.linears = linears
        self.attentionNorm = attentionNorm
        self.outputNorm = outputNorm
        self.dropoutAfterAttention = dropoutAfterAttention
    }

    /// Module path of `target` in the layer; `target` must be one of `targets`.
    public func path(_ target: LoRATarget) -> String {
        guard let path = linears[target] else { preconditionFailure("LayerNames.path: no \(target.rawValue) Linear in this family") }
        return path
    }

    /// The roles this layer has, in `LoRATarget` order.
    public var targets: [LoRATarget] { LoRATarget.allCases.filter { linears[$0] != nil } }
}

/// An encoder family: everything the generic encoder, checkpoint loader, adapter I/O and
/// exporter need to know about a `model_type`, declared in the family's own folder
/// (`Families/<Name>/`) and listed once in `EncoderFamily.known`.
public struct EncoderFamily: Sendable, Equatable, CustomStringConvertible {
    /// Short name (`bert`), also used in reports.
    public let name: String
    /// `model_type` values of `config.json` that mean this family.
    public let modelTypes: [String]
    /// Prefix of the encoder's tensors in a `*ForSequenceClassification` checkpoint (`bert.`);
    /// base-model checkpoints (`BertModel`) omit it.
    public let checkpointPrefix: String
    /// `architectures` entry of an exported config.
    public let architecture: String
    /// `pad_token_id` when the config has none.
    public let defaultPadTokenId: Int
    /// The config keys of the encoder's settings.
    public let configKeys: ConfigKeys
    /// How positions are numbered.
    public let positions: PositionScheme
    /// Embedding tensor names.
    public let embeddings: EmbeddingNames
    /// Prefix of layer `N`'s modules: `layerPrefix + "N."` (`encoder.layer.`).
    public let layerPrefix: String
    /// Module names inside a layer.
    public let layer: LayerNames
    /// The classification head.
    public let head: HeadLayout
    /// LoRA targets when none are given (PEFT's defaults for the family).
    public let defaultTargets: [LoRATarget]
    /// How a layer is composed.
    public var body: EncoderBody = .postNorm
    /// The LayerNorm after the last layer (ModernBERT's `final_norm`), relative to the prefix.
    public var finalNorm: String? = nil

    public var description: String { name }
    public static func == (a: EncoderFamily, b: EncoderFamily) -> Bool { a.name == b.name }

    /// Every family swift-lora runs; each is declared in `Families/<Name>/`.
    public static let known: [EncoderFamily] = [.bert, .roberta, .xlmRoberta, .camembert, .electra, .distilbert, .modernbert]

    /// The family of a `model_type`, or nil.
    public static func forModelType(_ type: String) -> EncoderFamily? {
        known.first { $0.modelTypes.contains(type) }
    }

    /// All `model_type` values, for error messages.
    public static var knownModelTypes: [String] { known.flatMap(\.modelTypes) }

    /// Canonical name of a module of layer `l` (`bert.encoder.layer.3.attention.self.query`).
    public func layerModule(_ l: Int, _ path: String) -> String { checkpointPrefix + layerPrefix + "\(l)." + path }

    /// Where a tensor name points into a layer: the index after `layerPrefix` (at most six
    /// digits) and what follows it (`attention.self.query.lora_A.weight`); nil for other names.
    public func layerAndRest(of name: String) -> (layer: Int, rest: Substring)? {
        guard let range = name.range(of: layerPrefix) else { return nil }
        let after = name[range.upperBound...]
        let digits = after.prefix { $0.isNumber }
        guard digits.count <= 6, let layer = Int(digits) else { return nil }
        let rest = after[digits.endIndex...]
        return (layer, rest.first == "." ? rest.dropFirst() : rest)
    }

    /// Canonical name of an embedding tensor or module.
    public func embeddingModule(_ relative: String) -> String { checkpointPrefix + relative }

    /// The longest input the position table of `positions` rows allows.
    public func maxInputLength(positions count: Int, padTokenId: Int) -> Int {
        switch positions {
        case .fromZero, .rotary: count
        case .afterPadding: count - (padTokenId + 1)
        }
    }

    /// Position ids of one sequence into `out` (`count` tokens from `ids`).
    @inlinable public func writePositions(_ out: UnsafeMutablePointer<Int32>, ids: UnsafePointer<Int32>, count: Int, padTokenId: Int32) {
        switch positions {
        case .fromZero, .rotary:
            for i in 0..<count { out[i] = Int32(i) }
        case .afterPadding:
            var running: Int32 = 0
            for i in 0..<count {
                if ids[i] != padTokenId { running += 1; out[i] = running + padTokenId } else { out[i] = padTokenId }
            }
        }
    }

    /// The target a module name selects: a whole path in the layer (`attention.self.query`),
    /// or its last name where no other Linear of the layer shares it (`q_lin`, not `dense`).
    public func target(forModulePath path: String) -> LoRATarget? {
        if let whole = layer.linears.first(where: { $0.value == path }) { return whole.key }
        let matches = layer.linears.filter { $0.value.split(separator: ".").last.map(String.init) == path }
        return matches.count == 1 ? matches.first!.key : nil
    }

    /// The name PEFT's `target_modules` may use for `target`: the module's last name where it
    /// is unique in the layer, else nil (a regular expression over whole paths is needed).
    public func peftName(_ target: LoRATarget) -> String? {
        let last = layer.path(target).split(separator: ".").last.map(String.init) ?? layer.path(target)
        return self.target(forModulePath: last) == target ? last : nil
    }

    /// PEFT's `modules_to_save` for the head: the top-level modules of `head.trainedNames`,
    /// and `score` (PEFT's default for sequence classification names both).
    public var modulesToSave: [String] {
        var out: [String] = []
        for name in head.trainedNames {
            let top = String(name.split(separator: ".").first ?? Substring(name))
            if !out.contains(top) { out.append(top) }
        }
        if !out.contains("score") { out.append("score") }
        return out
    }
}
