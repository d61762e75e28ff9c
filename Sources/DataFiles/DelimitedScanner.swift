// Splits CSV (RFC 4180 quoting) and TSV (no quoting) bytes into records of fields, one record at a time.
import Foundation

/// One field of a record: its bytes in the scanned buffer (inside the quotes for a quoted
/// field) and whether doubled quotes inside must be collapsed.
struct DelimitedField {
    var start: Int
    var end: Int
    var escaped: Bool
}

/// What ``DelimitedScanner/next(_:from:final:fields:)`` found.
enum ScanResult {
    /// A record: its fields are in `fields`, `next` is where the following one starts, and
    /// `newlines` the line breaks consumed (inside quotes and its end).
    case record(next: Int, newlines: Int)
    /// No more records.
    case end
    /// The buffer ends inside a record and more bytes may follow: call again with more.
    case needMore
}

/// A CSV or TSV record scanner over a byte buffer.
///
/// Records end at `\n` (a `\r` before it is dropped); blank lines are skipped. With quoting,
/// a field that starts with `"` runs to the next lone `"`, may hold separators, newlines and
/// `""` (one quote), and must be followed by the separator or the end of the line. A `"`
/// elsewhere is an ordinary character (as Python's csv module reads it).
struct DelimitedScanner {
    let separator: UInt8
    let quoting: Bool

    private static let lf: UInt8 = 0x0A, cr: UInt8 = 0x0D, quote: UInt8 = 0x22

    /// Errors with positions relative to the record's first line, for the reader to place.
    enum Failure: Error {
        case unclosedQuote(lineOffset: Int, column: Int)
        case textAfterQuote(lineOffset: Int, column: Int)
    }

    /// Skips the blank lines at `start`: the position of the next record (or of the end of
    /// `bytes`) and how many lines were skipped, or `nil` when more bytes are needed to tell.
    func skipBlankLines(_ bytes: UnsafeBufferPointer<UInt8>, from start: Int, final: Bool) -> (position: Int, lines: Int)? {
        let n = bytes.count
        var p = start
        var blank = 0
        while p < n {
            if bytes[p] == Self.lf { p += 1; blank += 1; continue }
            if bytes[p] == Self.cr, p + 1 < n, bytes[p + 1] == Self.lf { p += 2; blank += 1; continue }
            if bytes[p] == Self.cr, p + 1 == n, !final { return nil }
            break
        }
        if p == n, !final { return nil }
        return (p, blank)
    }

    /// Scans the record that starts at `start` (a non-blank line, see ``skipBlankLines``).
    /// - Parameter final: whether `bytes` runs to the end of the file.
    func next(_ bytes: UnsafeBufferPointer<UInt8>, from start: Int, final: Bool,
              fields: inout [DelimitedField]) throws(Failure) -> ScanResult {
        let n = bytes.count
        var p = start
        guard p < n else { return final ? .end : .needMore }
        fields.removeAll(keepingCapacity: true)
        var newlines = 0
        while true {
            if quoting, p < n, bytes[p] == Self.quote {
                let fieldLine = newlines
                var q = p + 1
                var escaped = false
                while true {
                    guard q < n else {
                        if !final { return .needMore }
                        throw .unclosedQuote(lineOffset: fieldLine, column: fields.count + 1)
                    }
                    let b = bytes[q]
                    if b == Self.quote {
                        if q + 1 < n {
                            if bytes[q + 1] == Self.quote { escaped = true; q += 2; continue }
                        } else if !final {
                            return .needMore
                        }
                        break
                    }
                    if b == Self.lf { newlines += 1 }
                    q += 1
                }
                fields.append(DelimitedField(start: p + 1, end: q, escaped: escaped))
                p = q + 1
                if p >= n {
                    if !final { return .needMore }
                    return .record(next: n, newlines: newlines)
                }
                let b = bytes[p]
                if b == separator { p += 1; continue }
                if b == Self.lf { return .record(next: p + 1, newlines: newlines + 1) }
                if b == Self.cr {
                    if p + 1 < n, bytes[p + 1] == Self.lf { return .record(next: p + 2, newlines: newlines + 1) }
                    if p + 1 == n, !final { return .needMore }
                }
                throw .textAfterQuote(lineOffset: newlines, column: fields.count)
            }
            var q = p
            while q < n, bytes[q] != separator, bytes[q] != Self.lf { q += 1 }
            if q < n, bytes[q] == separator {
                fields.append(DelimitedField(start: p, end: q, escaped: false))
                p = q + 1
                continue
            }
            if q == n, !final { return .needMore }
            var end = q
            if end > p, bytes[end - 1] == Self.cr { end -= 1 }
            fields.append(DelimitedField(start: p, end: end, escaped: false))
            return q < n ? .record(next: q + 1, newlines: newlines + 1)
                         : .record(next: n, newlines: newlines)
        }
    }

    /// The field's bytes as a String, doubled quotes collapsed; on bad UTF-8 the offset (in
    /// `bytes`) of the first bad byte.
    func text(_ bytes: UnsafeBufferPointer<UInt8>, _ field: DelimitedField) -> Result<String, UTF8Check.Offset> {
        guard field.escaped else { return UTF8Check.decode(bytes, field.start ..< field.end) }
        if let bad = UTF8Check.firstInvalid(bytes, field.start ..< field.end) { return .failure(UTF8Check.Offset(value: bad)) }
        var out: [UInt8] = []
        out.reserveCapacity(field.end - field.start)
        var i = field.start
        while i < field.end {
            out.append(bytes[i])
            i += (bytes[i] == Self.quote && i + 1 < field.end && bytes[i + 1] == Self.quote) ? 2 : 1
        }
        return .success(String(decoding: out, as: UTF8.self))
    }
}
