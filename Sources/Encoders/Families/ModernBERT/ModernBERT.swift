// The ModernBERT family (`model_type` modernbert): its names, config keys, pre-norm rotary body, final norm and head.
extension EncoderFamily {
    /// `ModernBertForSequenceClassification`: token embeddings → LayerNorm → dropout (no
    /// positions, no token types); pre-norm layers `model.layers.N.{attn_norm, attn.Wqkv,
    /// attn.Wo, mlp_norm, mlp.Wi, mlp.Wo}` (layer 0 without `attn_norm`) with rotary positions,
    /// global attention every `global_attn_every_n_layers` layers and a sliding window of
    /// `local_attention` tokens in the others, GeGLU; `model.final_norm`; then the head on the
    /// first token or the mean over tokens (`classifier_pooling`): `head.dense` → GELU →
    /// `head.norm` → dropout → `classifier`. Biases and LayerNorm biases as the config says
    /// (`attention_bias`, `mlp_bias`, `norm_bias`, `classifier_bias`; see ``ModernBERTSettings``).
    ///
    /// PEFT has no default targets for ModernBERT; ours are the attention's fused `Wqkv`. The
    /// pretrained `head` (dense and norm, trained with the masked-LM objective) stays frozen
    /// under LoRA, and `classifier` is trained and saved, as PEFT's default `modules_to_save`
    /// for sequence classification does.
    public static let modernbert: EncoderFamily = {
        var keys = ConfigKeys()
        keys.activation = "hidden_activation"
        keys.hiddenDropout = "mlp_dropout"
        keys.attentionDropout = "attention_dropout"
        keys.classifierDropout = "classifier_dropout"
        keys.embeddingDropout = "embedding_dropout"
        keys.defaultDropout = 0
        keys.defaultClassifierDropout = 0
        keys.typeVocabularySize = nil
        keys.layerNormEps = "norm_eps"
        keys.fixedLayerNormEps = 1e-5
        var layer = LayerNames(
            linears: [.qkv: "attn.Wqkv", .attentionOutput: "attn.Wo", .intermediate: "mlp.Wi", .output: "mlp.Wo"],
            attentionNorm: "attn_norm", outputNorm: "mlp_norm", dropoutAfterAttention: true)
        layer.firstLayerHasAttentionNorm = false
        var head = HeadLayout(dense: "head.dense", out: "classifier", dropoutBeforeDense: false, activation: .gelu,
                              denseIsPretrained: true)
        head.norm = "head.norm"
        return EncoderFamily(
            name: "modernbert", modelTypes: ["modernbert"], checkpointPrefix: "model.",
            architecture: "ModernBertForSequenceClassification", defaultPadTokenId: 50283, configKeys: keys, positions: .rotary,
            embeddings: EmbeddingNames(word: "embeddings.tok_embeddings", position: nil, tokenType: nil, norm: "embeddings.norm"),
            layerPrefix: "layers.", layer: layer, head: head, defaultTargets: [.qkv], body: .preNormRotary, finalNorm: "final_norm")
    }()
}
