// The options that point a command at a user's CSV/TSV/JSON Lines file and name its columns.
import ArgumentParser
import DataFiles
import Foundation

extension DataFormat: ExpressibleByArgument {}
extension TaskType: ExpressibleByArgument {}

/// `--format --text-column --text-pair-column --label-column`, shared by train, eval and predict.
struct DataFileOptions: ParsableArguments {
    @Option(help: "Format of the data files: csv, tsv or jsonl (default: from the extension).")
    var format: DataFormat?

    @Option(help: "Column with the text (default: sentence1, else the first column that is not the label or an id).")
    var textColumn: String?

    @Option(help: "Column with the second text of a pair (default: sentence2 when the text is sentence1).")
    var textPairColumn: String?

    @Option(help: "Column with the label.")
    var labelColumn: String = "label"

    /// The column options, with `id` for predict.
    func columns(id: String? = nil) -> ColumnOptions {
        ColumnOptions(text: textColumn, textPair: textPairColumn, label: labelColumn, id: id)
    }

    /// Opens a data file with `--format`.
    func open(_ path: String) throws -> DataFileReader {
        try DataFileReader(path: path, format: format)
    }

    /// Whether any column option was given (they need a data file).
    var isSet: Bool { format != nil || textColumn != nil || textPairColumn != nil || labelColumn != "label" }
}
