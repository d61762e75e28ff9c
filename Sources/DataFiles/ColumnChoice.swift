// Which columns hold the texts, the label and the id: from the options, else as run_glue.py chooses.
import Foundation

/// The column options of `lora train/eval/predict` for a data file.
public struct ColumnOptions: Sendable, Equatable {
    /// `--text-column`: the first (or only) text.
    public var text: String?
    /// `--text-pair-column`: the second text of a pair.
    public var textPair: String?
    /// `--label-column` (default `label`).
    public var label: String
    /// `--id-column`: carried through to predictions.
    public var id: String?

    public init(text: String? = nil, textPair: String? = nil, label: String = "label", id: String? = nil) {
        self.text = text
        self.textPair = textPair
        self.label = label
        self.id = id
    }
}

/// The columns chosen in one file (indices into ``DataFileReader/columns``).
public struct ColumnChoice: Sendable, Equatable {
    public var text: Int
    public var textPair: Int?
    public var label: Int?
    public var id: Int?
    /// Names of the chosen columns, for the log ("text: review, label: label").
    public var summary: String

    /// Chooses the columns of `file`.
    ///
    /// Named options must exist. Without `--text-column`, as Hugging Face's `run_glue.py`:
    /// `sentence1` (and `sentence2` when present) if the file has `sentence1`; else the first
    /// column that is not the label, the id column, or named `id` / `idx`.
    /// - Parameter needLabel: whether the label column must exist (training, evaluation).
    /// - Throws: ``DataFileError/missingColumn(path:column:option:present:)``.
    public static func choose(in file: DataFileReader, options: ColumnOptions, needLabel: Bool) throws -> ColumnChoice {
        let columns = file.columns
        var label: Int?
        if needLabel {
            label = try file.column(options.label, option: options.label == "label" ? "the default --label-column" : "--label-column")
        } else {
            label = columns.firstIndex(of: options.label)
        }
        let id = try options.id.map { try file.column($0, option: "--id-column") }
        var text: Int
        var pair: Int?
        if let name = options.text {
            text = try file.column(name, option: "--text-column")
            pair = try options.textPair.map { try file.column($0, option: "--text-pair-column") }
        } else if let s1 = columns.firstIndex(of: "sentence1") {
            text = s1
            pair = try options.textPair.map { try file.column($0, option: "--text-pair-column") } ?? columns.firstIndex(of: "sentence2")
        } else {
            let skipped: Set<String> = Set([options.label, "id", "idx"] + (options.id.map { [$0] } ?? []))
            guard let first = columns.firstIndex(where: { !skipped.contains($0) }) else {
                throw DataFileError.missingColumn(path: file.path, column: "a text column", option: "--text-column", present: columns)
            }
            text = first
            pair = try options.textPair.map { try file.column($0, option: "--text-pair-column") }
        }
        var parts = ["text: \(columns[text])"]
        if let pair { parts.append("pair: \(columns[pair])") }
        if let label, needLabel { parts.append("label: \(columns[label])") }
        if let id { parts.append("id: \(columns[id])") }
        return ColumnChoice(text: text, textPair: pair, label: needLabel ? label : nil, id: id, summary: parts.joined(separator: ", "))
    }
}
