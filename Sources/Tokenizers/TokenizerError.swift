/// Why a tokenizer could not be loaded.
///
/// Every case names the file it is about; format errors also give the 1-based line (and,
/// for JSON, the column) where reading stopped.
public enum TokenizerError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The directory holds none of `tokenizer.json`, `vocab.txt` or `vocab.json` + `merges.txt`.
    case noTokenizerFiles(directory: String)
    /// A file the tokenizer needs is not there.
    case fileNotFound(path: String)
    /// A file exists but could not be read.
    case unreadable(path: String, reason: String)
    /// A file is not in the expected format; `line` and `column` are 1-based (column 0 when
    /// the error concerns a whole line).
    case malformed(path: String, line: Int, column: Int, reason: String)
    /// A token the configuration refers to (an unknown token, a special token, a merge
    /// part) is not in the vocabulary.
    case missingToken(path: String, token: String)
    /// The file asks for a tokenizer component this library does not implement.
    case unsupported(path: String, feature: String)

    /// The message: path, line and column when known, and the reason.
    public var description: String {
        switch self {
        case .noTokenizerFiles(let directory):
            return "\(directory): no tokenizer.json, vocab.txt or vocab.json + merges.txt"
        case .fileNotFound(let path):
            return "\(path): file not found"
        case .unreadable(let path, let reason):
            return "\(path): cannot read: \(reason)"
        case .malformed(let path, let line, let column, let reason):
            return column > 0 ? "\(path):\(line):\(column): \(reason)" : "\(path):\(line): \(reason)"
        case .missingToken(let path, let token):
            return "\(path): token \(token.debugDescription) is not in the vocabulary"
        case .unsupported(let path, let feature):
            return "\(path): unsupported \(feature)"
        }
    }
}
