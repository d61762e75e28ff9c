import Foundation

/// Errors of reading a study directory or writing its report.
///
/// Every case names the file involved, so that a broken run can be found and fixed; a file
/// that is simply absent is never an error (the report shows "—" instead).
public enum StudyError: Error, Equatable, CustomStringConvertible {
    /// A JSON or JSON Lines file that does not parse, or whose values have the wrong types.
    ///
    /// - `path`: the file.
    /// - `line`: 1-based line of the offending record (JSON Lines) or of the syntax error
    ///   (JSON); `nil` when the position is unknown (e.g. a value of the wrong type).
    /// - `reason`: what is wrong.
    case malformedJSON(path: String, line: Int?, reason: String)
    /// A file exists but cannot be read (permissions, not UTF-8, a directory in its place).
    case unreadable(path: String, reason: String)
    /// The study directory does not exist or is not a directory.
    case notAStudyDirectory(path: String)
    /// An output file could not be written.
    case writeFailed(path: String, reason: String)

    /// The file, the line if known, and what is wrong, e.g.
    /// `runs/MRPC-lora/log.jsonl:3: malformed JSON: …`.
    public var description: String {
        switch self {
        case let .malformedJSON(path, line, reason):
            return "\(path)\(line.map { ":\($0)" } ?? ""): malformed JSON: \(reason)"
        case let .unreadable(path, reason):
            return "\(path): cannot read: \(reason)"
        case let .notAStudyDirectory(path):
            return "\(path): not a study directory (expected a directory holding runs/ and study.json)"
        case let .writeFailed(path, reason):
            return "\(path): cannot write: \(reason)"
        }
    }
}
