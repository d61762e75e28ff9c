import Foundation
import Encoders
import InputValidation
import GLUE
import Tokenizers

/// A GLUE task's train and dev splits, tokenized.
public struct TaskData: Sendable {
    /// The task.
    public let task: GLUETask
    /// Tokenized training examples (the first `maxTrainExamples` in file order when capped).
    public let train: [TokenizedExample]
    /// Tokenized dev examples.
    public let dev: [TokenizedExample]

    /// Reads and tokenizes `task` from `dataDirectory` (the GLUE root holding `SST-2/`, `MRPC/`, …).
    ///
    /// - Parameters:
    ///   - maxTrainExamples: keep only the first N training rows (nil: all).
    ///   - maxDevExamples: keep only the first N dev rows (nil: all).
    ///   - splits: which splits to read (dev only for evaluation).
    public static func load(task: GLUETask, dataDirectory: URL, tokenizer: any TextTokenizer, maxLength: Int,
                            maxTrainExamples: Int? = nil, maxDevExamples: Int? = nil,
                            splits: Set<Split> = [.train, .dev]) throws -> TaskData {
        func tokenize(_ split: Split, limit: Int?) throws -> [TokenizedExample] {
            guard splits.contains(split) else { return [] }
            var examples = try task.read(split, from: dataDirectory)
            if let limit, examples.count > limit { examples = Array(examples.prefix(limit)) }
            try checkMaxLength(maxLength, tokenizer: tokenizer, pair: examples.first?.textB != nil)
            let encodings = tokenizer.encodeBatch(examples.map { ($0.textA, $0.textB) }, maxLength: maxLength)
            return zip(examples, encodings).map { TokenizedExample.compact(ids: $0.1.ids, typeIds: $0.1.typeIds, label: $0.0.label) }
        }
        return TaskData(task: task, train: try tokenize(.train, limit: maxTrainExamples), dev: try tokenize(.dev, limit: maxDevExamples))
    }

    /// Refuses a maximum length that leaves no room for text after the special tokens (the
    /// tokenizer would silently not truncate at all).
    public static func checkMaxLength(_ maxLength: Int, tokenizer: any TextTokenizer, pair: Bool, key: String = "--max-length") throws {
        let specials = tokenizer.encodeBatch([("", pair ? "" : nil)], maxLength: nil)[0].ids.count
        try ValueRules(source: nil).within(maxLength, (specials + 1)...EncoderConfig.maxSequenceLength, key: key,
                                           why: "room for the \(specials) special tokens of \(pair ? "a pair" : "a sentence") and one token of text")
    }

    /// Creates task data from already tokenized examples.
    public init(task: GLUETask, train: [TokenizedExample], dev: [TokenizedExample]) {
        self.task = task
        self.train = train
        self.dev = dev
    }
}
