import Foundation
import Tensors
import SafeTensors

/// A Linear layer of the model (with or without a bias), optionally carrying a LoRA adapter.
struct LinearLayer {
    let weight: Parameter
    let bias: Parameter?
    var adapter: LoRAAdapter?
    /// The weight quantised to int8 (`EncoderModel.quantizeLinears`): the forward pass then
    /// runs the int8 product instead of the fp32 one.
    var quantized: QuantizedWeight? = nil
    var inFeatures: Int { weight.shape[1] }
    var outFeatures: Int { weight.shape[0] }

    /// Whether the backward pass reads this layer's input: for `dW` when the weight trains,
    /// or for `dA` when an unmerged adapter trains. A frozen plain Linear only needs `dY·W`.
    var needsInputInBackward: Bool {
        if weight.isTrainable { return true }
        guard let adapter, !adapter.isMerged else { return false }
        return adapter.a.isTrainable || adapter.b.isTrainable
    }
}

/// What one adapter saves for its backward pass.
struct AdapterSaved {
    var hidden: UnsafeMutablePointer<Float>? = nil         // (T, r) = drop(x)·Aᵀ
    var droppedInput: UnsafeMutablePointer<Float>? = nil   // (T, in) when adapter dropout > 0
    var mask: UnsafeMutablePointer<UInt8>? = nil           // (T, in) keep flags when adapter dropout > 0
}

/// A LayerNorm's weight and its bias (nil for `bias=False`, ModernBERT's default).
struct NormLayer {
    let weight: Parameter
    let bias: Parameter?
    var parameters: [Parameter] { [weight] + (bias.map { [$0] } ?? []) }
}

/// Parameters of one transformer layer: its Linears by role, and its two LayerNorms.
struct EncoderLayer {
    /// The Linears in `LoRATarget.allCases` order, nil for roles the family's layer lacks.
    var slots: [LinearLayer?]
    /// The attention's LayerNorm (after it in a post-norm layer, before it in a pre-norm one;
    /// nil in ModernBERT's layer 0).
    let attentionNorm: NormLayer?
    /// The feed-forward's LayerNorm.
    let outputNorm: NormLayer

    subscript(target: LoRATarget) -> LinearLayer? {
        get { slots[target.slot] }
        set { slots[target.slot] = newValue }
    }

    // A post-norm layer's parts (every one present, every LayerNorm with a bias).
    var query: LinearLayer { slots[LoRATarget.query.slot]! }
    var key: LinearLayer { slots[LoRATarget.key.slot]! }
    var value: LinearLayer { slots[LoRATarget.value.slot]! }
    var qkv: LinearLayer { slots[LoRATarget.qkv.slot]! }
    var attentionOutput: LinearLayer { slots[LoRATarget.attentionOutput.slot]! }
    var intermediate: LinearLayer { slots[LoRATarget.intermediate.slot]! }
    var output: LinearLayer { slots[LoRATarget.output.slot]! }
    var attentionNormWeight: Parameter { attentionNorm!.weight }
    var attentionNormBias: Parameter { attentionNorm!.bias! }
    var outputNormWeight: Parameter { outputNorm.weight }
    var outputNormBias: Parameter { outputNorm.bias! }

    /// The Linears present, in `LoRATarget` order.
    var linears: [LinearLayer] { slots.compactMap { $0 } }
    /// Every parameter of the layer, adapters included.
    var parameters: [Parameter] {
        (attentionNorm?.parameters ?? []) + outputNorm.parameters
            + linears.flatMap { [$0.weight] + ($0.bias.map { [$0] } ?? []) + ($0.adapter.map { [$0.a, $0.b] } ?? []) }
    }
}

extension LoRATarget {
    /// Index into `EncoderLayer.slots`.
    var slot: Int {
        switch self {
        case .query: 0
        case .key: 1
        case .value: 2
        case .attentionOutput: 3
        case .intermediate: 4
        case .output: 5
        case .qkv: 6
        }
    }
}

/// Activations of one layer saved for backward (pointers into the step's arena).
///
/// Only what the backward pass reads is kept per layer: the GELU output is recomputed from
/// `interPre` when the output dense needs it, and `context`/`norm1` point at a buffer shared
/// by all layers (so hold stale values) unless `attentionOutput`/`intermediate` need their
/// input. Dropout masks are bytes.
struct LayerSaved {
    var input: UnsafeMutablePointer<Float>
    var q, k, v: UnsafeMutablePointer<Float>
    var adapters = [AdapterSaved](repeating: AdapterSaved(), count: 6)
    var probs: UnsafeMutablePointer<Float>
    var attentionMask: UnsafeMutablePointer<UInt8>?
    var context: UnsafeMutablePointer<Float>
    var mask1: UnsafeMutablePointer<UInt8>?
    var pre1, mean1, rstd1, norm1: UnsafeMutablePointer<Float>
    var interPre: UnsafeMutablePointer<Float>
    var mask2: UnsafeMutablePointer<UInt8>?
    var pre2, mean2, rstd2, output: UnsafeMutablePointer<Float>
    /// Set when the layer ran on each sequence's first token only (see
    /// `EncoderModel.lastLayerFirstTokensOnly`): those rows of `input`, packed `(B, C)`. `q`,
    /// `context`, `pre1`…`output` then hold `B` rows, `probs` and `attentionMask` the
    /// one-query layout of `Attention.forwardFirstQuery`, `k`, `v` and `input` all `T` rows.
    var firstRows: UnsafeMutablePointer<Float>? = nil
}

extension LayerSaved {
    /// What a layer saved: its attention's inputs and outputs, then what
    /// `postAttentionForward` wrote and the two hidden dropout masks it drew.
    init(input: UnsafeMutablePointer<Float>, q: UnsafeMutablePointer<Float>, k: UnsafeMutablePointer<Float>,
         v: UnsafeMutablePointer<Float>, adapters: [AdapterSaved], probs: UnsafeMutablePointer<Float>,
         attentionMask: UnsafeMutablePointer<UInt8>?, context: UnsafeMutablePointer<Float>,
         post: EncoderModel.PostAttentionOutputs, masks: (UnsafeMutablePointer<UInt8>?, UnsafeMutablePointer<UInt8>?),
         firstRows: UnsafeMutablePointer<Float>? = nil) {
        self.init(input: input, q: q, k: k, v: v, adapters: adapters, probs: probs, attentionMask: attentionMask, context: context,
                  mask1: masks.0, pre1: post.pre1, mean1: post.mean1, rstd1: post.rstd1, norm1: post.norm1, interPre: post.interPre,
                  mask2: masks.1, pre2: post.pre2, mean2: post.mean2, rstd2: post.rstd2, output: post.output, firstRows: firstRows)
    }
}

/// A post-LayerNorm encoder of any family in `EncoderFamily.known` with its
/// sequence-classification head, as transformers' `*ForSequenceClassification`
/// (`BertForSequenceClassification`, `RobertaForSequenceClassification`).
///
/// Every Linear, LayerNorm and GELU runs over the packed `(T_total, C)` batch; attention
/// runs per sequence over its true length. The forward pass saves what the hand-written
/// backward pass needs into an arena that is reused every step.
public final class EncoderModel: @unchecked Sendable {
    /// The configuration (`num_labels` set to the head in use).
    public private(set) var config: EncoderConfig

    /// Names the head's outputs (`id2label` of an exported config; the labels beside an
    /// adapter). `names` must have one name per output, or be `nil`.
    public func setLabelNames(_ names: [String]?) {
        precondition(names.map { $0.count == config.labelCount } ?? true, "setLabelNames: \(names?.count ?? 0) names for \(config.labelCount) outputs")
        config.labelNames = names
    }
    /// Every parameter by canonical name.
    public let parameters: ParameterStore
    /// Head parameters that were not in the checkpoint and were initialised here.
    public internal(set) var newlyInitialised: [String] = []
    /// LoRA settings when adapters are attached.
    public private(set) var loraConfig: LoRAConfig?

    /// Embedding tables `(V, E)`, `(P, E)` where positions have a table, and
    /// `(type_vocab_size, E)` where the family has token types.
    let wordEmbeddings: Parameter
    let positionEmbeddings: Parameter?
    let typeEmbeddings: Parameter?
    /// The embeddings' LayerNorm, `(E)`.
    let embeddingNorm: NormLayer
    var embeddingNormWeight: Parameter { embeddingNorm.weight }
    /// The LayerNorm after the last layer (ModernBERT's `final_norm`), `(C)`.
    let finalNorm: NormLayer?
    /// `(C, E)` after the embeddings' LayerNorm and dropout when `E ≠ C` (ELECTRA).
    private(set) var embeddingProjection: LinearLayer?
    /// Every LayerNorm's weight and bias (set to 1 and 0 by `initialiseRandomly`).
    let normParameters: Set<ObjectIdentifier>
    var layers: [EncoderLayer]
    /// The head's first Linear, `(C, C)` (`EncoderFamily.head.dense`: BERT's pooler, RoBERTa's classifier.dense).
    let headDense: LinearLayer
    /// The head's LayerNorm after its activation (ModernBERT's `head.norm`), `(C)`.
    let headNorm: NormLayer?
    /// The head's output Linear, `(K, C)` (`EncoderFamily.head.out`).
    let headOut: LinearLayer
    /// RoPE tables of the global and local layers (ModernBERT), grown to the longest sequence seen.
    var rotaryTables: (global: RotaryTable, local: RotaryTable)?

    let arena = Arena(capacity: 1 << 20)
    /// The adapters of the mixed batch in flight (`predictMixed`), nil otherwise.
    var mixedRows: MixedRows?

    /// Most activation floats held at once by a forward/backward pass so far.
    public var activationPeakFloats: Int { arena.peak }

    /// Called by the backward pass as soon as layer `l`'s gradients are final (layers go last
    /// to first), so that a data-parallel trainer can start reducing them while the layers
    /// below are still being computed.
    public var afterLayerBackward: ((Int) -> Void)?

    // MARK: construction

    /// Builds a model with every parameter zero (use `load` or `initialiseRandomly`).
    public init(config: EncoderConfig) {
        self.config = config
        let store = ParameterStore()
        parameters = store
        let c = config.hiddenSize, i = config.intermediateSize, family = config.family
        let e = family.embeddings, names = family.layer, width = config.embeddingSize
        // Post-norm families have every bias; ModernBERT's config says which it has.
        let modern = config.modernBERT
        let attentionBias = modern?.attentionBias ?? true, mlpBias = modern?.mlpBias ?? true
        let normBias = modern?.normBias ?? true, classifierBias = modern?.classifierBias ?? true
        func embedding(_ relative: String, rows: Int) -> Parameter {
            store.add(family.embeddingModule(relative) + ".weight", shape: [rows, width], decays: true)
        }
        func linear(_ name: String, _ outF: Int, _ inF: Int, bias: Bool = true) -> LinearLayer {
            LinearLayer(weight: store.add(name + ".weight", shape: [outF, inF], decays: true),
                        bias: bias ? store.add(name + ".bias", shape: [outF], decays: false) : nil, adapter: nil)
        }
        var norms = Set<ObjectIdentifier>()
        func norm(_ name: String, width: Int = c) -> NormLayer {
            let n = NormLayer(weight: store.add(name + ".weight", shape: [width], decays: false),
                              bias: normBias ? store.add(name + ".bias", shape: [width], decays: false) : nil)
            for p in n.parameters { norms.insert(ObjectIdentifier(p)) }
            return n
        }
        wordEmbeddings = embedding(e.word, rows: config.vocabularySize)
        positionEmbeddings = e.position.map { embedding($0, rows: config.maxPositions) }
        typeEmbeddings = e.tokenType.map { embedding($0, rows: config.typeVocabularySize) }
        embeddingNorm = norm(family.embeddingModule(e.norm), width: width)
        embeddingProjection = config.embeddingProjection.map { linear($0, c, width) }
        var layers: [EncoderLayer] = []
        for l in 0..<config.layerCount {
            func module(_ target: LoRATarget) -> String { family.layerModule(l, names.path(target)) }
            var slots = [LinearLayer?](repeating: nil, count: LoRATarget.allCases.count)
            // Creation order = checkpoint order of a post-norm layer (the slab layout follows it).
            for target in [LoRATarget.query, .key, .value, .qkv, .attentionOutput] where names.linears[target] != nil {
                slots[target.slot] = linear(module(target), target == .qkv ? 3 * c : c, c, bias: attentionBias)
            }
            let attentionNorm = l > 0 || names.firstLayerHasAttentionNorm ? norm(family.layerModule(l, names.attentionNorm)) : nil
            slots[LoRATarget.intermediate.slot] = linear(module(.intermediate), family.body.intermediateRows(i), c, bias: mlpBias)
            slots[LoRATarget.output.slot] = linear(module(.output), c, i, bias: mlpBias)
            let outputNorm = norm(family.layerModule(l, names.outputNorm))
            layers.append(EncoderLayer(slots: slots, attentionNorm: attentionNorm, outputNorm: outputNorm))
        }
        self.layers = layers
        finalNorm = family.finalNorm.map { norm(family.embeddingModule($0)) }
        headDense = linear(family.head.dense, c, c, bias: classifierBias)
        headNorm = family.head.norm.map { norm($0) }
        headOut = linear(family.head.out, config.labelCount, c)
        normParameters = norms
    }

    /// A model over the same parameters (no copy) with its own activation arena, for a second
    /// thread that only infers (`lora serve`'s batch workers). Neither model may change its
    /// weights or layout, or attach adapters, while the other is in use.
    public func inferenceSibling() -> EncoderModel { EncoderModel(sharingWeightsOf: self) }

    private init(sharingWeightsOf other: EncoderModel) {
        config = other.config
        parameters = other.parameters
        newlyInitialised = other.newlyInitialised
        loraConfig = other.loraConfig
        wordEmbeddings = other.wordEmbeddings
        positionEmbeddings = other.positionEmbeddings
        typeEmbeddings = other.typeEmbeddings
        embeddingNorm = other.embeddingNorm
        finalNorm = other.finalNorm
        embeddingProjection = other.embeddingProjection
        normParameters = other.normParameters
        layers = other.layers
        headDense = other.headDense
        headNorm = other.headNorm
        headOut = other.headOut
        rotaryTables = other.rotaryTables
        usesInferenceLayout = other.usesInferenceLayout
        lastLayerFirstTokensOnly = other.lastLayerFirstTokensOnly
    }

    /// Overrides the dropout probabilities of the configuration (e.g. 0 for benchmarks).
    public func setDropout(hidden: Float, attention: Float, classifier: Float? = nil) {
        config.hiddenDropout = hidden
        config.embeddingDropout = hidden
        config.attentionDropout = attention
        config.classifierDropout = classifier
    }

    /// Floating-point operations of one forward pass over `batch` (GEMMs only: linear layers,
    /// attention products, adapters and head), for GFLOP/s figures.
    public func forwardFlops(_ batch: EncoderBatch) -> Double {
        let t = Double(batch.tokenCount), c = Double(config.hiddenSize)
        let attention = attentionFlops(batch)
        // Every Linear of a layer, and each unmerged adapter's two thin products.
        let linears = layers.first?.linears ?? []
        let dense = linears.reduce(0.0) { $0 + Double($1.inFeatures * $1.outFeatures) }
        let lowRank = linears.reduce(0.0) { sum, lin in
            guard let a = lin.adapter, !a.isMerged else { return sum }
            return sum + Double(a.rank * (lin.inFeatures + lin.outFeatures))
        }
        let perLayer = 2 * t * (dense + lowRank) + attention
        let head = 2 * Double(batch.count) * (c * c + c * Double(config.labelCount))
        let projection = embeddingProjection == nil ? 0 : 2 * t * c * Double(config.embeddingSize)
        return Double(config.layerCount) * perLayer + head + projection
    }

    /// Floating-point operations of `predict(batch)`: `forwardFlops` less what the last layer
    /// skips when `lastLayerFirstTokensOnly` computes it for each sequence's first token only
    /// (its query, attention output and feed-forward rows, and all but one query row of its
    /// attention).
    public func predictionFlops(_ batch: EncoderBatch) -> Double {
        guard firstTokenLastLayer else { return forwardFlops(batch) }
        let t = Double(batch.tokenCount), b = Double(batch.count)
        let c = Double(config.hiddenSize), i = Double(config.intermediateSize)
        return forwardFlops(batch) - 2 * (t - b) * (2 * c * c + 2 * c * i) - (attentionFlops(batch) - attentionFlops(batch, firstQueryOnly: true))
    }

    /// `QKᵀ` and `PV` of one layer: `4 · L² · C` per sequence, or `4 · L · C` for one query.
    func attentionFlops(_ batch: EncoderBatch, firstQueryOnly: Bool = false) -> Double {
        var total = 0.0
        for s in 0..<batch.count {
            let l = Double(batch.sequences.length(s))
            total += 4 * l * (firstQueryOnly ? 1 : l) * Double(config.hiddenSize)
        }
        return total
    }

    /// Floating-point operations of one training step (forward, input gradients, and weight
    /// gradients only for trainable weights).
    public func trainingFlops(_ batch: EncoderBatch) -> Double {
        let t = Double(batch.tokenCount), b = Double(batch.count)
        var weightGrad = 0.0
        for (l, layer) in layers.enumerated() {
            let firstTokens = firstTokenLastLayer && l == layers.count - 1
            for target in LoRATarget.allCases {
                guard let lin = layer[target], lin.weight.isTrainable else { continue }
                // Keys and values see every token even in a first-token layer.
                let rows = firstTokens && target != .key && target != .value ? b : t
                weightGrad += 2 * rows * Double(lin.inFeatures * lin.outFeatures)
            }
        }
        // Input gradients cost as much as the forward pass; attention backward is twice its forward.
        let full = attentionFlops(batch), first = attentionFlops(batch, firstQueryOnly: firstTokenLastLayer)
        return 2 * predictionFlops(batch) + Double(config.layerCount - 1) * full + first + weightGrad
    }

    /// Names of the classification head's parameters (trained with LoRA, as PEFT's `modules_to_save`).
    public var headParameterNames: [String] { config.family.head.trainedNames }

    /// Initialises the head as transformers does: weights normal(0, initializer_range), biases
    /// zero, LayerNorms 1 and 0.
    public func initialiseHead(names: [String], rng: inout RandomGenerator) {
        for name in names {
            guard let p = parameters[name] else { continue }
            if normParameters.contains(ObjectIdentifier(p)) && !name.hasSuffix(".bias") {
                p.value.pointer.update(repeating: 1, count: p.count)
            } else if name.hasSuffix(".bias") { p.value.zero() } else {
                rng.fillNormal(p.value.pointer, count: p.count, std: config.initializerRange)
            }
        }
    }

    /// Initialises every parameter as transformers' `_init_weights` (normal weights, zero
    /// biases, LayerNorm 1/0); for tests and benchmarks without a checkpoint.
    public func initialiseRandomly(seed: UInt64) {
        var rng = RandomGenerator(seed: seed)
        for p in parameters.all {
            let isNorm = normParameters.contains(ObjectIdentifier(p))
            if isNorm && !p.name.hasSuffix(".bias") {
                p.value.pointer.update(repeating: 1, count: p.count)
            } else if p.name.hasSuffix(".bias") || isNorm {
                p.value.zero()
            } else {
                rng.fillNormal(p.value.pointer, count: p.count, std: config.initializerRange)
            }
        }
    }

    // MARK: training set-up

    /// Makes every parameter trainable (full fine-tuning).
    public func setFullFineTuning() {
        parameters.train { _ in true }
    }

    /// Freezes the encoder, attaches LoRA adapters to `config.targets` in every layer
    /// (A Kaiming-uniform, B zero, from `rng`; or PiSSA's principal singular vectors, the base
    /// weights becoming the residual) and trains adapters plus the head.
    ///
    /// - Throws: `EncoderError.invalidInput` when PiSSA's SVD fails (LAPACK does not converge).
    public func attachLoRA(_ lora: LoRAConfig, rng: inout RandomGenerator) throws {
        precondition(loraConfig == nil, "attachLoRA: adapters already attached")
        precondition(lora.rank > 0, "attachLoRA: rank must be positive")
        let missing = lora.targets.filter { config.family.layer.linears[$0] == nil }
        precondition(missing.isEmpty, "attachLoRA: a \(config.family.name) layer has no \(missing.map(\.rawValue)) (validate targets first: LoRAConfig.validate)")
        loraConfig = lora
        var trained = Set(headParameterNames)
        for l in layers.indices {
            for target in config.family.layer.targets where lora.targets.contains(target) {
                var lin = linear(of: target, layer: l)
                let base = config.family.layerModule(l, config.family.layer.path(target))
                let a = parameters.add(base + ".lora_A.weight", shape: [lora.rank, lin.inFeatures], decays: true)
                let b = parameters.add(base + ".lora_B.weight", shape: [lin.outFeatures, lora.rank], decays: true)
                let adapter = LoRAAdapter(a: a, b: b, baseWeight: lin.weight, config: lora)
                adapter.initialise(rng: &rng)
                if lora.initialisation == .pissa {
                    do { try adapter.initialisePiSSA() } catch {
                        throw EncoderError.invalidInput("PiSSA initialisation of \(lin.weight.name): \(error)")
                    }
                }
                trained.insert(a.name)
                trained.insert(b.name)
                lin.adapter = adapter
                setLinear(lin, of: target, layer: l)
            }
        }
        parameters.train { trained.contains($0.name) }
    }

    /// Sets the dropout on every adapter's input (a warm start keeps the adapter's weights but
    /// trains with the run's `--lora-dropout`).
    public func setAdapterDropout(_ p: Float) {
        precondition(p >= 0 && p < 1, "setAdapterDropout: \(p) is not a probability")
        for a in adapters { a.dropout = p }
        loraConfig?.dropout = p
    }

    /// Every attached adapter, layer by layer, in `LoRATarget` order.
    public var adapters: [LoRAAdapter] { layers.flatMap { $0.linears.compactMap(\.adapter) } }

    /// Whether the encoder's Linear weights are stored transposed (`useInferenceLayout()`).
    public private(set) var usesInferenceLayout = false

    /// Whether training steps and `predict` compute the last layer for each sequence's first
    /// token only (default true). The head reads nothing else, so the logits and every
    /// gradient are those of the full layer (dropout masks are drawn for the full shapes, so
    /// the random stream is the same too); the query, attention output, feed-forward and
    /// LayerNorm rows of that layer shrink from `T` to `B`. False runs the full layer.
    public var lastLayerFirstTokensOnly = true

    /// Whether the last layer runs for the first tokens only: `lastLayerFirstTokensOnly` on a
    /// post-norm body (ModernBERT's pre-norm body always runs its full last layer).
    var firstTokenLastLayer: Bool { lastLayerFirstTokensOnly && config.family.body == .postNorm }

    /// Stores every encoder Linear weight transposed, `(in, out)`, so that a forward pass runs
    /// OpenBLAS's NN product: with few rows (batch-1 latency, short sentences) it is about 10 %
    /// faster than the NT product on the checkpoint layout, because OpenBLAS packs the weight on
    /// every call and packs it faster this way. One-way, for processes that only infer: training,
    /// merging and saving need the checkpoint layout and refuse afterwards, so merge adapters first.
    public func useInferenceLayout() {
        guard !usesInferenceLayout else { return }
        for layer in layers { for lin in layer.linears { lin.weight.transposeStorage() } }
        embeddingProjection?.weight.transposeStorage()
        usesInferenceLayout = true
    }

    /// Whether the encoder's Linears run in int8 (`quantizeLinears`).
    public var isQuantized: Bool { layers.first?.linears.first?.quantized != nil }

    /// Quantises every encoder Linear's weight to int8 per output channel
    /// (`QuantizedWeight`); from then on the forward pass quantises each Linear's input per
    /// row at run time and multiplies in int32, as ONNX Runtime's `quantize_dynamic`.
    /// Embeddings, LayerNorms, attention, activations and the head stay fp32. One-way, for
    /// processes that only infer; merge adapters first (an unmerged adapter would add its
    /// update in fp32 on top).
    ///
    /// - Parameter stored: int8 values and scales by weight name (a quantised checkpoint,
    ///   `lora quantize`), used instead of quantising those weights again.
    public func quantizeLinears(stored: [String: QuantizedWeight] = [:]) {
        guard !isQuantized else { return }
        precondition(!usesInferenceLayout, "quantizeLinears: quantise before useInferenceLayout()")
        func quantize(_ lin: inout LinearLayer) {
            lin.quantized = stored[lin.weight.name]
                ?? QuantizedWeight(quantizing: lin.weight.pointer, rows: lin.outFeatures, cols: lin.inFeatures)
        }
        for l in layers.indices {
            for slot in layers[l].slots.indices where layers[l].slots[slot] != nil { quantize(&layers[l].slots[slot]!) }
        }
        if var projection = embeddingProjection {
            quantize(&projection)
            embeddingProjection = projection
        }
    }

    /// Folds every adapter into its base weight (inference then costs nothing extra).
    public func mergeAdapters() { for a in adapters { a.merge() } }
    /// Takes every adapter back out of its base weight.
    public func unmergeAdapters() { for a in adapters { a.unmerge() } }

    func linear(of target: LoRATarget, layer l: Int) -> LinearLayer { layers[l][target]! }

    func setLinear(_ lin: LinearLayer, of target: LoRATarget, layer l: Int) { layers[l][target] = lin }
}

extension EncoderModel {
    /// Number of transformer layers.
    public var layerCount: Int { layers.count }

    /// Where layer `l`'s trainable parameters' gradients lie in the gradient slab: from the
    /// lowest offset to the highest end; nil when none of them trains.
    public func layerGradientRange(_ l: Int) -> Range<Int>? {
        let ranges = layers[l].parameters.compactMap { p in p.gradientOffset.map { $0 ..< $0 + p.count } }
        guard let low = ranges.map(\.lowerBound).min(), let high = ranges.map(\.upperBound).max() else { return nil }
        return low ..< high
    }
}

