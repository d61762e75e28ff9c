import Foundation
import Tensors

extension EncoderModel {
    /// Scratch buffers of the backward pass, allocated once per step and reused by every layer.
    struct BackwardScratch {
        var adapterHidden: UnsafeMutablePointer<Float>   // (T, r)
        var adapterInput: UnsafeMutablePointer<Float>    // (T, max(C, I)) when adapters use dropout
    }

    /// Backward of `linearForward`: accumulates into `dInput` (overwrites it when
    /// `accumulateInput` is false), the weight, bias and adapter gradients.
    func linearBackward(_ lin: LinearLayer, dInput: UnsafeMutablePointer<Float>?, accumulateInput: Bool = true,
                        dOut: UnsafePointer<Float>, input: UnsafePointer<Float>, rows: Int, saved: AdapterSaved,
                        scratch: BackwardScratch?) {
        Linear.backward(dInput: dInput, dWeight: lin.weight.gradientPointer, dBias: lin.bias?.gradientPointer,
                        dOut: dOut, input: input, weight: lin.weight.pointer,
                        rows: rows, inFeatures: lin.inFeatures, outFeatures: lin.outFeatures, accumulateInput: accumulateInput)
        guard let ad = lin.adapter, !ad.isMerged, let h = saved.hidden, let scratch else { return }
        let inF = lin.inFeatures, outF = lin.outFeatures, r = ad.rank, s = ad.scale
        // dB += s · dYᵀ · H
        if let gB = ad.b.gradientPointer {
            Gemm.multiply(m: outF, n: r, k: rows, a: dOut, lda: outF, transposeA: true, b: h, ldb: r, c: gB, ldc: r, alpha: s, beta: 1)
        }
        // dH = s · dY · B
        let dH = scratch.adapterHidden
        Gemm.multiply(m: rows, n: r, k: outF, a: dOut, lda: outF, b: ad.b.pointer, ldb: r, c: dH, ldc: r, alpha: s)
        // dA += dHᵀ · dropout(X)
        if let gA = ad.a.gradientPointer {
            let x = saved.droppedInput.map { UnsafePointer($0) } ?? input
            Gemm.multiply(m: r, n: inF, k: rows, a: dH, lda: r, transposeA: true, b: x, ldb: inF, c: gA, ldc: inF, beta: 1)
        }
        // dX += (dH · A) ∘ mask
        guard let dInput else { return }
        if let mask = saved.mask {
            let tmp = scratch.adapterInput
            Gemm.multiply(m: rows, n: inF, k: r, a: dH, lda: r, b: ad.a.pointer, ldb: inF, c: tmp, ldc: inF)
            Dropout.backward(dInput: dInput, dOut: tmp, mask: mask, count: rows * inF, probability: ad.dropout)
        } else {
            Gemm.multiply(m: rows, n: inF, k: r, a: dH, lda: r, b: ad.a.pointer, ldb: inF, c: dInput, ldc: inF, beta: 1)
        }
    }

    func backward(_ st: ForwardState, dLogits: UnsafeMutablePointer<Float>) {
        if let rotary = st.rotary { return rotaryBackward(st, rotary, dLogits: dLogits) }
        let t = st.tokenCount, c = config.hiddenSize, im = config.intermediateSize, b = st.sequences.count
        let nh = config.headCount, hd = config.headDim
        let rank = loraConfig?.rank ?? 0
        let scratch: BackwardScratch? = rank > 0
            ? BackwardScratch(adapterHidden: arena.allocate(max(t, b) * rank),
                              adapterInput: arena.allocate((loraConfig?.dropout ?? 0) > 0 ? t * max(c, im) : 1)) : nil
        let none = AdapterSaved()

        // Head.
        let dOutIn = arena.allocate(b * c, zeroed: true)
        linearBackward(headOut, dInput: dOutIn, dOut: dLogits, input: st.outIn, rows: b, saved: none, scratch: nil)
        if let m = st.outMask { Dropout.backward(dInput: dOutIn, dOut: dOutIn, mask: m, count: b * c, probability: config.headDropout, accumulate: false) }
        let dDenseOut = arena.allocate(b * c, zeroed: true)
        switch config.family.head.activation {
        case .tanh: Tanh.backward(dInput: dDenseOut, dOut: dOutIn, output: st.denseAct, count: b * c)
        case .gelu: GELU.backward(dInput: dDenseOut, dOut: dOutIn, input: st.denseOut, count: b * c)
        case .relu: ReLU.backward(dInput: dDenseOut, dOut: dOutIn, output: st.denseAct, count: b * c)
        }
        let dCls = arena.allocate(b * c, zeroed: true)
        linearBackward(headDense, dInput: dCls, dOut: dDenseOut, input: st.denseIn, rows: b, saved: none, scratch: nil)
        if let m = st.denseInMask { Dropout.backward(dInput: dCls, dOut: dCls, mask: m, count: b * c, probability: config.headDropout, accumulate: false) }

        let embeddingsTrainable = self.embeddingsTrainable, lowestLayerNeeded = lowestTrainableLayer
        guard embeddingsTrainable || lowestLayerNeeded < layers.count else { return }

        // The head's gradient reaches the first token of each sequence: a first-token last
        // layer takes it as it is, a full one as a (T, C) gradient zero elsewhere.
        var dX = arena.allocate(t * c)
        var dNext = arena.allocate(t * c)
        if st.layers.last?.firstRows == nil {
            dX.update(repeating: 0, count: t * c)
            for s in 0..<b { (dX + st.sequences.offsets[s] * c).update(from: dCls + s * c, count: c) }
        }
        let dInter = arena.allocate(t * im)
        let buffers = LayerGradientBuffers(
            dNorm1: arena.allocate(t * c), dDense: arena.allocate(t * c), dContext: arena.allocate(t * c), dInter: dInter,
            geluOut: layers.contains { $0.output.needsInputInBackward } ? arena.allocate(t * im) : dInter,
            dq: arena.allocate(t * c), dk: arena.allocate(t * c), dv: arena.allocate(t * c))
        let (dq, dk, dv) = (buffers.dq, buffers.dk, buffers.dv)

        for l in stride(from: layers.count - 1, through: 0, by: -1) {
            if l < lowestLayerNeeded && !embeddingsTrainable { break }
            let layer = layers[l], sv = st.layers[l]
            let needInput = l > 0 || embeddingsTrainable
            if let first = sv.firstRows {
                firstTokenLayerBackward(layer, saved: sv, first: first, dOut: dCls, dInput: needInput ? dNext : nil,
                                        sequences: st.sequences, buffers: buffers, scratch: scratch,
                                        attentionScratch: st.attentionScratch)
                swap(&dX, &dNext)
                afterLayerBackward?(l)
                continue
            }
            postAttentionBackward(layer, saved: sv, rows: t, dOut: dX, dResidual: dNext, buffers: buffers, scratch: scratch)
            Attention.backward(dq: dq, lddq: c, dk: dk, lddk: c, dv: dv, lddv: c, dOut: buffers.dContext, ldDOut: c, probs: sv.probs,
                               q: sv.q, ldq: c, k: sv.k, ldk: c, v: sv.v, ldv: c, sequences: st.sequences, heads: nh, headDim: hd,
                               scale: 1 / Float(hd).squareRoot(), scratch: st.attentionScratch,
                               dropoutMask: sv.attentionMask.map { UnsafePointer($0) }, dropoutProbability: config.attentionDropout,
                               accumulate: false)
            let dIn: UnsafeMutablePointer<Float>? = needInput ? dNext : nil
            linearBackward(layer.query, dInput: dIn, dOut: dq, input: sv.input, rows: t, saved: sv.adapters[0], scratch: scratch)
            linearBackward(layer.key, dInput: dIn, dOut: dk, input: sv.input, rows: t, saved: sv.adapters[1], scratch: scratch)
            linearBackward(layer.value, dInput: dIn, dOut: dv, input: sv.input, rows: t, saved: sv.adapters[2], scratch: scratch)
            swap(&dX, &dNext)
            afterLayerBackward?(l)
        }
        guard embeddingsTrainable else { return }
        // Embeddings: (projection →) dropout → LayerNorm → scatter-add into the tables.
        let e = config.embeddingSize
        var dEmb = dX
        if let projection = embeddingProjection {
            dEmb = arena.allocate(t * e)
            linearBackward(projection, dInput: dEmb, accumulateInput: false, dOut: dX, input: st.embeddingOutput, rows: t,
                           saved: none, scratch: nil)
        }
        if let m = st.embeddingMask { Dropout.backward(dInput: dEmb, dOut: dEmb, mask: m, count: t * e, probability: config.embeddingDropout, accumulate: false) }
        let dSum = embeddingProjection == nil ? dNext : arena.allocate(t * e)
        dSum.update(repeating: 0, count: t * e)
        LayerNorm.backward(dInput: dSum, dWeight: embeddingNormWeight.gradientPointer, dBias: embeddingNorm.bias?.gradientPointer,
                           dOut: dEmb, input: st.embeddingSum, mean: st.embeddingMean, rstd: st.embeddingRstd,
                           weight: embeddingNormWeight.pointer, rows: t, cols: e)
        st.tokenIds.withUnsafeBufferPointer { ids in
            if let g = wordEmbeddings.gradientPointer { Embedding.backward(dTable: g, dOut: dSum, ids: ids.baseAddress!, count: t, dim: e) }
        }
        st.positionIds.withUnsafeBufferPointer { ids in
            if let g = positionEmbeddings?.gradientPointer { Embedding.backward(dTable: g, dOut: dSum, ids: ids.baseAddress!, count: t, dim: e) }
        }
        st.typeIds.withUnsafeBufferPointer { ids in
            if let g = typeEmbeddings?.gradientPointer { Embedding.backward(dTable: g, dOut: dSum, ids: ids.baseAddress!, count: t, dim: e) }
        }
    }

    /// Whether any embedding parameter (tables, their LayerNorm, ELECTRA's projection) trains.
    var embeddingsTrainable: Bool { embeddingParameters.contains { $0.isTrainable } }

    /// The embedding parameters: tables, their LayerNorm, ELECTRA's projection (their gradients
    /// are final only at the very end of the backward pass).
    public var embeddingParameters: [Parameter] {
        [wordEmbeddings] + embeddingNorm.parameters
            + [positionEmbeddings, typeEmbeddings, embeddingProjection?.weight, embeddingProjection?.bias].compactMap { $0 }
    }

    /// The first layer with a trainable parameter (`layers.count` when none has one): the
    /// backward pass stops below it unless the embeddings train.
    var lowestTrainableLayer: Int { layers.firstIndex { $0.parameters.contains(where: \.isTrainable) } ?? layers.count }

    /// Gradient buffers of the encoder layers, sized for `T` rows and shared by every layer of
    /// a step (a first-token layer uses the first `B` rows of those that hold its `B` rows).
    struct LayerGradientBuffers {
        let dNorm1, dDense, dContext: UnsafeMutablePointer<Float>   // (T, C)
        let dInter: UnsafeMutablePointer<Float>                      // (T, I)
        /// Where the GELU output is recomputed, `(T, I)` (`dInter` when no layer needs it).
        let geluOut: UnsafeMutablePointer<Float>
        let dq, dk, dv: UnsafeMutablePointer<Float>                  // (T, C)
    }

    /// Backward of `firstTokenLayerForward` given the gradient of its `(B, C)` output:
    /// overwrites `dInput` `(T, C)` when given, and accumulates the parameter gradients.
    func firstTokenLayerBackward(_ layer: EncoderLayer, saved sv: LayerSaved, first: UnsafeMutablePointer<Float>,
                                 dOut: UnsafePointer<Float>, dInput: UnsafeMutablePointer<Float>?, sequences: PackedSequences,
                                 buffers: LayerGradientBuffers, scratch: BackwardScratch?,
                                 attentionScratch: UnsafeMutablePointer<Float>) {
        let b = sequences.count, t = sequences.totalTokens, c = config.hiddenSize
        let nh = config.headCount, hd = config.headDim
        let dFirst = arena.allocate(b * c)
        let (dq, dk, dv) = (buffers.dq, buffers.dk, buffers.dv)
        postAttentionBackward(layer, saved: sv, rows: b, dOut: dOut, dResidual: dFirst, buffers: buffers, scratch: scratch)
        Attention.backwardFirstQuery(dq: dq, lddq: c, dk: dk, lddk: c, dv: dv, lddv: c, dOut: buffers.dContext, ldDOut: c, probs: sv.probs,
                                     q: sv.q, ldq: c, k: sv.k, ldk: c, v: sv.v, ldv: c, sequences: sequences, heads: nh, headDim: hd,
                                     scale: 1 / Float(hd).squareRoot(),
                                     dropoutMask: sv.attentionMask.map { UnsafePointer($0) }, dropoutProbability: config.attentionDropout,
                                     scratch: attentionScratch)
        linearBackward(layer.query, dInput: dInput == nil ? nil : dFirst, dOut: dq, input: first, rows: b,
                       saved: sv.adapters[0], scratch: scratch)
        linearBackward(layer.key, dInput: dInput, accumulateInput: false, dOut: dk, input: sv.input, rows: t,
                       saved: sv.adapters[1], scratch: scratch)
        linearBackward(layer.value, dInput: dInput, dOut: dv, input: sv.input, rows: t, saved: sv.adapters[2], scratch: scratch)
        // The first-token rows also feed the query and the residual path.
        guard let dInput else { return }
        for s in 0..<b { Rows.addScaled(dInput + sequences.offsets[s] * c, 1, dFirst + s * c, c) }
    }

    /// Backward of the part of a layer after its attention (attention output dense, first
    /// LayerNorm, feed-forward, second LayerNorm) over `rows` rows, from the gradient of the
    /// layer output `dOut`: overwrites `dResidual` with the gradient reaching the layer input
    /// along the residual path and `buffers.dContext` with that of the attention output;
    /// accumulates the parameter gradients.
    func postAttentionBackward(_ layer: EncoderLayer, saved sv: LayerSaved, rows: Int, dOut: UnsafePointer<Float>,
                               dResidual: UnsafeMutablePointer<Float>, buffers: LayerGradientBuffers, scratch: BackwardScratch?) {
        let c = config.hiddenSize, im = config.intermediateSize, hiddenP = config.hiddenDropout
        let (dNorm1, dDense, dContext, dInter, geluOut) = (buffers.dNorm1, buffers.dDense, buffers.dContext, buffers.dInter, buffers.geluOut)
        // Output LayerNorm: residual gradient to norm1, and through dropout to the output dense.
        ResidualLayerNorm.backward(dResidual: dNorm1, dDense: dDense, dWeight: layer.outputNormWeight.gradientPointer,
                                   dBias: layer.outputNormBias.gradientPointer, dOut: dOut, input: sv.pre2, mean: sv.mean2,
                                   rstd: sv.rstd2, mask: sv.mask2.map { UnsafePointer($0) }, probability: hiddenP,
                                   weight: layer.outputNormWeight.pointer, rows: rows, cols: c)
        // Output dense (its input, the GELU output, is recomputed only when needed); GELU; intermediate dense.
        if layer.output.needsInputInBackward { GELU.forward(out: geluOut, input: sv.interPre, count: rows * im) }
        linearBackward(layer.output, dInput: dInter, accumulateInput: false, dOut: dDense, input: geluOut, rows: rows,
                       saved: sv.adapters[5], scratch: scratch)
        GELU.backward(dInput: dInter, dOut: dInter, input: sv.interPre, count: rows * im, accumulate: false)
        linearBackward(layer.intermediate, dInput: dNorm1, dOut: dInter, input: sv.norm1, rows: rows, saved: sv.adapters[4], scratch: scratch)
        // Attention LayerNorm: residual gradient to the layer input, and through dropout to the attention output dense.
        ResidualLayerNorm.backward(dResidual: dResidual, dDense: dDense, dWeight: layer.attentionNormWeight.gradientPointer,
                                   dBias: layer.attentionNormBias.gradientPointer, dOut: dNorm1, input: sv.pre1, mean: sv.mean1,
                                   rstd: sv.rstd1, mask: sv.mask1.map { UnsafePointer($0) }, probability: hiddenP,
                                   weight: layer.attentionNormWeight.pointer, rows: rows, cols: c)
        linearBackward(layer.attentionOutput, dInput: dContext, accumulateInput: false, dOut: dDense, input: sv.context, rows: rows,
                       saved: sv.adapters[3], scratch: scratch)
    }
}
