// ModernBERT's pre-norm layer composed from the Tensors kernels: the forward pass and what it saves.
import Foundation
import Tensors

/// What one ModernBERT layer saves for its backward pass (pointers into the step's arena).
struct RotaryLayerSaved {
    /// `(T, C)` residual stream into the layer.
    var input: UnsafeMutablePointer<Float>
    /// `(T, C)` `attn_norm` output (`input` itself in layer 0), with its statistics.
    var normed: UnsafeMutablePointer<Float>
    var mean1, rstd1: UnsafeMutablePointer<Float>?
    /// `(T, 3C)` `Wqkv` output with queries and keys rotated.
    var qkv: UnsafeMutablePointer<Float>
    /// Per `LoRATarget.slot`.
    var adapters: [AdapterSaved]
    var probs: UnsafeMutablePointer<Float>
    var attentionMask: UnsafeMutablePointer<UInt8>?
    /// `(T, C)` attention output, the input of `attn.Wo`.
    var context: UnsafeMutablePointer<Float>
    /// Dropout mask on `attn.Wo`'s output (`attention_dropout`).
    var outMask: UnsafeMutablePointer<UInt8>?
    /// `(T, C)` residual stream after the attention block; `mlp_norm` output and statistics.
    var middle, normed2, mean2, rstd2: UnsafeMutablePointer<Float>
    /// `(T, 2I)` `Wi` output (input and gate); `(T, I)` GeGLU output after dropout.
    var gated, activation: UnsafeMutablePointer<Float>
    var mlpMask: UnsafeMutablePointer<UInt8>?
    /// `(T, C)` layer output.
    var output: UnsafeMutablePointer<Float>
}

/// What a ModernBERT forward pass saves beyond the post-norm `ForwardState` fields.
struct RotaryForwardState {
    var layers: [RotaryLayerSaved]
    /// `final_norm`: its input (the last layer's output), statistics and `(T, C)` output.
    var finalInput, finalMean, finalRstd, finalOutput: UnsafeMutablePointer<Float>
    /// `head.norm` statistics (its input is `ForwardState.denseAct`, its output `outIn` before dropout).
    var headMean, headRstd: UnsafeMutablePointer<Float>
    var pooling: Pooling
}

extension EncoderModel {
    /// RoPE tables of the global and local layers covering `length` positions.
    func rotaryTables(covering length: Int) -> (global: RotaryTable, local: RotaryTable) {
        if let tables = rotaryTables, tables.global.positions >= length { return tables }
        let settings = config.modernBERT!
        let rows = max(length, 128)
        let tables = (RotaryTable(theta: settings.globalTheta, headDim: config.headDim, positions: rows),
                      RotaryTable(theta: settings.localTheta, headDim: config.headDim, positions: rows))
        rotaryTables = tables
        return tables
    }

    /// ModernBERT's forward pass over a packed batch: token embeddings → LayerNorm → dropout;
    /// per layer `x += drop(Wo(attn(rope(Wqkv(norm₁(x))))))`, `x += Wo(drop(geglu(Wi(norm₂(x)))))`
    /// (no `norm₁` in layer 0, a sliding window in local layers); `final_norm`; pooling (first
    /// token or mean); `head.dense` → GELU → `head.norm` → dropout → `classifier`.
    /// `backward` keeps every layer's activations; without it the layers share one set.
    func rotaryForward(_ batch: EncoderBatch, training: Bool, backward keep: Bool, dropout: inout DropoutStream) throws -> ForwardState {
        try validate(batch)
        arena.reset()
        let settings = config.modernBERT!
        let t = batch.tokenCount, c = config.hiddenSize, im = config.intermediateSize, b = batch.count
        let nh = config.headCount, hd = config.headDim, sequences = batch.sequences
        let tables = rotaryTables(covering: sequences.maxLength)
        let eps = config.layerNormEps

        // Embeddings.
        let sum = arena.allocate(t * c)
        batch.tokenIds.withUnsafeBufferPointer { ids in
            Embedding.forward(out: sum, table: wordEmbeddings.pointer, ids: ids.baseAddress!, count: t,
                              vocabularySize: config.vocabularySize, dim: c)
        }
        let embMean = arena.allocate(t), embRstd = arena.allocate(t), embOut = arena.allocate(t * c)
        LayerNorm.forward(out: embOut, mean: embMean, rstd: embRstd, input: sum, weight: embeddingNorm.weight.pointer,
                          bias: embeddingNorm.bias?.pointer, rows: t, cols: c, eps: eps)
        let embMask = dropoutInPlace(embOut, rows: t, cols: c, probability: config.embeddingDropout, training: training, dropout: &dropout)

        // Layers. Without `keep`, every layer writes the same buffers (outputs alternate between two).
        let attnFloats = sequences.attentionFloats(heads: nh)
        let attnScratch = arena.allocate(Attention.scratchFloats(sequences))
        func shared(_ n: Int) -> UnsafeMutablePointer<Float>? { keep ? nil : arena.allocate(n) }
        let sNormed = shared(t * c), sMean1 = shared(t), sRstd1 = shared(t), sQKV = shared(3 * t * c), sProbs = shared(attnFloats)
        let sContext = shared(t * c), sMiddle = shared(t * c), sNormed2 = shared(t * c), sMean2 = shared(t), sRstd2 = shared(t)
        let sGated = shared(2 * t * im), sActivation = shared(t * im), sOutputs = keep ? nil : (arena.allocate(t * c), arena.allocate(t * c))
        var saved: [RotaryLayerSaved] = []
        saved.reserveCapacity(layers.count)
        var x = embOut
        for (l, layer) in layers.enumerated() {
            var ad = [AdapterSaved](repeating: AdapterSaved(), count: LoRATarget.allCases.count)
            var normed = x
            var mean1: UnsafeMutablePointer<Float>? = nil, rstd1: UnsafeMutablePointer<Float>? = nil
            if let norm = layer.attentionNorm {
                normed = sNormed ?? arena.allocate(t * c)
                mean1 = sMean1 ?? arena.allocate(t)
                rstd1 = sRstd1 ?? arena.allocate(t)
                LayerNorm.forward(out: normed, mean: mean1!, rstd: rstd1!, input: x, weight: norm.weight.pointer,
                                  bias: norm.bias?.pointer, rows: t, cols: c, eps: eps)
            }
            let qkv = sQKV ?? arena.allocate(3 * t * c)
            linearForward(layer.qkv, out: qkv, input: normed, rows: t, saved: &ad[LoRATarget.qkv.slot], training: training, dropout: &dropout)
            let global = settings.globalLayers[l]
            let table = global ? tables.global : tables.local
            Rotary.apply(qkv, ld: 3 * c, sequences: sequences, heads: nh, headDim: hd, table: table)
            Rotary.apply(qkv + c, ld: 3 * c, sequences: sequences, heads: nh, headDim: hd, table: table)
            let probs = sProbs ?? arena.allocate(attnFloats)
            let attnMask = dropoutAttentionMask(batch.sequences, heads: nh, probability: config.attentionDropout, training: training, dropout: &dropout)
            let context = sContext ?? arena.allocate(t * c)
            Attention.forward(out: context, ldOut: c, probs: probs, q: qkv, ldq: 3 * c, k: qkv + c, ldk: 3 * c, v: qkv + 2 * c, ldv: 3 * c,
                              sequences: sequences, heads: nh, headDim: hd, scale: 1 / Float(hd).squareRoot(),
                              dropoutMask: attnMask.map { UnsafePointer($0) }, dropoutProbability: config.attentionDropout,
                              window: global ? nil : settings.halfWindow, scratch: attnScratch)
            let middle = sMiddle ?? arena.allocate(t * c)
            linearForward(layer.attentionOutput, out: middle, input: context, rows: t, saved: &ad[LoRATarget.attentionOutput.slot],
                          training: training, dropout: &dropout)
            let outMask = dropoutInPlace(middle, rows: t, cols: c, probability: config.attentionDropout, training: training, dropout: &dropout)
            Rows.addScaled(middle, 1, x, t * c)
            let normed2 = sNormed2 ?? arena.allocate(t * c), mean2 = sMean2 ?? arena.allocate(t), rstd2 = sRstd2 ?? arena.allocate(t)
            LayerNorm.forward(out: normed2, mean: mean2, rstd: rstd2, input: middle, weight: layer.outputNorm.weight.pointer,
                              bias: layer.outputNorm.bias?.pointer, rows: t, cols: c, eps: eps)
            let gated = sGated ?? arena.allocate(2 * t * im)
            linearForward(layer.intermediate, out: gated, input: normed2, rows: t, saved: &ad[LoRATarget.intermediate.slot],
                          training: training, dropout: &dropout)
            let activation = sActivation ?? arena.allocate(t * im)
            GeGLU.forward(out: activation, input: gated, rows: t, width: im)
            let mlpMask = dropoutInPlace(activation, rows: t, cols: im, probability: config.hiddenDropout, training: training, dropout: &dropout)
            let output = sOutputs.map { l % 2 == 0 ? $0.0 : $0.1 } ?? arena.allocate(t * c)
            linearForward(layer.output, out: output, input: activation, rows: t, saved: &ad[LoRATarget.output.slot],
                          training: training, dropout: &dropout)
            Rows.addScaled(output, 1, middle, t * c)
            if keep {
                saved.append(RotaryLayerSaved(input: x, normed: normed, mean1: mean1, rstd1: rstd1, qkv: qkv, adapters: ad, probs: probs,
                                              attentionMask: attnMask, context: context, outMask: outMask, middle: middle,
                                              normed2: normed2, mean2: mean2, rstd2: rstd2, gated: gated, activation: activation,
                                              mlpMask: mlpMask, output: output))
            }
            x = output
        }

        // Final LayerNorm, pooling, head.
        let final = finalNorm!, headNorm = headNorm!
        let finalOut = arena.allocate(t * c), finalMean = arena.allocate(t), finalRstd = arena.allocate(t)
        LayerNorm.forward(out: finalOut, mean: finalMean, rstd: finalRstd, input: x, weight: final.weight.pointer,
                          bias: final.bias?.pointer, rows: t, cols: c, eps: eps)
        let pooled = arena.allocate(b * c)
        switch settings.pooling {
        case .cls:
            sequences.gatherFirstRows(of: finalOut, cols: c, into: pooled)
        case .mean:
            for s in 0..<b {
                let row = pooled + s * c, n = sequences.length(s)
                row.update(repeating: 0, count: c)
                for i in 0..<n { Rows.addScaled(row, 1, finalOut + (sequences.offsets[s] + i) * c, c) }
                let inverse = 1 / Float(n)
                for j in 0..<c { row[j] *= inverse }
            }
        }
        var noAdapter = AdapterSaved()
        let denseOut = arena.allocate(b * c), denseAct = arena.allocate(b * c)
        linearForward(headDense, out: denseOut, input: pooled, rows: b, saved: &noAdapter, training: training, dropout: &dropout)
        GELU.forward(out: denseAct, input: denseOut, count: b * c)
        let outIn = arena.allocate(b * c), headMean = arena.allocate(b), headRstd = arena.allocate(b)
        LayerNorm.forward(out: outIn, mean: headMean, rstd: headRstd, input: denseAct, weight: headNorm.weight.pointer,
                          bias: headNorm.bias?.pointer, rows: b, cols: c, eps: eps)
        let outMask = dropoutInPlace(outIn, rows: b, cols: c, probability: config.headDropout, training: training, dropout: &dropout)
        let logits = arena.allocate(b * config.labelCount)
        linearForward(headOut, out: logits, input: outIn, rows: b, saved: &noAdapter, training: training, dropout: &dropout)

        var state = ForwardState(tokenCount: t, sequences: sequences, tokenIds: batch.tokenIds, typeIds: batch.typeIds, positionIds: [],
                                 embeddingSum: sum, embeddingMean: embMean, embeddingRstd: embRstd, embeddingMask: embMask,
                                 embeddingOutput: embOut, layers: [], denseIn: pooled, denseInMask: nil, denseOut: denseOut,
                                 denseAct: denseAct, outIn: outIn, outMask: outMask, logits: logits, attentionScratch: attnScratch)
        state.rotary = RotaryForwardState(layers: saved, finalInput: x, finalMean: finalMean, finalRstd: finalRstd, finalOutput: finalOut,
                                          headMean: headMean, headRstd: headRstd, pooling: settings.pooling)
        return state
    }
}
