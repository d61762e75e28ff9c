// The DistilBERT family (`model_type` distilbert): its own config keys and module names, no token types, no dropout after attention, and a pre_classifier + ReLU head.
extension EncoderFamily {
    /// `DistilBertForSequenceClassification`: word + position embeddings (no token types:
    /// the type ids of a pair are ignored), post-LayerNorm layers named `attention.q_lin`…,
    /// `ffn.lin1/lin2`, `sa_layer_norm`, `output_layer_norm`, without hidden dropout on the
    /// attention output; the head `pre_classifier`, ReLU, dropout (`seq_classif_dropout`),
    /// `classifier`.
    ///
    /// PEFT has no default targets for DistilBERT; ours are the attention's `q_lin` and
    /// `v_lin`. `pre_classifier` is trained and saved with the classifier under LoRA (PEFT's
    /// default `modules_to_save` would leave a freshly initialised one frozen and unsaved, so
    /// the adapter would not reproduce its logits elsewhere).
    public static let distilbert: EncoderFamily = {
        var keys = ConfigKeys()
        keys.hiddenSize = "dim"
        keys.layerCount = "n_layers"
        keys.headCount = "n_heads"
        keys.intermediateSize = "hidden_dim"
        keys.activation = "activation"
        keys.hiddenDropout = "dropout"
        keys.attentionDropout = "attention_dropout"
        keys.classifierDropout = "seq_classif_dropout"
        keys.typeVocabularySize = nil
        keys.layerNormEps = nil
        keys.fixedLayerNormEps = 1e-12
        keys.refused = [RefusedSetting(key: "sinusoidal_pos_embds", value: "true",
                                       why: "fixed sinusoidal position embeddings (never trained) are not supported")]
        return EncoderFamily(
            name: "distilbert", modelTypes: ["distilbert"], checkpointPrefix: "distilbert.",
            architecture: "DistilBertForSequenceClassification", defaultPadTokenId: 0, configKeys: keys, positions: .fromZero,
            embeddings: EmbeddingNames(word: "embeddings.word_embeddings", position: "embeddings.position_embeddings",
                                       tokenType: nil, norm: "embeddings.LayerNorm"),
            layerPrefix: "transformer.layer.",
            layer: LayerNames(
                linears: [.query: "attention.q_lin", .key: "attention.k_lin", .value: "attention.v_lin",
                          .attentionOutput: "attention.out_lin", .intermediate: "ffn.lin1", .output: "ffn.lin2"],
                attentionNorm: "sa_layer_norm", outputNorm: "output_layer_norm", dropoutAfterAttention: false),
            head: HeadLayout(dense: "pre_classifier", out: "classifier", dropoutBeforeDense: false, activation: .relu,
                             denseIsPretrained: false),
            defaultTargets: [.query, .value])
    }()
}
