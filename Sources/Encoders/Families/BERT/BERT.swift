// The BERT family (`model_type` bert): names, positions from zero, and the pooler + classifier head.
extension EncoderFamily {
    /// BERT's module names, shared by families built on its body.
    public static let bertLayerNames = LayerNames(
        linears: [.query: "attention.self.query", .key: "attention.self.key", .value: "attention.self.value",
                  .attentionOutput: "attention.output.dense", .intermediate: "intermediate.dense", .output: "output.dense"],
        attentionNorm: "attention.output.LayerNorm", outputNorm: "output.LayerNorm")

    /// BERT's embedding names, shared by families built on its body.
    public static let bertEmbeddingNames = EmbeddingNames(
        word: "embeddings.word_embeddings", position: "embeddings.position_embeddings",
        tokenType: "embeddings.token_type_embeddings", norm: "embeddings.LayerNorm")

    /// `BertForSequenceClassification`: the pooler (`tanh(dense(first token))`, pretrained)
    /// then dropout and `classifier`.
    public static let bert = EncoderFamily(
        name: "bert", modelTypes: ["bert"], checkpointPrefix: "bert.", architecture: "BertForSequenceClassification",
        defaultPadTokenId: 0, configKeys: ConfigKeys(), positions: .fromZero, embeddings: bertEmbeddingNames, layerPrefix: "encoder.layer.",
        layer: bertLayerNames,
        head: HeadLayout(dense: "bert.pooler.dense", out: "classifier", dropoutBeforeDense: false, activation: .tanh,
                         denseIsPretrained: true),
        defaultTargets: [.query, .value])
}
