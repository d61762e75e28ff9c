import Foundation

/// Errors from looking up GLUE tasks and reading their files. Every error about file content
/// names the file and the 1-based line.
public enum GLUEError: Error, Sendable, Equatable, CustomStringConvertible {
    /// No registered task has this name; `known` lists the canonical names.
    case unknownTask(name: String, known: [String])
    /// The task has no file for this split (for example a custom task without dev data).
    case splitNotAvailable(task: String, split: Split)
    /// The GLUE data root or a task directory does not exist (or is not a directory).
    case missingDirectory(path: String)
    /// A split's TSV file does not exist.
    case missingFile(path: String)
    /// The file exists but could not be read.
    case unreadableFile(path: String, reason: String)
    /// A line is not valid UTF-8.
    case invalidUTF8(file: String, line: Int)
    /// The header line does not name the expected columns.
    case unexpectedHeader(file: String, line: Int, expected: [String], found: [String])
    /// A row has the wrong number of tab-separated fields.
    case malformedRow(file: String, line: Int, expectedColumns: Int, foundColumns: Int)
    /// A class label that is not in the task's label set.
    case unknownLabel(file: String, line: Int, value: String, allowed: [String])
    /// A regression score that is not a finite decimal number.
    case unparsableScore(file: String, line: Int, value: String)
    /// A regression score outside the task's range (STS-B: 0...5).
    case scoreOutOfRange(file: String, line: Int, value: Float, range: ClosedRange<Float>)
    /// The split has no data rows.
    case emptySplit(file: String)

    public var description: String {
        switch self {
        case .unknownTask(let name, let known):
            return "unknown GLUE task \"\(name)\"; known tasks: \(known.joined(separator: ", "))"
        case .splitNotAvailable(let task, let split):
            return "task \(task) has no \(split) split"
        case .missingDirectory(let path):
            return "GLUE data directory not found: \(path)"
        case .missingFile(let path):
            return "GLUE file not found: \(path)"
        case .unreadableFile(let path, let reason):
            return "cannot read \(path): \(reason)"
        case .invalidUTF8(let file, let line):
            return "\(file):\(line): not valid UTF-8"
        case .unexpectedHeader(let file, let line, let expected, let found):
            return "\(file):\(line): header \(found) does not match the expected columns \(expected)"
        case .malformedRow(let file, let line, let expected, let found):
            return "\(file):\(line): expected \(expected) tab-separated columns, found \(found)"
        case .unknownLabel(let file, let line, let value, let allowed):
            return "\(file):\(line): label \"\(value)\" is not one of \(allowed.joined(separator: ", "))"
        case .unparsableScore(let file, let line, let value):
            return "\(file):\(line): score \"\(value)\" is not a finite number"
        case .scoreOutOfRange(let file, let line, let value, let range):
            return "\(file):\(line): score \(value) is outside \(range.lowerBound)...\(range.upperBound)"
        case .emptySplit(let file):
            return "\(file): no data rows"
        }
    }
}
