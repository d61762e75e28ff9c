// The CamemBERT family (`model_type` camembert): RoBERTa's architecture and names under its own model type and class.
extension EncoderFamily {
    /// `CamembertForSequenceClassification`: RoBERTa's body, positions and head with the same
    /// tensor names (`roberta.encoder.layer.N…`); its SentencePiece Unigram tokenizer comes
    /// from `tokenizer.json`. PEFT has no default targets for CamemBERT; ours are RoBERTa's,
    /// `query` and `value`.
    public static let camembert = robertaArchitecture(name: "camembert", architecture: "CamembertForSequenceClassification")
}
