// Errors of the data-file readers: each names the file, and the line and column where one applies.
import Foundation

/// A problem with a user's data file (CSV, TSV or JSON Lines). The description starts with
/// `FILE:LINE:` (or `FILE:` for whole-file problems), as compilers print positions.
public enum DataFileError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The file does not exist or is a directory.
    case missingFile(path: String)
    /// The file exists but cannot be read (`reason` from the operating system).
    case unreadable(path: String, reason: String)
    /// The extension does not say which format, and `--format` was not given.
    case unknownFormat(path: String)
    /// The file has no bytes (or only blank lines).
    case empty(path: String)
    /// The file has a header but no data rows.
    case headerOnly(path: String)
    /// Bytes that are not UTF-8; `offset` is the 0-based byte offset in the file.
    case invalidUTF8(path: String, line: Int, offset: Int)
    /// A quoted CSV field opened on `line` and never closed.
    case unclosedQuote(path: String, line: Int, column: Int)
    /// Text after a closing quote that is neither a separator nor the end of the line.
    case textAfterQuote(path: String, line: Int, column: Int)
    /// A row with another number of fields than the header.
    case fieldCount(path: String, line: Int, found: Int, expected: Int)
    /// Two header columns (or JSON keys of the first row) with the same name.
    case duplicateColumn(path: String, name: String)
    /// A header column with no name.
    case emptyColumnName(path: String, column: Int)
    /// A column asked for (by an option or by default) that the file does not have.
    case missingColumn(path: String, column: String, option: String, present: [String])
    /// A JSON Lines row that is not valid JSON.
    case invalidJSON(path: String, line: Int, column: Int, reason: String)
    /// A JSON Lines row that is valid JSON but not an object.
    case notAnObject(path: String, line: Int, found: String)
    /// A JSON Lines row without a field that the first row has and that is needed.
    case missingField(path: String, line: Int, field: String)
    /// A field whose JSON value cannot be used as text or a label (null, array, object).
    case unusableValue(path: String, line: Int, field: String, found: String)
    /// A row whose label is empty.
    case emptyLabel(path: String, line: Int, column: String)
    /// A regression label that is not a finite number.
    case notANumber(path: String, line: Int, column: String, value: String)
    /// A label in an evaluation file that the model (its training file) does not have.
    case unknownLabel(path: String, line: Int, value: String, known: [String])

    public var description: String {
        switch self {
        case .missingFile(let p): return "\(p): no such file"
        case .unreadable(let p, let reason): return "\(p): cannot read: \(reason)"
        case .unknownFormat(let p):
            return "\(p): cannot tell the format from the extension; name it .csv, .tsv or .jsonl, or pass --format csv|tsv|jsonl"
        case .empty(let p): return "\(p): the file is empty"
        case .headerOnly(let p): return "\(p): the file has a header but no data rows"
        case .invalidUTF8(let p, let line, let offset): return "\(p):\(line): not valid UTF-8 (byte offset \(offset))"
        case .unclosedQuote(let p, let line, let column):
            return "\(p):\(line): the quoted field that opens in column \(column) is never closed"
        case .textAfterQuote(let p, let line, let column):
            return "\(p):\(line): text after the closing quote of column \(column) (a quote inside a quoted field is written \"\")"
        case .fieldCount(let p, let line, let found, let expected):
            return "\(p):\(line): \(found) field\(found == 1 ? "" : "s"), but the header has \(expected)"
        case .duplicateColumn(let p, let name): return "\(p): the column \"\(name)\" appears twice in the header"
        case .emptyColumnName(let p, let column): return "\(p):1: header column \(column) has no name"
        case .missingColumn(let p, let column, let option, let present):
            return "\(p): no column \"\(column)\" (\(option)); the columns are: \(present.joined(separator: ", "))"
        case .invalidJSON(let p, let line, let column, let reason): return "\(p):\(line):\(column): not valid JSON: \(reason)"
        case .notAnObject(let p, let line, let found): return "\(p):\(line): a JSON Lines row must be an object, found \(found)"
        case .missingField(let p, let line, let field): return "\(p):\(line): no field \"\(field)\""
        case .unusableValue(let p, let line, let field, let found):
            return "\(p):\(line): field \"\(field)\" is \(found); it must be a string or a number"
        case .emptyLabel(let p, let line, let column): return "\(p):\(line): the label (column \"\(column)\") is empty"
        case .notANumber(let p, let line, let column, let value):
            return "\(p):\(line): the label \"\(value)\" (column \"\(column)\") is not a finite number, and this is a regression task"
        case .unknownLabel(let p, let line, let value, let known):
            let shown = known.prefix(20).joined(separator: ", ") + (known.count > 20 ? ", … (\(known.count) in all)" : "")
            return "\(p):\(line): label \"\(value)\" is not one of the training labels: \(shown)"
        }
    }
}
