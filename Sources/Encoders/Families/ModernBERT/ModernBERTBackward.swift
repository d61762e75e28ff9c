// The backward pass of ModernBERT's pre-norm layer, head and embeddings, over what rotaryForward saved.
import Foundation
import Tensors

extension EncoderModel {
    /// Backward of `rotaryForward` from the logits' gradient: accumulates every trainable
    /// parameter's gradient, and stops below the lowest layer with a trainable parameter when
    /// the embeddings are frozen.
    func rotaryBackward(_ st: ForwardState, _ rs: RotaryForwardState, dLogits: UnsafeMutablePointer<Float>) {
        let t = st.tokenCount, c = config.hiddenSize, im = config.intermediateSize, b = st.sequences.count
        let nh = config.headCount, hd = config.headDim, sequences = st.sequences
        let rank = loraConfig?.rank ?? 0
        let scratch: BackwardScratch? = rank > 0
            ? BackwardScratch(adapterHidden: arena.allocate(t * rank),
                              adapterInput: arena.allocate((loraConfig?.dropout ?? 0) > 0 ? t * max(c, 2 * im) : 1)) : nil
        let none = AdapterSaved()
        let headNorm = headNorm!, final = finalNorm!

        // Head: classifier ← dropout ← head.norm ← GELU ← head.dense.
        let dOutIn = arena.allocate(b * c, zeroed: true)
        linearBackward(headOut, dInput: dOutIn, dOut: dLogits, input: st.outIn, rows: b, saved: none, scratch: nil)
        if let m = st.outMask { Dropout.backward(dInput: dOutIn, dOut: dOutIn, mask: m, count: b * c, probability: config.headDropout, accumulate: false) }
        let dAct = arena.allocate(b * c, zeroed: true)
        LayerNorm.backward(dInput: dAct, dWeight: headNorm.weight.gradientPointer, dBias: headNorm.bias?.gradientPointer,
                           dOut: dOutIn, input: st.denseAct, mean: rs.headMean, rstd: rs.headRstd, weight: headNorm.weight.pointer,
                           rows: b, cols: c)
        let dDense = arena.allocate(b * c, zeroed: true)
        GELU.backward(dInput: dDense, dOut: dAct, input: st.denseOut, count: b * c)
        let dPooled = arena.allocate(b * c, zeroed: true)
        linearBackward(headDense, dInput: dPooled, dOut: dDense, input: st.denseIn, rows: b, saved: none, scratch: nil)

        let embeddingsTrainable = self.embeddingsTrainable, lowestLayerNeeded = lowestTrainableLayer
        let finalTrainable = final.parameters.contains { $0.isTrainable }
        guard embeddingsTrainable || lowestLayerNeeded < layers.count || finalTrainable else { return }

        // Pooling, then the final LayerNorm.
        let dFinal = arena.allocate(t * c, zeroed: true)
        for s in 0..<b {
            let g = dPooled + s * c, base = sequences.offsets[s], n = sequences.length(s)
            switch rs.pooling {
            case .cls: (dFinal + base * c).update(from: g, count: c)
            case .mean: for i in 0..<n { Rows.addScaled(dFinal + (base + i) * c, 1 / Float(n), g, c) }
            }
        }
        var dX = arena.allocate(t * c, zeroed: true)
        LayerNorm.backward(dInput: dX, dWeight: final.weight.gradientPointer, dBias: final.bias?.gradientPointer, dOut: dFinal,
                           input: rs.finalInput, mean: rs.finalMean, rstd: rs.finalRstd, weight: final.weight.pointer, rows: t, cols: c)
        guard embeddingsTrainable || lowestLayerNeeded < layers.count else { return }

        // Layers, last to first. dX holds the gradient of the layer's output.
        let dMiddle = arena.allocate(t * c), dNormed = arena.allocate(t * c), dContext = arena.allocate(t * c)
        let dActivation = arena.allocate(t * im), dGated = arena.allocate(2 * t * im), dQKV = arena.allocate(3 * t * c)
        var dNext = arena.allocate(t * c)
        let tables = rotaryTables(covering: sequences.maxLength), settings = config.modernBERT!
        for l in stride(from: layers.count - 1, through: 0, by: -1) {
            if l < lowestLayerNeeded && !embeddingsTrainable { break }
            let layer = layers[l], sv = rs.layers[l]
            // x_out = middle + Wo(drop(geglu(Wi(norm₂(middle))))).
            dMiddle.update(from: dX, count: t * c)
            linearBackward(layer.output, dInput: dActivation, accumulateInput: false, dOut: dX, input: sv.activation, rows: t,
                           saved: sv.adapters[LoRATarget.output.slot], scratch: scratch)
            if let m = sv.mlpMask {
                Dropout.backward(dInput: dActivation, dOut: dActivation, mask: m, count: t * im, probability: config.hiddenDropout, accumulate: false)
            }
            GeGLU.backward(dInput: dGated, dOut: dActivation, input: sv.gated, rows: t, width: im)
            linearBackward(layer.intermediate, dInput: dNormed, accumulateInput: false, dOut: dGated, input: sv.normed2, rows: t,
                           saved: sv.adapters[LoRATarget.intermediate.slot], scratch: scratch)
            LayerNorm.backward(dInput: dMiddle, dWeight: layer.outputNorm.weight.gradientPointer, dBias: layer.outputNorm.bias?.gradientPointer,
                               dOut: dNormed, input: sv.middle, mean: sv.mean2, rstd: sv.rstd2, weight: layer.outputNorm.weight.pointer,
                               rows: t, cols: c)
            // middle = x + drop(Wo(attention(rope(Wqkv(norm₁(x)))))).
            // dX (free now) holds the attention output's gradient through its dropout mask.
            if let m = sv.outMask {
                Dropout.backward(dInput: dX, dOut: dMiddle, mask: m, count: t * c, probability: config.attentionDropout, accumulate: false)
            } else {
                dX.update(from: dMiddle, count: t * c)
            }
            linearBackward(layer.attentionOutput, dInput: dContext, accumulateInput: false, dOut: dX, input: sv.context, rows: t,
                           saved: sv.adapters[LoRATarget.attentionOutput.slot], scratch: scratch)
            Attention.backward(dq: dQKV, lddq: 3 * c, dk: dQKV + c, lddk: 3 * c, dv: dQKV + 2 * c, lddv: 3 * c,
                               dOut: dContext, ldDOut: c, probs: sv.probs,
                               q: sv.qkv, ldq: 3 * c, k: sv.qkv + c, ldk: 3 * c, v: sv.qkv + 2 * c, ldv: 3 * c,
                               sequences: sequences, heads: nh, headDim: hd, scale: 1 / Float(hd).squareRoot(),
                               scratch: st.attentionScratch, dropoutMask: sv.attentionMask.map { UnsafePointer($0) },
                               dropoutProbability: config.attentionDropout, accumulate: false)
            let table = settings.globalLayers[l] ? tables.global : tables.local
            Rotary.apply(dQKV, ld: 3 * c, sequences: sequences, heads: nh, headDim: hd, table: table, inverse: true)
            Rotary.apply(dQKV + c, ld: 3 * c, sequences: sequences, heads: nh, headDim: hd, table: table, inverse: true)
            let needInput = l > 0 || embeddingsTrainable
            // dNext = dMiddle (residual) + the attention branch's gradient through norm₁.
            if let norm = layer.attentionNorm {
                linearBackward(layer.qkv, dInput: needInput ? dNormed : nil, accumulateInput: false, dOut: dQKV, input: sv.normed, rows: t,
                               saved: sv.adapters[LoRATarget.qkv.slot], scratch: scratch)
                guard needInput else { continue }
                dNext.update(from: dMiddle, count: t * c)
                LayerNorm.backward(dInput: dNext, dWeight: norm.weight.gradientPointer, dBias: norm.bias?.gradientPointer, dOut: dNormed,
                                   input: sv.input, mean: sv.mean1!, rstd: sv.rstd1!, weight: norm.weight.pointer, rows: t, cols: c)
            } else {
                dNext.update(from: dMiddle, count: t * c)
                linearBackward(layer.qkv, dInput: needInput ? dNext : nil, dOut: dQKV, input: sv.normed, rows: t,
                               saved: sv.adapters[LoRATarget.qkv.slot], scratch: scratch)
            }
            swap(&dX, &dNext)
            afterLayerBackward?(l)
        }
        guard embeddingsTrainable else { return }
        // Embeddings: dropout → LayerNorm → scatter-add into the table.
        if let m = st.embeddingMask { Dropout.backward(dInput: dX, dOut: dX, mask: m, count: t * c, probability: config.embeddingDropout, accumulate: false) }
        let dSum = arena.allocate(t * c, zeroed: true)
        LayerNorm.backward(dInput: dSum, dWeight: embeddingNorm.weight.gradientPointer, dBias: embeddingNorm.bias?.gradientPointer,
                           dOut: dX, input: st.embeddingSum, mean: st.embeddingMean, rstd: st.embeddingRstd,
                           weight: embeddingNorm.weight.pointer, rows: t, cols: c)
        st.tokenIds.withUnsafeBufferPointer { ids in
            if let g = wordEmbeddings.gradientPointer { Embedding.backward(dTable: g, dOut: dSum, ids: ids.baseAddress!, count: t, dim: c) }
        }
    }
}
