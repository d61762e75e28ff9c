import Foundation

/// A split of a GLUE task that carries labels.
///
/// GLUE's test files have no labels, so they are not registered.
public enum Split: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// The training split (`train.tsv`).
    case train
    /// The development split used for evaluation (`dev.tsv`; MNLI: `dev_matched.tsv` or
    /// `dev_mismatched.tsv`).
    case dev

    public var description: String { rawValue }
}

/// The gold label of one example.
public enum Label: Sendable, Hashable, CustomStringConvertible {
    /// A class index into ``GLUETask/labelTokens`` (`0 ..< numLabels`).
    case classIndex(Int)
    /// A regression target (STS-B similarity, 0 to 5).
    case score(Float)

    /// The class index, or `nil` for a regression label.
    public var classIndex: Int? {
        if case .classIndex(let index) = self { return index }
        return nil
    }

    /// The regression score, or `nil` for a class label.
    public var score: Float? {
        if case .score(let value) = self { return value }
        return nil
    }

    public var description: String {
        switch self {
        case .classIndex(let index): return "class \(index)"
        case .score(let value): return "score \(value)"
        }
    }
}

/// One labelled row of a GLUE TSV file.
public struct Example: Sendable, Hashable {
    /// The first (or only) sentence, exactly as in the file (no trimming: SST-2 sentences
    /// keep their trailing space; control characters are kept).
    public var textA: String
    /// The second sentence of a pair task, `nil` for single-sentence tasks (CoLA, SST-2).
    public var textB: String?
    /// The gold label.
    public var label: Label
    /// The 1-based line number of the row in its file (a header, when present, is line 1).
    public var line: Int

    /// Creates an example.
    public init(textA: String, textB: String?, label: Label, line: Int) {
        self.textA = textA
        self.textB = textB
        self.label = label
        self.line = line
    }
}

/// Which columns of a tab-separated file hold the texts and the label.
///
/// Every row must have exactly `columns.count` fields. When `hasHeader` is true the first line
/// must hold exactly these column names (after an optional UTF-8 byte-order mark).
public struct TSVLayout: Sendable, Hashable {
    /// Column names, in file order. For header-less files (CoLA) these are documentation only.
    public let columns: [String]
    /// Whether the first line is a header naming the columns.
    public let hasHeader: Bool
    /// 0-based index of the first text column.
    public let textAColumn: Int
    /// 0-based index of the second text column, `nil` for single-sentence tasks.
    public let textBColumn: Int?
    /// 0-based index of the label column.
    public let labelColumn: Int

    /// Creates a layout. Column indices must lie inside `columns` (a programmer error otherwise).
    public init(columns: [String], hasHeader: Bool, textAColumn: Int, textBColumn: Int?, labelColumn: Int) {
        precondition(columns.indices.contains(textAColumn), "TSVLayout: textAColumn out of range")
        precondition(textBColumn.map { columns.indices.contains($0) } ?? true, "TSVLayout: textBColumn out of range")
        precondition(columns.indices.contains(labelColumn), "TSVLayout: labelColumn out of range")
        self.columns = columns
        self.hasHeader = hasHeader
        self.textAColumn = textAColumn
        self.textBColumn = textBColumn
        self.labelColumn = labelColumn
    }

    /// Creates a layout from column names, locating the text and label columns by name.
    /// Names must be present (a programmer error otherwise).
    init(columns: [String], hasHeader: Bool = true, textA: String, textB: String?, label: String) {
        func index(_ name: String) -> Int {
            guard let i = columns.firstIndex(of: name) else {
                preconditionFailure("TSVLayout: no column \(name) in \(columns)")
            }
            return i
        }
        self.init(columns: columns, hasHeader: hasHeader,
                  textAColumn: index(textA), textBColumn: textB.map(index), labelColumn: index(label))
    }
}

/// How a split of a task is stored: a file name inside the task's directory, and its layout.
public struct SplitFile: Sendable, Hashable {
    /// File name inside ``GLUETask/directoryName`` (for example `dev_matched.tsv`).
    public let fileName: String
    /// Columns of the file.
    public let layout: TSVLayout

    /// Creates a split description.
    public init(fileName: String, layout: TSVLayout) {
        self.fileName = fileName
        self.layout = layout
    }
}

/// What a task predicts.
public enum TaskKind: Sendable, Hashable {
    /// Single-label classification; `labelTokens[i]` is the label written in the TSV for
    /// class `i`, `labelNames[i]` a readable name.
    case classification(labelTokens: [String], labelNames: [String])
    /// Regression of one score within `range` (STS-B: 0...5).
    case regression(range: ClosedRange<Float>)
}

/// One GLUE task: its files, their layouts, its labels and its metrics.
///
/// All registered tasks are in ``GLUETask/all``; look one up with ``GLUETask/named(_:)``.
/// MNLI appears twice, as `MNLI` (evaluated on `dev_matched.tsv`) and `MNLI-MM` (evaluated on
/// `dev_mismatched.tsv`); both train on the same `MNLI/train.tsv`.
///
/// ```swift
/// let task = try GLUETask.named("sst2")
/// let train = try task.read(.train, from: URL(fileURLWithPath: "glue_data"))
/// let report = try task.evaluate(predictions: predicted, labels: train.map(\.label))
/// print(report.primary, report.primaryValue)
/// ```
public struct GLUETask: Sendable, Hashable, CustomStringConvertible {
    /// Canonical name (`CoLA`, `SST-2`, `MRPC`, `QQP`, `STS-B`, `MNLI`, `MNLI-MM`, `QNLI`, `RTE`, `WNLI`).
    public let name: String
    /// Other spellings accepted by ``named(_:)`` (compared after ``normalizedName(_:)``).
    public let aliases: [String]
    /// Directory of the task under the GLUE data root (`glue_data/<directoryName>/`).
    public let directoryName: String
    /// Classification with its label set, or regression.
    public let kind: TaskKind
    /// Where each split lives and how its columns are laid out.
    public let splits: [Split: SplitFile]
    /// The metrics reported for this task, primary first.
    public let metrics: [Metric]
    /// The metric the paper reports and model selection uses.
    public let primaryMetric: Metric

    /// Creates a task description. `metrics` must contain `primaryMetric`.
    public init(name: String, aliases: [String] = [], directoryName: String, kind: TaskKind,
                splits: [Split: SplitFile], metrics: [Metric], primaryMetric: Metric) {
        precondition(metrics.contains(primaryMetric), "GLUETask \(name): primary metric not in metrics")
        self.name = name
        self.aliases = aliases
        self.directoryName = directoryName
        self.kind = kind
        self.splits = splits
        self.metrics = metrics
        self.primaryMetric = primaryMetric
    }

    /// Number of model outputs: the number of classes, or 1 for regression (STS-B).
    public var numLabels: Int {
        switch kind {
        case .classification(let tokens, _): return tokens.count
        case .regression: return 1
        }
    }

    /// Whether the task is regression (STS-B).
    public var isRegression: Bool {
        if case .regression = kind { return true }
        return false
    }

    /// Whether each example is a sentence pair (everything but CoLA and SST-2).
    public var isPairTask: Bool {
        splits.values.contains { $0.layout.textBColumn != nil }
    }

    /// Label strings as written in the TSV, indexed by class; empty for regression.
    public var labelTokens: [String] {
        if case .classification(let tokens, _) = kind { return tokens }
        return []
    }

    /// Readable class names, indexed by class; empty for regression.
    public var labelNames: [String] {
        if case .classification(_, let names) = kind { return names }
        return []
    }

    /// File name of each split (`[.train: "train.tsv", .dev: "dev.tsv"]`).
    public var splitFileNames: [Split: String] {
        splits.mapValues(\.fileName)
    }

    /// The file of `split` under a GLUE data root: `root/<directoryName>/<fileName>`.
    /// - Throws: ``GLUEError/splitNotAvailable(task:split:)`` if the task has no such split.
    public func fileURL(for split: Split, in root: URL) throws -> URL {
        guard let file = splits[split] else { throw GLUEError.splitNotAvailable(task: name, split: split) }
        return root.appendingPathComponent(directoryName, isDirectory: true)
            .appendingPathComponent(file.fileName, isDirectory: false)
    }

    public var description: String { name }
}
