// Which reader a data file needs: CSV, TSV or JSON Lines, from --format or the file's extension.
import Foundation

/// A data file's format.
public enum DataFormat: String, Sendable, CaseIterable {
    /// Comma-separated values with a header row, quoted as RFC 4180 says: a field in double
    /// quotes may hold commas, newlines and doubled quotes (`""`).
    case csv
    /// Tab-separated values with a header row, as IANA's text/tab-separated-values: no quoting,
    /// so fields hold no tabs or newlines and a `"` is an ordinary character.
    case tsv
    /// JSON Lines: one JSON object per line; blank lines are skipped.
    case jsonl

    /// The format named by `path`'s extension (`.csv`; `.tsv`, `.tab`; `.jsonl`, `.ndjson`,
    /// `.json`), ignoring case; `nil` for any other.
    public static func fromExtension(of path: String) -> DataFormat? {
        switch (path as NSString).pathExtension.lowercased() {
        case "csv": return .csv
        case "tsv", "tab": return .tsv
        case "jsonl", "ndjson", "json": return .jsonl
        default: return nil
        }
    }

    /// `explicit` when given, else the format of the extension.
    /// - Throws: ``DataFileError/unknownFormat(path:)``.
    public static func resolve(_ explicit: DataFormat?, path: String) throws -> DataFormat {
        if let explicit { return explicit }
        guard let format = fromExtension(of: path) else { throw DataFileError.unknownFormat(path: path) }
        return format
    }
}
