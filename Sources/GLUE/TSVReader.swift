import Foundation
import InputValidation

// GLUE TSV files are read as bytes: lines end at `\n`, fields at `\t`, and nothing is quoted
// (sentences contain unbalanced `"`, so quote handling would merge rows). Splitting happens on
// bytes rather than `Character`s because a combining mark after a tab would otherwise join the
// tab into one grapheme, and because it is much faster. Only the text and label fields are
// decoded (and validated) as UTF-8.

extension GLUETask {
    /// Reads the labelled examples of `split` from a GLUE data root (the `glue_data`
    /// directory that holds `CoLA/`, `SST-2/`, ...).
    ///
    /// - Parameters:
    ///   - split: `.train` or `.dev`.
    ///   - root: The GLUE data root.
    /// - Returns: One example per data row, in file order.
    /// - Throws: ``GLUEError``: `.missingDirectory` for a missing root or task directory,
    ///   `.missingFile`, and every content error of ``parse(_:split:source:)``.
    public func read(_ split: Split, from root: URL) throws -> [Example] {
        guard isDirectory(root) else { throw GLUEError.missingDirectory(path: root.path) }
        let directory = root.appendingPathComponent(directoryName, isDirectory: true)
        guard isDirectory(directory) else { throw GLUEError.missingDirectory(path: directory.path) }
        return try read(split, fileAt: fileURL(for: split, in: root))
    }

    /// Reads the file at `url` with the layout of `split` (for a copy stored elsewhere).
    /// - Throws: ``GLUEError``: `.missingFile`, `.unreadableFile`, and every content error of
    ///   ``parse(_:split:source:)``.
    public func read(_ split: Split, fileAt url: URL) throws -> [Example] {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDir), !isDir.boolValue else {
            throw GLUEError.missingFile(path: url.path)
        }
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw GLUEError.unreadableFile(path: url.path, reason: FileErrors.describe(error).map { String($0.split(separator: ":").last ?? "").trimmingCharacters(in: .whitespaces) } ?? String(describing: error))
        }
        return try parse(data, split: split, source: url.path)
    }

    /// Parses the bytes of one TSV file laid out as `split` of this task.
    ///
    /// Rules: UTF-8; a leading byte-order mark is skipped; lines end at `\n` (a `\r` before it is
    /// dropped); the last line may lack its `\n`; fields are separated by tabs with no quoting;
    /// every row must have exactly the layout's number of fields; a header, when the layout has
    /// one, must name the layout's columns. Texts are kept verbatim. Class labels and scores are
    /// compared after trimming spaces.
    ///
    /// - Parameters:
    ///   - data: The file's bytes.
    ///   - split: Which layout to apply.
    ///   - source: The file name used in error messages.
    /// - Throws: ``GLUEError``: `.splitNotAvailable`, `.invalidUTF8`, `.unexpectedHeader`,
    ///   `.malformedRow`, `.unknownLabel`, `.unparsableScore`, `.scoreOutOfRange`, `.emptySplit`.
    public func parse(_ data: Data, split: Split, source: String) throws -> [Example] {
        guard let file = splits[split] else { throw GLUEError.splitNotAvailable(task: name, split: split) }
        let labelIndex: [String: Int] = Dictionary(
            labelTokens.enumerated().map { ($0.element, $0.offset) }, uniquingKeysWith: { first, _ in first })
        return try data.withUnsafeBytes { raw in
            try TSVParser(bytes: raw.bindMemory(to: UInt8.self), layout: file.layout, kind: kind,
                          labelIndex: labelIndex, source: source).parse()
        }
    }

    private func isDirectory(_ url: URL) -> Bool {
        var isDir: ObjCBool = false
        return FileManager.default.fileExists(atPath: url.path, isDirectory: &isDir) && isDir.boolValue
    }
}

/// Splits one file's bytes into rows and fields and builds examples.
private struct TSVParser {
    let bytes: UnsafeBufferPointer<UInt8>
    let layout: TSVLayout
    let kind: TaskKind
    let labelIndex: [String: Int]
    let source: String

    private static let newline: UInt8 = 0x0A
    private static let carriageReturn: UInt8 = 0x0D
    private static let tab: UInt8 = 0x09

    func parse() throws -> [Example] {
        var position = 0
        if bytes.count >= 3, bytes[0] == 0xEF, bytes[1] == 0xBB, bytes[2] == 0xBF { position = 3 }
        var lineNumber = 0
        var fields: [Range<Int>] = []
        fields.reserveCapacity(layout.columns.count + 1)
        var examples: [Example] = []
        while position < bytes.count {
            var end = position
            while end < bytes.count, bytes[end] != Self.newline { end += 1 }
            let next = end + 1
            if end > position, bytes[end - 1] == Self.carriageReturn { end -= 1 }
            lineNumber += 1
            splitFields(position ..< end, into: &fields)
            position = next
            if lineNumber == 1, layout.hasHeader {
                try checkHeader(fields, line: lineNumber)
                continue
            }
            guard fields.count == layout.columns.count else {
                throw GLUEError.malformedRow(file: source, line: lineNumber,
                                             expectedColumns: layout.columns.count, foundColumns: fields.count)
            }
            examples.append(try example(fields, line: lineNumber))
        }
        if examples.isEmpty { throw GLUEError.emptySplit(file: source) }
        return examples
    }

    private func splitFields(_ line: Range<Int>, into fields: inout [Range<Int>]) {
        fields.removeAll(keepingCapacity: true)
        var start = line.lowerBound
        for i in line where bytes[i] == Self.tab {
            fields.append(start ..< i)
            start = i + 1
        }
        fields.append(start ..< line.upperBound)
    }

    private func text(_ range: Range<Int>, line: Int) throws -> String {
        guard let string = String(validating: UnsafeBufferPointer(rebasing: bytes[range]), as: UTF8.self) else {
            throw GLUEError.invalidUTF8(file: source, line: line)
        }
        return string
    }

    private func checkHeader(_ fields: [Range<Int>], line: Int) throws {
        let found = try fields.map { try text($0, line: line).trimmingCharacters(in: .whitespaces) }
        guard found == layout.columns else {
            throw GLUEError.unexpectedHeader(file: source, line: line, expected: layout.columns, found: found)
        }
    }

    private func example(_ fields: [Range<Int>], line: Int) throws -> Example {
        let textA = try text(fields[layout.textAColumn], line: line)
        let textB = try layout.textBColumn.map { try text(fields[$0], line: line) }
        let raw = try text(fields[layout.labelColumn], line: line)
        let value = raw.trimmingCharacters(in: .whitespaces)
        let label: Label
        switch kind {
        case .classification(let tokens, _):
            guard let index = labelIndex[value] else {
                throw GLUEError.unknownLabel(file: source, line: line, value: raw, allowed: tokens)
            }
            label = .classIndex(index)
        case .regression(let range):
            guard let score = Float(value), score.isFinite else {
                throw GLUEError.unparsableScore(file: source, line: line, value: raw)
            }
            guard range.contains(score) else {
                throw GLUEError.scoreOutOfRange(file: source, line: line, value: score, range: range)
            }
            label = .score(score)
        }
        return Example(textA: textA, textB: textB, label: label, line: line)
    }
}
