// The XLM-RoBERTa family (`model_type` xlm-roberta): RoBERTa's architecture and names under its own model type and class.
extension EncoderFamily {
    /// `XLMRobertaForSequenceClassification`: RoBERTa's body, positions and head with the same
    /// tensor names (`roberta.encoder.layer.N…`, `classifier.dense`, `classifier.out_proj`);
    /// its SentencePiece Unigram tokenizer comes from `tokenizer.json`. PEFT's default targets:
    /// `query`, `value`.
    public static let xlmRoberta = robertaArchitecture(name: "xlm-roberta", architecture: "XLMRobertaForSequenceClassification")
}
