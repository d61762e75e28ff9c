import Foundation

/// Reading and writing the study's JSON and JSON Lines files, with errors that name the file
/// and line.
enum JSONFiles {
    /// The file's bytes, or `nil` if there is no file at `url`.
    static func data(at url: URL) throws -> Data? {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) else { return nil }
        guard !isDirectory.boolValue else {
            throw StudyError.unreadable(path: url.path, reason: "is a directory")
        }
        do {
            return try Data(contentsOf: url)
        } catch {
            throw StudyError.unreadable(path: url.path, reason: "\(error)")
        }
    }

    /// Decodes a whole-file JSON value, or returns `nil` if there is no file.
    ///
    /// - Throws: ``StudyError/malformedJSON(path:line:reason:)`` with the line of a syntax
    ///   error, or the coding path of a value of the wrong type.
    static func decode<T: Decodable>(_ type: T.Type, at url: URL) throws -> T? {
        guard let data = try data(at: url) else { return nil }
        return try decode(type, from: data, path: url.path, line: nil)
    }

    /// Decodes one JSON value from `data`, mapping failures to ``StudyError``.
    ///
    /// - Parameter line: The line `data` sits on (JSON Lines); `nil` for a whole file, whose
    ///   syntax errors are then located by counting newlines before the error.
    static func decode<T: Decodable>(_ type: T.Type, from data: Data, path: String, line: Int?) throws -> T {
        do {
            return try JSONDecoder().decode(type, from: data)
        } catch let error as DecodingError {
            switch error {
            case .dataCorrupted(let context) where context.codingPath.isEmpty:
                let (syntaxLine, reason) = syntaxError(in: data)
                throw StudyError.malformedJSON(path: path, line: line ?? syntaxLine, reason: reason)
            default:
                throw StudyError.malformedJSON(path: path, line: line, reason: describe(error))
            }
        } catch {
            throw StudyError.malformedJSON(path: path, line: line, reason: "\(error)")
        }
    }

    /// The lines of a JSON Lines file with their 1-based numbers, skipping blank lines, or
    /// `nil` if there is no file.
    ///
    /// `incompleteLastLine` is the last line when the file does not end with a newline (a
    /// writer may be in the middle of appending it); callers decide whether to tolerate it.
    static func lines(at url: URL) throws -> (lines: [(number: Int, data: Data)], incompleteLastLine: (number: Int, data: Data)?)? {
        guard let data = try data(at: url) else { return nil }
        var result: [(number: Int, data: Data)] = []
        var number = 0
        var start = data.startIndex
        let newline = UInt8(ascii: "\n")
        var incomplete: (number: Int, data: Data)?
        while start < data.endIndex {
            number += 1
            let end = data[start...].firstIndex(of: newline)
            let slice = data[start ..< (end ?? data.endIndex)]
            let isBlank = slice.allSatisfy { $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }
            if !isBlank {
                if end == nil {
                    incomplete = (number, Data(slice))
                } else {
                    result.append((number, Data(slice)))
                }
            }
            guard let end else { break }
            start = data.index(after: end)
        }
        return (result, incomplete)
    }

    /// Locates a syntax error with `JSONSerialization`, whose message gives the character
    /// offset ("around character 19"); returns the 1-based line and the message.
    static func syntaxError(in data: Data) -> (line: Int?, reason: String) {
        do {
            _ = try JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])
            return (nil, "the data is not valid JSON")
        } catch {
            let message = (error as NSError).userInfo[NSDebugDescriptionErrorKey] as? String ?? "\(error)"
            guard let range = message.range(of: "character ") else { return (nil, message) }
            let digits = message[range.upperBound...].prefix { $0.isNumber }
            guard let offset = Int(digits) else { return (nil, message) }
            let prefix = data.prefix(max(0, offset))
            let line = prefix.reduce(1) { $1 == UInt8(ascii: "\n") ? $0 + 1 : $0 }
            return (line, message)
        }
    }

    /// A one-line account of a decoding error: what was expected, and where.
    static func describe(_ error: DecodingError) -> String {
        func path(_ codingPath: [any CodingKey]) -> String {
            codingPath.isEmpty ? "top level" : codingPath.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }
                .joined(separator: ".")
        }
        switch error {
        case let .typeMismatch(type, context):
            return "wrong type at \(path(context.codingPath)): expected \(type); \(context.debugDescription)"
        case let .valueNotFound(type, context):
            return "missing value at \(path(context.codingPath)): expected \(type)"
        case let .keyNotFound(key, context):
            return "missing key \"\(key.stringValue)\" at \(path(context.codingPath))"
        case let .dataCorrupted(context):
            return "invalid data at \(path(context.codingPath)): \(context.debugDescription)"
        @unknown default:
            return "\(error)"
        }
    }

    /// Writes `data` to `url` atomically: into a temporary file in the same directory, then
    /// renamed over the destination, so a reader never sees a half-written file.
    static func writeAtomically(_ data: Data, to url: URL) throws {
        let directory = url.deletingLastPathComponent()
        let temporary = directory.appendingPathComponent(".\(url.lastPathComponent).tmp-\(ProcessInfo.processInfo.processIdentifier)")
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            try data.write(to: temporary)
        } catch {
            try? FileManager.default.removeItem(at: temporary)
            throw StudyError.writeFailed(path: url.path, reason: "\(error)")
        }
        guard rename(temporary.path, url.path) == 0 else {
            let reason = String(cString: strerror(errno))
            try? FileManager.default.removeItem(at: temporary)
            throw StudyError.writeFailed(path: url.path, reason: "rename failed: \(reason)")
        }
    }
}
