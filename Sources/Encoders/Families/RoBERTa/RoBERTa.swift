// The RoBERTa family (`model_type` roberta): BERT's body, positions after the padding id, and its dense + out_proj head.
extension EncoderFamily {
    /// `RobertaForSequenceClassification`: dropout, `classifier.dense`, tanh, dropout,
    /// `classifier.out_proj`, all trained with LoRA (no pooler).
    public static let roberta = robertaArchitecture(name: "roberta", architecture: "RobertaForSequenceClassification")

    /// A family with RoBERTa's body, positions, head and tensor names (`roberta.…`): RoBERTa
    /// itself, and XLM-RoBERTa and CamemBERT under their own model types and classes.
    static func robertaArchitecture(name: String, architecture: String) -> EncoderFamily {
        EncoderFamily(
            name: name, modelTypes: [name], checkpointPrefix: "roberta.", architecture: architecture, defaultPadTokenId: 1,
            configKeys: ConfigKeys(), positions: .afterPadding, embeddings: bertEmbeddingNames, layerPrefix: "encoder.layer.",
            layer: bertLayerNames,
            head: HeadLayout(dense: "classifier.dense", out: "classifier.out_proj", dropoutBeforeDense: true, activation: .tanh,
                             denseIsPretrained: false),
            defaultTargets: [.query, .value])
    }
}
