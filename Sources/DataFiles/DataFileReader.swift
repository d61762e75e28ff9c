// Streams the rows of a CSV, TSV or JSON Lines file in blocks, handing out the values of chosen columns.
import Foundation
import JSONText
import InputValidation

/// A data file opened for reading: its format and column names, and a pass over its rows.
///
/// The file is read in blocks of 8 MiB (a record longer than a block grows the buffer), so
/// reading a file of any size holds one block and the values the caller keeps. CSV and TSV
/// files start with a header row naming the columns; a JSON Lines file's columns are the keys
/// of its first object, in their order. A UTF-8 byte-order mark at the start is skipped.
///
/// ```swift
/// let file = try DataFileReader(path: "reviews.csv")
/// let text = try file.column("review", option: "--text-column")
/// try file.forEachRow([text]) { line, values in print(line, values[0]) }
/// ```
public final class DataFileReader {
    /// The path as given (used in every error).
    public let path: String
    /// The file's format.
    public let format: DataFormat
    /// Column names: the header (CSV, TSV) or the first object's keys (JSON Lines).
    public private(set) var columns: [String] = []

    /// Bytes read at a time (tests shrink it to cross block boundaries).
    nonisolated(unsafe) static var blockSize = 8 << 20

    /// Opens `path` and reads its header (or first JSON object).
    /// - Parameter format: the format, or `nil` to take it from the extension.
    /// - Throws: ``DataFileError``: missing or unreadable file, unknown format, empty file,
    ///   header only, and the errors of a malformed header or first row.
    public init(path: String, format: DataFormat? = nil) throws {
        self.path = path
        self.format = try DataFormat.resolve(format, path: path)
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue else {
            throw DataFileError.missingFile(path: path)
        }
        var sawHeader = false
        var sawRow = false
        try scan(wanted: nil) { line, values in
            if line == 0 {
                self.columns = values
                sawHeader = true
                return true
            }
            sawRow = true
            return false
        }
        if !sawHeader { throw DataFileError.empty(path: path) }
        if !sawRow, self.format != .jsonl { throw DataFileError.headerOnly(path: path) }
    }

    /// The index of column `name`.
    /// - Parameter option: the option that named it (for the error), e.g. `--text-column`.
    /// - Throws: ``DataFileError/missingColumn(path:column:option:present:)`` listing the columns.
    public func column(_ name: String, option: String) throws -> Int {
        guard let i = columns.firstIndex(of: name) else {
            throw DataFileError.missingColumn(path: path, column: name, option: option, present: columns)
        }
        return i
    }

    /// Calls `body` for every data row, in file order, with the 1-based line where the row
    /// starts and the values of the columns at `wanted` (indices into ``columns``).
    /// - Throws: ``DataFileError`` for the first malformed row, or what `body` throws.
    /// - Parameter limit: stop after this many rows (nil: all).
    public func forEachRow(_ wanted: [Int], limit: Int? = nil, _ body: (_ line: Int, _ values: [String]) throws -> Void) throws {
        var count = 0
        if let limit, limit <= 0 { return }
        try scan(wanted: wanted) { line, values in
            guard line > 0 else { return true }
            try body(line, values)
            count += 1
            return limit.map { count < $0 } ?? true
        }
    }

    // MARK: - Scanning

    /// Reads the file from the start; `visit` gets line 0 with the column names, then each data
    /// row, and returns false to stop. `wanted == nil` asks for the header (or first row) only.
    private func scan(wanted: [Int]?, _ visit: (Int, [String]) throws -> Bool) throws {
        let handle: FileHandle
        do { handle = try FileHandle(forReadingFrom: URL(fileURLWithPath: path)) } catch {
            throw DataFileError.unreadable(path: path, reason: FileErrors.describe(error).map { String($0.split(separator: ":").last ?? "").trimmingCharacters(in: .whitespaces) } ?? "\(error)")
        }
        defer { try? handle.close() }
        var blocks = BlockReader(handle: handle, path: path)
        repeat { try blocks.more(keepFrom: 0) } while blocks.buffer.count < 3 && !blocks.eof
        if blocks.buffer.starts(with: [0xEF, 0xBB, 0xBF]) { blocks.buffer.removeFirst(3); blocks.base = 3 }
        switch format {
        case .csv, .tsv: try scanDelimited(&blocks, wanted: wanted, visit)
        case .jsonl: try scanJSONLines(&blocks, wanted: wanted, visit)
        }
    }

    private func scanDelimited(_ blocks: inout BlockReader, wanted: [Int]?, _ visit: (Int, [String]) throws -> Bool) throws {
        let scanner = DelimitedScanner(separator: format == .csv ? 0x2C : 0x09, quoting: format == .csv)
        var fields: [DelimitedField] = []
        var position = 0
        var line = 1
        var headerCount: Int?
        while true {
            let final = blocks.eof
            let base = blocks.base
            enum Step { case more, end, row(Int, [String]), stop }
            let step: Step = try blocks.buffer.withUnsafeBufferPointer { bytes in
                guard let (start, skipped) = scanner.skipBlankLines(bytes, from: position, final: final) else { return .more }
                let recordLine = line + skipped
                let result: ScanResult
                do { result = try scanner.next(bytes, from: start, final: final, fields: &fields) } catch let failure as DelimitedScanner.Failure {
                    switch failure {
                    case .unclosedQuote(let offset, let column):
                        throw DataFileError.unclosedQuote(path: path, line: recordLine + offset, column: column)
                    case .textAfterQuote(let offset, let column):
                        throw DataFileError.textAfterQuote(path: path, line: recordLine + offset, column: column)
                    }
                }
                switch result {
                case .needMore: return .more
                case .end: return .end
                case .record(let next, let newlines):
                    position = next
                    line = recordLine + newlines
                    func decode(_ field: DelimitedField) throws -> String {
                        switch scanner.text(bytes, field) {
                        case .success(let s): return s
                        case .failure(let bad):
                            let extra = bytes[start ..< bad.value].reduce(0) { $0 + ($1 == 0x0A ? 1 : 0) }
                            throw DataFileError.invalidUTF8(path: path, line: recordLine + extra, offset: base + bad.value)
                        }
                    }
                    guard let expected = headerCount else {
                        let names = try fields.map(decode)
                        return .row(0, names)
                    }
                    guard fields.count == expected else {
                        throw DataFileError.fieldCount(path: path, line: recordLine, found: fields.count, expected: expected)
                    }
                    guard let wanted else { return .row(recordLine, []) }
                    return .row(recordLine, try wanted.map { try decode(fields[$0]) })
                }
            }
            switch step {
            case .more:
                guard !blocks.eof else { return }
                try blocks.more(keepFrom: position)
                position = 0
            case .end, .stop:
                return
            case .row(let rowLine, let values):
                if headerCount == nil {
                    try checkHeader(values)
                    headerCount = values.count
                }
                if try !visit(rowLine, values) { return }
            }
        }
    }

    private func checkHeader(_ names: [String]) throws {
        var seen = Set<String>()
        for (i, name) in names.enumerated() {
            if name.isEmpty { throw DataFileError.emptyColumnName(path: path, column: i + 1) }
            if !seen.insert(name).inserted { throw DataFileError.duplicateColumn(path: path, name: name) }
        }
    }

    private func scanJSONLines(_ blocks: inout BlockReader, wanted: [Int]?, _ visit: (Int, [String]) throws -> Bool) throws {
        var position = 0
        var line = 1
        var keys: [String]?
        while true {
            let final = blocks.eof
            let base = blocks.base
            enum Step { case more, end, blank, row(Int, [(key: String, value: String?, kind: String)]) }
            let step: Step = try blocks.buffer.withUnsafeBufferPointer { bytes in
                let n = bytes.count
                guard position < n else { return final ? .end : .more }
                var end = position
                while end < n, bytes[end] != 0x0A { end += 1 }
                if end == n, !final { return .more }
                let start = position
                let rowLine = line
                position = end < n ? end + 1 : n
                line += 1
                var stop = end
                if stop > start, bytes[stop - 1] == 0x0D { stop -= 1 }
                var first = start
                while first < stop, [0x20, 0x09, 0x0D].contains(bytes[first]) { first += 1 }
                if first == stop { return .blank }
                if let bad = UTF8Check.firstInvalid(bytes, start ..< stop) {
                    throw DataFileError.invalidUTF8(path: path, line: rowLine, offset: base + bad)
                }
                let found: String? = switch bytes[first] {
                case 0x7B: nil
                case 0x5B: "an array"
                case 0x22: "a string"
                case 0x74, 0x66: "a boolean"
                case 0x6E: "null"
                case 0x2D, 0x30...0x39: "a number"
                default: ""
                }
                let lineBytes = Array(bytes[start ..< stop])
                if let found, !found.isEmpty {
                    if (try? JSONParser.parse(lineBytes)) != nil { throw DataFileError.notAnObject(path: path, line: rowLine, found: found) }
                }
                let entries: [(key: String, value: JSONNode, offset: Int)]
                do { entries = try JSONParser.parseObjectEntries(lineBytes) } catch let error as JSONSyntaxError {
                    throw DataFileError.invalidJSON(path: path, line: rowLine, column: error.column, reason: error.reason)
                }
                return .row(rowLine, entries.map { entry in
                    switch entry.value {
                    case .string(let s): return (entry.key, s, "")
                    case .number:
                        // The number as written, so that 1.0 stays a decimal (a regression label).
                        var e = entry.offset
                        while e < lineBytes.count, Self.numberBytes.contains(lineBytes[e]) { e += 1 }
                        return (entry.key, String(decoding: lineBytes[entry.offset ..< e], as: UTF8.self), "")
                    case .bool(let b): return (entry.key, b ? "true" : "false", "")
                    case .null: return (entry.key, nil, "null")
                    case .array: return (entry.key, nil, "an array")
                    case .object: return (entry.key, nil, "an object")
                    }
                })
            }
            switch step {
            case .more:
                guard !blocks.eof else { return }
                try blocks.more(keepFrom: position)
                position = 0
            case .end:
                return
            case .blank:
                continue
            case .row(let rowLine, let entries):
                if keys == nil {
                    var seen = Set<String>()
                    for e in entries where !seen.insert(e.key).inserted {
                        throw DataFileError.duplicateColumn(path: path, name: e.key)
                    }
                    keys = entries.map(\.key)
                    if try !visit(0, keys!) { return }
                }
                guard let wanted else { if try !visit(rowLine, []) { return }; continue }
                var values: [String] = []
                values.reserveCapacity(wanted.count)
                for index in wanted {
                    let key = keys![index]
                    guard let entry = entries.first(where: { $0.key == key }) else {
                        throw DataFileError.missingField(path: path, line: rowLine, field: key)
                    }
                    guard let value = entry.value else {
                        throw DataFileError.unusableValue(path: path, line: rowLine, field: key, found: entry.kind)
                    }
                    values.append(value)
                }
                if try !visit(rowLine, values) { return }
            }
        }
    }

    private static let numberBytes: Set<UInt8> = Set("0123456789+-.eE".utf8)
}

/// The part of a file being scanned: `buffer` holds the bytes from file offset `base` on.
struct BlockReader {
    let handle: FileHandle
    let path: String
    var buffer: [UInt8] = []
    var base = 0
    var eof = false

    /// Drops the bytes before `start` and appends the next block (at least as large as what is
    /// kept, so that a long record costs amortised linear time); sets `eof` at the end.
    mutating func more(keepFrom start: Int) throws {
        if start > 0 {
            buffer.removeFirst(start)
            base += start
        }
        let chunk: Data?
        do { chunk = try handle.read(upToCount: max(DataFileReader.blockSize, buffer.count)) } catch {
            throw DataFileError.unreadable(path: path, reason: FileErrors.describe(error) ?? "\(error)")
        }
        if let chunk, !chunk.isEmpty { buffer.append(contentsOf: chunk) } else { eof = true }
    }
}
