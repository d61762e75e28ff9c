// A user's CSV/TSV/JSON Lines files read into tokenized examples, streaming, tokenized on all cores.
import Foundation
import DataFiles
import GLUE
import Tokenizers

/// Reading a user's data files (``DataFileReader``) into tokenized examples.
///
/// Rows stream through in chunks of ``chunkRows``: each chunk's texts are tokenized on all
/// cores (``TextTokenizer/encodeBatch(_:maxLength:)``) and dropped, so a data set in memory is
/// its token ids, its labels and a small per-example overhead.
public enum UserData {
    /// Rows tokenized together.
    public static let chunkRows = 16_384

    /// A training file read: its label scheme, task and examples.
    public struct Training: Sendable {
        public var scheme: LabelScheme
        public var task: GLUETask
        public var examples: [TokenizedExample]
        /// The columns used, for the log.
        public var columns: String
    }

    /// Reads a training file: its distinct labels decide the scheme (``LabelCollector``).
    /// - Parameters:
    ///   - taskType: `--task-type`, or `nil` to infer it from the labels.
    ///   - metric: `--metric`, or `nil` for the default.
    ///   - limit: keep only the first N rows.
    public static func readTraining(_ file: DataFileReader, columns options: ColumnOptions, taskType: TaskType?, metric: String?,
                                    tokenizer: any TextTokenizer, maxLength: Int, limit: Int? = nil) throws -> Training {
        let choice = try ColumnChoice.choose(in: file, options: options, needLabel: true)
        var collector = LabelCollector(path: file.path, column: file.columns[choice.label!])
        var examples = try tokenize(file, choice: choice, tokenizer: tokenizer, maxLength: maxLength, limit: limit) { line, raw in
            try collector.add(raw, line: line)
            return .classIndex(0)
        }
        let (scheme, labels) = try collector.finish(taskType: taskType)
        for i in examples.indices { examples[i].label = labels[i] }
        let task = try GLUETask.user(name: GLUETask.userTaskName(path: file.path), scheme: scheme, primary: metric)
        return Training(scheme: scheme, task: task, examples: examples, columns: choice.summary)
    }

    /// Reads a labelled file (a dev file, or one to evaluate) with a known scheme: every label
    /// must be one of its classes (or a number, for regression).
    /// - Parameter indexFallback: see ``LabelScheme/label(_:path:line:column:index:indexFallback:)``
    ///   (for evaluating a model, not for a training run's dev file).
    public static func readLabelled(_ file: DataFileReader, columns options: ColumnOptions, scheme: LabelScheme,
                                    tokenizer: any TextTokenizer, maxLength: Int, limit: Int? = nil,
                                    indexFallback: Bool = false) throws -> (examples: [TokenizedExample], columns: String) {
        let choice = try ColumnChoice.choose(in: file, options: options, needLabel: true)
        let column = file.columns[choice.label!]
        let index = scheme.classIndex
        let examples = try tokenize(file, choice: choice, tokenizer: tokenizer, maxLength: maxLength, limit: limit) { line, raw in
            try scheme.label(raw, path: file.path, line: line, column: column, index: index, indexFallback: indexFallback)
        }
        return (examples, choice.summary)
    }

    /// Rows to predict: their encodings and, with an id column, their ids.
    public struct Unlabelled: Sendable {
        public var encodings: [Encoding]
        public var ids: [String]?
        public var lines: [Int]
        public var columns: String
    }

    /// Reads a file to predict (its label column, if any, is ignored).
    public static func readUnlabelled(_ file: DataFileReader, columns options: ColumnOptions,
                                      tokenizer: any TextTokenizer, maxLength: Int) throws -> Unlabelled {
        let choice = try ColumnChoice.choose(in: file, options: options, needLabel: false)
        var result = Unlabelled(encodings: [], ids: choice.id == nil ? nil : [], lines: [], columns: choice.summary)
        try encodeRows(file, choice: choice, extra: choice.id.map { [$0] } ?? [], limit: nil, tokenizer: tokenizer, maxLength: maxLength,
                       row: { line, extra in
                           if let id = extra.first { result.ids!.append(id) }
                           result.lines.append(line)
                       },
                       chunk: { result.encodings += $0 })
        return result
    }

    /// Streams `file`'s rows, tokenizing chunks; `label` turns each row's raw label into its label.
    private static func tokenize(_ file: DataFileReader, choice: ColumnChoice, tokenizer: any TextTokenizer, maxLength: Int, limit: Int?,
                                 label: (Int, String) throws -> Label) throws -> [TokenizedExample] {
        var examples: [TokenizedExample] = []
        var labels: [Label] = []
        try encodeRows(file, choice: choice, extra: [choice.label!], limit: limit, tokenizer: tokenizer, maxLength: maxLength,
                       row: { line, extra in labels.append(try label(line, extra[extra.startIndex])) },
                       chunk: { encodings in
                           for (e, l) in zip(encodings, labels) { examples.append(.compact(ids: e.ids, typeIds: e.typeIds, label: l)) }
                           labels.removeAll(keepingCapacity: true)
                       })
        if examples.isEmpty { throw DataFileError.headerOnly(path: file.path) }
        return examples
    }

    /// The one streaming loop: reads the chosen text columns and the `extra` ones of each row,
    /// hands the extra values to `row` (which may refuse the row by throwing), and every
    /// ``chunkRows`` rows tokenizes the texts on all cores and hands the encodings, in row
    /// order, to `chunk`.
    private static func encodeRows(_ file: DataFileReader, choice: ColumnChoice, extra: [Int], limit: Int?,
                                   tokenizer: any TextTokenizer, maxLength: Int,
                                   row: (_ line: Int, _ extra: ArraySlice<String>) throws -> Void,
                                   chunk: ([Encoding]) -> Void) throws {
        try TaskData.checkMaxLength(maxLength, tokenizer: tokenizer, pair: choice.textPair != nil)
        let textCount = choice.textPair == nil ? 1 : 2
        let wanted = [choice.text] + (choice.textPair.map { [$0] } ?? []) + extra
        var texts: [(String, String?)] = []
        texts.reserveCapacity(chunkRows)
        func flush() {
            guard !texts.isEmpty else { return }
            chunk(tokenizer.encodeBatch(texts, maxLength: maxLength))
            texts.removeAll(keepingCapacity: true)
        }
        try file.forEachRow(wanted, limit: limit) { line, values in
            try row(line, values[textCount...])
            texts.append((values[0], textCount == 2 ? values[1] : nil))
            if texts.count == chunkRows { flush() }
        }
        flush()
    }
}
