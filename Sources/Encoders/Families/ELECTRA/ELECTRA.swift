// The ELECTRA family (`model_type` electra): BERT's body, embeddings `embedding_size` wide projected to the hidden size, and a dense + GELU + out_proj head.
extension EncoderFamily {
    /// `ElectraForSequenceClassification`: embeddings of width `embedding_size` followed by
    /// `embeddings_project` when that differs from `hidden_size`; BERT's layers; the head
    /// dropout, `classifier.dense`, GELU, dropout, `classifier.out_proj` (no pooler).
    public static let electra: EncoderFamily = {
        var keys = ConfigKeys()
        keys.embeddingSize = "embedding_size"
        return EncoderFamily(
            name: "electra", modelTypes: ["electra"], checkpointPrefix: "electra.", architecture: "ElectraForSequenceClassification",
            defaultPadTokenId: 0, configKeys: keys, positions: .fromZero,
            embeddings: EmbeddingNames(word: "embeddings.word_embeddings", position: "embeddings.position_embeddings",
                                       tokenType: "embeddings.token_type_embeddings", norm: "embeddings.LayerNorm",
                                       projection: "embeddings_project"),
            layerPrefix: "encoder.layer.", layer: bertLayerNames,
            head: HeadLayout(dense: "classifier.dense", out: "classifier.out_proj", dropoutBeforeDense: true, activation: .gelu,
                             denseIsPretrained: false),
            defaultTargets: [.query, .value])
    }()
}
