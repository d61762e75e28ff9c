import Foundation
import Tensors

/// State saved by a training forward pass for the backward pass.
struct ForwardState {
    var tokenCount: Int
    var sequences: PackedSequences
    var tokenIds: [Int32]
    var typeIds: [Int32]
    var positionIds: [Int32]
    /// `(T, E)` sum of the tables, LayerNorm statistics `(T)`.
    var embeddingSum, embeddingMean, embeddingRstd: UnsafeMutablePointer<Float>
    var embeddingMask: UnsafeMutablePointer<UInt8>?
    /// `(T, E)` LayerNorm output after dropout: the input of `embeddingProjection` when there is one.
    var embeddingOutput: UnsafeMutablePointer<Float>
    var layers: [LayerSaved]
    var denseIn: UnsafeMutablePointer<Float>
    var denseInMask: UnsafeMutablePointer<UInt8>?
    /// The head's first Linear's output `(B, C)`, before and after its activation.
    var denseOut: UnsafeMutablePointer<Float>
    var denseAct: UnsafeMutablePointer<Float>
    var outIn: UnsafeMutablePointer<Float>
    var outMask: UnsafeMutablePointer<UInt8>?
    var logits: UnsafeMutablePointer<Float>
    /// Scratch for the attention kernels, reused by the backward pass.
    var attentionScratch: UnsafeMutablePointer<Float>
    /// What a pre-norm rotary body (ModernBERT) saved; `layers` is then empty.
    var rotary: RotaryForwardState? = nil
}

extension EncoderModel {
    /// Checks ids, type ids and positions against the configuration.
    func validate(_ batch: EncoderBatch) throws {
        guard batch.count > 0 else { throw EncoderError.invalidInput("empty batch") }
        let v = Int32(config.vocabularySize), tv = Int32(config.typeVocabularySize)
        for (t, id) in batch.tokenIds.enumerated() where id < 0 || id >= v {
            throw EncoderError.invalidInput("token id \(id) at packed position \(t) is outside the vocabulary (size \(v))")
        }
        // A family without token types ignores them (DistilBERT given a pair).
        for (t, id) in batch.typeIds.enumerated() where typeEmbeddings != nil && (id < 0 || id >= tv) {
            throw EncoderError.invalidInput("token type id \(id) at packed position \(t) is outside 0..<\(tv)")
        }
        let limit = config.maxInputLength
        for s in 0..<batch.count where batch.sequences.length(s) > limit {
            throw EncoderError.invalidInput("sequence \(s) has \(batch.sequences.length(s)) tokens; this model takes at most \(limit)")
        }
    }

    /// Position ids of every packed token, numbered per sequence as the family does
    /// (`EncoderFamily.positions`).
    func positionIds(_ batch: EncoderBatch) -> [Int32] {
        var out = [Int32](repeating: 0, count: batch.tokenCount)
        let pad = Int32(config.padTokenId), family = config.family
        out.withUnsafeMutableBufferPointer { o in
            batch.tokenIds.withUnsafeBufferPointer { ids in
                for s in 0..<batch.count {
                    let base = batch.sequences.offsets[s]
                    family.writePositions(o.baseAddress! + base, ids: ids.baseAddress! + base, count: batch.sequences.length(s), padTokenId: pad)
                }
            }
        }
        return out
    }

    /// Logits `(B, K)` in evaluation mode (no dropout).
    public func predict(_ batch: EncoderBatch) throws -> [Float] {
        var dropout = DropoutStream(keys: [])
        let state = try forward(batch, training: false, backward: false, firstTokensOnly: firstTokenLastLayer, dropout: &dropout)
        return Array(UnsafeBufferPointer(start: state.logits, count: batch.count * config.labelCount))
    }

    /// Final hidden states `(T_total, C)` in evaluation mode (for parity checks).
    public func hiddenStates(_ batch: EncoderBatch) throws -> [Float] {
        var dropout = DropoutStream(keys: [])
        let state = try forward(batch, training: false, backward: false, dropout: &dropout)
        // The encoder's last hidden state: after ModernBERT's final LayerNorm.
        guard let last = state.rotary?.finalOutput ?? state.layers.last?.output else { return [] }
        return Array(UnsafeBufferPointer(start: last, count: batch.tokenCount * config.hiddenSize))
    }

    /// One training step's forward and backward: returns the mean loss and the logits, and
    /// accumulates gradients into every trainable parameter (callers zero them between steps).
    /// Dropout is active when `training` is set, with each sequence's masks keyed by a number drawn from `rng`.
    public func forwardBackward(_ batch: EncoderBatch, labels: BatchLabels, training: Bool = true,
                                rng: inout RandomGenerator) throws -> (loss: Float, logits: [Float]) {
        try forwardBackward(batch, labels: labels, training: training, dropout: DropoutStream(sequences: batch.count, rng: &rng))
    }

    /// One training step's forward and backward with sequence `s`'s dropout masks keyed by
    /// `dropout.keys[s]`. Returns the batch's mean loss and the logits; the gradients
    /// accumulated are those of `gradientScale ×` the mean loss (a data-parallel process scales
    /// its share of a global batch of `B` by `b/B`, so that the processes' sum is the whole
    /// batch's gradient).
    public func forwardBackward(_ batch: EncoderBatch, labels: BatchLabels, training: Bool = true,
                                dropout: DropoutStream, gradientScale: Float = 1) throws -> (loss: Float, logits: [Float]) {
        guard !training || dropout.keys.count == batch.count else {
            throw EncoderError.invalidInput("\(dropout.keys.count) dropout keys for \(batch.count) sequences")
        }
        var dropout = dropout
        let b = batch.count, k = config.labelCount
        switch labels {
        case let .classes(c):
            guard !config.isRegression else { throw EncoderError.invalidInput("class labels given to a regression head") }
            guard c.count == b else { throw EncoderError.invalidInput("\(c.count) labels for \(b) sequences") }
            for (i, l) in c.enumerated() where l < 0 || Int(l) >= k {
                throw EncoderError.invalidInput("label \(l) of sequence \(i) is outside 0..<\(k)")
            }
        case let .targets(t):
            guard config.isRegression else { throw EncoderError.invalidInput("regression targets given to a \(k)-class head") }
            guard t.count == b else { throw EncoderError.invalidInput("\(t.count) targets for \(b) sequences") }
        }
        guard !usesInferenceLayout else {
            throw EncoderError.invalidInput("training needs the checkpoint weight layout; this model was switched to the inference layout")
        }
        guard !isQuantized else { throw EncoderError.invalidInput("training needs fp32 weights; this model's Linears were quantised to int8") }
        let state = try forward(batch, training: training, backward: true, firstTokensOnly: firstTokenLastLayer, dropout: &dropout)
        let dLogits = arena.allocate(b * k, zeroed: true)
        let loss: Float
        switch labels {
        case let .classes(c):
            loss = c.withUnsafeBufferPointer { Loss.crossEntropy(logits: state.logits, labels: $0.baseAddress!, rows: b, classes: k, dLogits: dLogits) }
        case let .targets(t):
            loss = t.withUnsafeBufferPointer { Loss.meanSquaredError(predictions: state.logits, targets: $0.baseAddress!, count: b, dPredictions: dLogits) }
        }
        let logits = Array(UnsafeBufferPointer(start: state.logits, count: b * k))
        if gradientScale != 1 { for i in 0..<(b * k) { dLogits[i] *= gradientScale } }
        if loss.isFinite { backward(state, dLogits: dLogits) }
        return (loss, logits)
    }

    // MARK: forward

    /// `out = input · Wᵀ + b (+ s · drop(input) · Aᵀ · Bᵀ)`. With `firstRowsOf`, `input` holds
    /// the first-token rows of those sequences and the adapter's dropout mask is drawn for all
    /// their rows (see `firstRowsMask`).
    func linearForward(_ lin: LinearLayer, out: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>, rows: Int,
                       firstRowsOf sequences: PackedSequences? = nil,
                       saved: inout AdapterSaved, training: Bool, dropout: inout DropoutStream) {
        if let quantized = lin.quantized {
            let scratch = arena.allocateBytes(Int8Linear.scratchBytes(rows: rows, weight: quantized))
            Int8Linear.forward(out: out, input: input, weight: quantized, bias: lin.bias?.pointer, rows: rows,
                               scratch: UnsafeMutableRawPointer(scratch))
        } else {
            Linear.forward(out: out, input: input, weight: lin.weight.pointer, bias: lin.bias?.pointer,
                           rows: rows, inFeatures: lin.inFeatures, outFeatures: lin.outFeatures,
                           weightTransposed: lin.weight.isTransposed)
        }
        if let mixedRows { addMixedDeltas(mixedRows, lin, out: out, input: input, rows: rows) }
        guard let ad = lin.adapter, !ad.isMerged else { return }
        let inF = lin.inFeatures, outF = lin.outFeatures, r = ad.rank
        var x = input
        if training && ad.dropout > 0 {
            let mask: UnsafeMutablePointer<UInt8>
            if let sequences {
                mask = firstRowsMask(sequences, cols: inF, probability: ad.dropout, training: true, dropout: &dropout)!
            } else {
                mask = arena.allocateBytes(rows * inF)
                dropout.nextMask(mask, rows: rows, cols: inF, probability: ad.dropout)
            }
            let xd = arena.allocate(rows * inF)
            Dropout.forward(out: xd, input: input, mask: mask, count: rows * inF, probability: ad.dropout)
            saved.mask = mask
            saved.droppedInput = xd
            x = UnsafePointer(xd)
        }
        let h = arena.allocate(rows * r)
        Gemm.multiply(m: rows, n: r, k: inF, a: x, lda: inF, b: ad.a.pointer, ldb: inF, transposeB: true, c: h, ldc: r)
        Gemm.multiply(m: rows, n: outF, k: r, a: h, lda: r, b: ad.b.pointer, ldb: r, transposeB: true,
                      c: out, ldc: outF, alpha: ad.scale, beta: 1)
        saved.hidden = h
    }

    func dropoutInPlace(_ x: UnsafeMutablePointer<Float>, rows: Int, cols: Int, probability: Float, training: Bool,
                        dropout: inout DropoutStream) -> UnsafeMutablePointer<UInt8>? {
        guard let mask = dropoutMask(rows: rows, cols: cols, probability: probability, training: training, dropout: &dropout) else { return nil }
        Dropout.forward(out: x, input: x, mask: mask, count: rows * cols, probability: probability)
        return mask
    }

    /// A fresh byte mask for a `(rows, cols)` activation (`rows`: the batch's tokens or its
    /// sequences) when dropout is active, else nil.
    func dropoutMask(rows: Int, cols: Int, probability: Float, training: Bool, dropout: inout DropoutStream) -> UnsafeMutablePointer<UInt8>? {
        guard training && probability > 0 else { return nil }
        let mask = arena.allocateBytes(rows * cols)
        dropout.nextMask(mask, rows: rows, cols: cols, probability: probability)
        return mask
    }

    /// A fresh byte mask for the attention probabilities of `sequences` when dropout is active, else nil.
    func dropoutAttentionMask(_ sequences: PackedSequences, heads: Int, probability: Float, training: Bool,
                              dropout: inout DropoutStream) -> UnsafeMutablePointer<UInt8>? {
        guard training && probability > 0 else { return nil }
        let mask = arena.allocateBytes(sequences.attentionFloats(heads: heads))
        dropout.nextAttentionMask(mask, heads: heads, probability: probability)
        return mask
    }

    /// Where the part of a layer after its attention writes its `rows` rows.
    struct PostAttentionOutputs {
        let pre1, mean1, rstd1, norm1, interPre, pre2, mean2, rstd2, output: UnsafeMutablePointer<Float>
    }

    /// The part of a layer after its attention: attention output dense, dropout + residual +
    /// LayerNorm, feed-forward (GELU into `geluOut`), dropout + residual + LayerNorm, over `rows`
    /// rows. Returns the two hidden dropout masks; with `firstRowsOf`, the rows are those
    /// sequences' first tokens and masks are drawn as for all their rows (`firstRowsMask`).
    func postAttentionForward(_ layer: EncoderLayer, context: UnsafePointer<Float>, residual: UnsafePointer<Float>, rows: Int,
                              firstRowsOf sequences: PackedSequences? = nil, into o: PostAttentionOutputs,
                              geluOut: UnsafeMutablePointer<Float>, adapters ad: inout [AdapterSaved], training: Bool,
                              dropout: inout DropoutStream) -> (UnsafeMutablePointer<UInt8>?, UnsafeMutablePointer<UInt8>?) {
        let c = config.hiddenSize, hiddenP = config.hiddenDropout
        func hiddenMask(_ dropout: inout DropoutStream) -> UnsafeMutablePointer<UInt8>? {
            if let sequences { return firstRowsMask(sequences, cols: c, probability: hiddenP, training: training, dropout: &dropout) }
            return dropoutMask(rows: rows, cols: c, probability: hiddenP, training: training, dropout: &dropout)
        }
        linearForward(layer.attentionOutput, out: o.pre1, input: context, rows: rows, firstRowsOf: sequences, saved: &ad[3],
                      training: training, dropout: &dropout)
        let mask1 = config.family.layer.dropoutAfterAttention ? hiddenMask(&dropout) : nil
        ResidualLayerNorm.forward(out: o.norm1, mean: o.mean1, rstd: o.rstd1, dense: o.pre1, residual: residual,
                                  mask: mask1.map { UnsafePointer($0) }, probability: hiddenP,
                                  weight: layer.attentionNormWeight.pointer, bias: layer.attentionNormBias.pointer,
                                  rows: rows, cols: c, eps: config.layerNormEps)
        linearForward(layer.intermediate, out: o.interPre, input: o.norm1, rows: rows, firstRowsOf: sequences, saved: &ad[4],
                      training: training, dropout: &dropout)
        GELU.forward(out: geluOut, input: o.interPre, count: rows * config.intermediateSize)
        linearForward(layer.output, out: o.pre2, input: geluOut, rows: rows, firstRowsOf: sequences, saved: &ad[5],
                      training: training, dropout: &dropout)
        let mask2 = hiddenMask(&dropout)
        ResidualLayerNorm.forward(out: o.output, mean: o.mean2, rstd: o.rstd2, dense: o.pre2, residual: o.norm1,
                                  mask: mask2.map { UnsafePointer($0) }, probability: hiddenP,
                                  weight: layer.outputNormWeight.pointer, bias: layer.outputNormBias.pointer,
                                  rows: rows, cols: c, eps: config.layerNormEps)
        return (mask1, mask2)
    }

    /// A dropout mask for the first-token rows `(B, cols)` of a `(T, cols)` activation, drawn
    /// for all `T` rows so the random stream is that of the full layer; nil without dropout.
    func firstRowsMask(_ sequences: PackedSequences, cols: Int, probability: Float, training: Bool,
                       dropout: inout DropoutStream) -> UnsafeMutablePointer<UInt8>? {
        guard let full = dropoutMask(rows: sequences.totalTokens, cols: cols, probability: probability, training: training, dropout: &dropout) else {
            return nil
        }
        let compact = arena.allocateBytes(sequences.count * cols)
        sequences.gatherFirstRows(of: full, cols: cols, into: compact)
        return compact
    }

    /// One encoder layer for each sequence's first token only: from the `(T, C)` `input`,
    /// returns what it saved, its output holding `(B, C)` rows. Keys and values cover every
    /// token; the query and everything after the attention run on `B` rows. Dropout masks
    /// are drawn in the full layer's order and shapes.
    func firstTokenLayerForward(_ layer: EncoderLayer, input x: UnsafeMutablePointer<Float>, sequences: PackedSequences,
                                training: Bool, geluOut: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>,
                                dropout: inout DropoutStream) -> LayerSaved {
        let b = sequences.count, c = config.hiddenSize, im = config.intermediateSize, t = sequences.totalTokens
        let nh = config.headCount
        var ad = [AdapterSaved](repeating: AdapterSaved(), count: 6)
        let first = arena.allocate(b * c)
        sequences.gatherFirstRows(of: x, cols: c, into: first)
        let q = arena.allocate(b * c), k = arena.allocate(t * c), v = arena.allocate(t * c)
        linearForward(layer.query, out: q, input: first, rows: b, firstRowsOf: sequences, saved: &ad[0], training: training, dropout: &dropout)
        linearForward(layer.key, out: k, input: x, rows: t, saved: &ad[1], training: training, dropout: &dropout)
        linearForward(layer.value, out: v, input: x, rows: t, saved: &ad[2], training: training, dropout: &dropout)
        var attentionMask: UnsafeMutablePointer<UInt8>? = nil
        if let full = dropoutAttentionMask(sequences, heads: nh, probability: config.attentionDropout,
                                  training: training, dropout: &dropout) {
            attentionMask = arena.allocateBytes(nh * t)
            Attention.firstQueryMask(attentionMask!, from: full, sequences: sequences, heads: nh)
        }
        let probs = arena.allocate(nh * t), context = arena.allocate(b * c)
        Attention.forwardFirstQuery(out: context, ldOut: c, probs: probs, q: q, ldq: c, k: k, ldk: c, v: v, ldv: c,
                                    sequences: sequences, heads: nh, headDim: config.headDim,
                                    scale: 1 / Float(config.headDim).squareRoot(),
                                    dropoutMask: attentionMask.map { UnsafePointer($0) }, dropoutProbability: config.attentionDropout,
                                    scratch: scratch)
        let post = PostAttentionOutputs(
            pre1: arena.allocate(b * c), mean1: arena.allocate(b), rstd1: arena.allocate(b), norm1: arena.allocate(b * c),
            interPre: arena.allocate(b * im), pre2: arena.allocate(b * c), mean2: arena.allocate(b), rstd2: arena.allocate(b),
            output: arena.allocate(b * c))
        let masks = postAttentionForward(layer, context: context, residual: first, rows: b, firstRowsOf: sequences, into: post,
                                         geluOut: geluOut, adapters: &ad, training: training, dropout: &dropout)
        return LayerSaved(input: x, q: q, k: k, v: v, adapters: ad, probs: probs, attentionMask: attentionMask,
                          context: context, post: post, masks: masks, firstRows: first)
    }

    /// Per-layer buffers for a forward pass that no backward pass follows: every layer reuses
    /// them, and layer outputs alternate between two.
    struct InferenceBuffers {
        let q, k, v, probs, pre1, mean1, rstd1, interPre, pre2, mean2, rstd2: UnsafeMutablePointer<Float>
        let outputs: (UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>)

        init(_ arena: Arena, tokens t: Int, hidden c: Int, intermediate im: Int, attentionFloats: Int) {
            q = arena.allocate(t * c); k = arena.allocate(t * c); v = arena.allocate(t * c)
            probs = arena.allocate(attentionFloats)
            pre1 = arena.allocate(t * c); mean1 = arena.allocate(t); rstd1 = arena.allocate(t)
            interPre = arena.allocate(t * im)
            pre2 = arena.allocate(t * c); mean2 = arena.allocate(t); rstd2 = arena.allocate(t)
            outputs = (arena.allocate(t * c), arena.allocate(t * c))
        }
    }

    /// The forward pass. `training` turns dropout on; `backward` keeps per layer what the
    /// backward pass reads (without it, every layer reuses one set of buffers).
    ///
    /// `firstTokensOnly` computes the last layer for each sequence's first token alone, the
    /// only row the classification head reads (`firstTokenLayerForward`); the logits are those
    /// of the full pass, and the last layer's saved output holds `B` rows.
    func forward(_ batch: EncoderBatch, training: Bool, backward keep: Bool, firstTokensOnly: Bool = false,
                 dropout: inout DropoutStream) throws -> ForwardState {
        dropout.sequences = batch.sequences
        if config.family.body == .preNormRotary { return try rotaryForward(batch, training: training, backward: keep, dropout: &dropout) }
        try validate(batch)
        arena.reset()
        let t = batch.tokenCount, c = config.hiddenSize, im = config.intermediateSize, b = batch.count
        let nh = config.headCount, hd = config.headDim
        let positions = positionIds(batch)
        // Embeddings: word + position (+ token type) → LayerNorm → dropout (→ projection to C).
        let e = config.embeddingSize
        let sum = arena.allocate(t * e)
        let word = wordEmbeddings.pointer, pos = positionEmbeddings!.pointer
        if let typ = typeEmbeddings?.pointer {
            for i in 0..<t {
                let w = word + Int(batch.tokenIds[i]) * e, p = pos + Int(positions[i]) * e, ty = typ + Int(batch.typeIds[i]) * e
                let o = sum + i * e
                for j in 0..<e { o[j] = w[j] + p[j] + ty[j] }
            }
        } else {
            for i in 0..<t {
                let w = word + Int(batch.tokenIds[i]) * e, p = pos + Int(positions[i]) * e
                let o = sum + i * e
                for j in 0..<e { o[j] = w[j] + p[j] }
            }
        }
        let embMean = arena.allocate(t), embRstd = arena.allocate(t), embOut = arena.allocate(t * e)
        LayerNorm.forward(out: embOut, mean: embMean, rstd: embRstd, input: sum, weight: embeddingNormWeight.pointer,
                          bias: embeddingNorm.bias?.pointer, rows: t, cols: e, eps: config.layerNormEps)
        let embMask = dropoutInPlace(embOut, rows: t, cols: e, probability: config.embeddingDropout, training: training, dropout: &dropout)
        var x = embOut
        if let projection = embeddingProjection {
            var none = AdapterSaved()
            x = arena.allocate(t * c)
            linearForward(projection, out: x, input: embOut, rows: t, saved: &none, training: training, dropout: &dropout)
        }
        var saved: [LayerSaved] = []
        saved.reserveCapacity(layers.count)
        let attnFloats = batch.sequences.attentionFloats(heads: nh)
        let attnScratch = arena.allocate(Attention.scratchFloats(batch.sequences))
        // What the backward pass never reads lives in buffers shared by every layer.
        let reuse: InferenceBuffers? = keep ? nil
            : InferenceBuffers(arena, tokens: t, hidden: c, intermediate: im, attentionFloats: attnFloats)
        let sharedContext = arena.allocate(t * c), sharedNorm1 = arena.allocate(t * c), geluOut = arena.allocate(t * im)
        for (l, layer) in layers.enumerated() {
            if firstTokensOnly && l == layers.count - 1 {
                let layerSaved = firstTokenLayerForward(layer, input: x, sequences: batch.sequences, training: training,
                                                        geluOut: geluOut, scratch: attnScratch, dropout: &dropout)
                saved.append(layerSaved)
                x = layerSaved.output
                continue
            }
            let q = reuse?.q ?? arena.allocate(t * c), k = reuse?.k ?? arena.allocate(t * c), v = reuse?.v ?? arena.allocate(t * c)
            var ad = [AdapterSaved](repeating: AdapterSaved(), count: 6)
            linearForward(layer.query, out: q, input: x, rows: t, saved: &ad[0], training: training, dropout: &dropout)
            linearForward(layer.key, out: k, input: x, rows: t, saved: &ad[1], training: training, dropout: &dropout)
            linearForward(layer.value, out: v, input: x, rows: t, saved: &ad[2], training: training, dropout: &dropout)
            let probs = reuse?.probs ?? arena.allocate(attnFloats)
            let attnMask = dropoutAttentionMask(batch.sequences, heads: nh, probability: config.attentionDropout, training: training, dropout: &dropout)
            let context = keep && layer.attentionOutput.needsInputInBackward ? arena.allocate(t * c) : sharedContext
            Attention.forward(out: context, ldOut: c, probs: probs, q: q, ldq: c, k: k, ldk: c, v: v, ldv: c,
                              sequences: batch.sequences, heads: nh, headDim: hd, scale: 1 / Float(hd).squareRoot(),
                              dropoutMask: attnMask.map { UnsafePointer($0) }, dropoutProbability: config.attentionDropout,
                              scratch: attnScratch)
            let post = PostAttentionOutputs(
                pre1: reuse?.pre1 ?? arena.allocate(t * c), mean1: reuse?.mean1 ?? arena.allocate(t), rstd1: reuse?.rstd1 ?? arena.allocate(t),
                norm1: keep && layer.intermediate.needsInputInBackward ? arena.allocate(t * c) : sharedNorm1,
                interPre: reuse?.interPre ?? arena.allocate(t * im), pre2: reuse?.pre2 ?? arena.allocate(t * c),
                mean2: reuse?.mean2 ?? arena.allocate(t), rstd2: reuse?.rstd2 ?? arena.allocate(t),
                output: reuse.map { l % 2 == 0 ? $0.outputs.0 : $0.outputs.1 } ?? arena.allocate(t * c))
            let masks = postAttentionForward(layer, context: context, residual: x, rows: t, into: post, geluOut: geluOut,
                                             adapters: &ad, training: training, dropout: &dropout)
            saved.append(LayerSaved(input: x, q: q, k: k, v: v, adapters: ad, probs: probs, attentionMask: attnMask,
                                    context: context, post: post, masks: masks))
            x = post.output
        }

        // Head on the first token of each sequence.
        let cls = arena.allocate(b * c)
        if firstTokensOnly {
            cls.update(from: x, count: b * c)
        } else {
            batch.sequences.gatherFirstRows(of: x, cols: c, into: cls)
        }
        var noAdapter = AdapterSaved()
        var denseInMask: UnsafeMutablePointer<UInt8>? = nil
        if config.family.head.dropoutBeforeDense {
            denseInMask = dropoutInPlace(cls, rows: b, cols: c, probability: config.headDropout, training: training, dropout: &dropout)
        }
        let denseOut = arena.allocate(b * c), denseAct = arena.allocate(b * c)
        linearForward(headDense, out: denseOut, input: cls, rows: b, saved: &noAdapter, training: training, dropout: &dropout)
        switch config.family.head.activation {
        case .tanh: Tanh.forward(out: denseAct, input: denseOut, count: b * c)
        case .gelu: GELU.forward(out: denseAct, input: denseOut, count: b * c)
        case .relu: ReLU.forward(out: denseAct, input: denseOut, count: b * c)
        }
        let outIn = arena.allocate(b * c)
        outIn.update(from: denseAct, count: b * c)
        let outMask = dropoutInPlace(outIn, rows: b, cols: c, probability: config.headDropout, training: training, dropout: &dropout)
        let logits = arena.allocate(b * config.labelCount)
        linearForward(headOut, out: logits, input: outIn, rows: b, saved: &noAdapter, training: training, dropout: &dropout)

        return ForwardState(tokenCount: t, sequences: batch.sequences, tokenIds: batch.tokenIds, typeIds: batch.typeIds,
                            positionIds: positions, embeddingSum: sum, embeddingMean: embMean, embeddingRstd: embRstd,
                            embeddingMask: embMask, embeddingOutput: embOut, layers: saved, denseIn: cls, denseInMask: denseInMask,
                            denseOut: denseOut, denseAct: denseAct,
                            outIn: outIn, outMask: outMask, logits: logits, attentionScratch: attnScratch)
    }
}
