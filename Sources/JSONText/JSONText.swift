// A JSON reader with positions: values, syntax errors with line and column, objects with their
// members in file order. Used by the tokenizer loaders and the JSON Lines data reader.

/// A parsed JSON value.
///
/// A small parser of our own rather than `JSONSerialization`: it reports the line and column
/// of a syntax error (the loaders promise that for every malformed file), keeps integers
/// exact, keeps an object's member order when asked (``JSONParser/parseObjectEntries(_:)``),
/// and reads the 2 MB of a byte-level BPE `tokenizer.json` quickly.
public indirect enum JSONNode: Equatable, Sendable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONNode])
    case object([String: JSONNode])

    public subscript(key: String) -> JSONNode? {
        if case .object(let o) = self { return o[key] }
        return nil
    }

    public var string: String? { if case .string(let s) = self { return s }; return nil }
    public var bool: Bool? { if case .bool(let b) = self { return b }; return nil }
    public var array: [JSONNode]? { if case .array(let a) = self { return a }; return nil }
    public var object: [String: JSONNode]? { if case .object(let o) = self { return o }; return nil }
    public var isNull: Bool { self == .null }

    /// The value as an integer when it is a number with no fractional part.
    public var int: Int? {
        if case .number(let d) = self, d.rounded() == d, abs(d) < 9.0e15 { return Int(d) }
        return nil
    }
}

/// A JSON syntax error at a 1-based line and column.
public struct JSONSyntaxError: Error, Sendable {
    /// 1-based line of the error.
    public var line: Int
    /// 1-based column (in bytes) of the error.
    public var column: Int
    /// What was wrong.
    public var reason: String
}

/// Recursive-descent JSON parser over UTF-8 bytes (RFC 8259; no extensions).
public struct JSONParser {
    private let bytes: [UInt8]
    private var pos = 0
    private var depth = 0
    /// The key path of the value being parsed, when `decimalNumberPaths` records them.
    private var path: [String]? = nil
    private var decimals: Set<[String]> = []

    /// Parses a whole document.
    public static func parse(_ bytes: [UInt8]) throws(JSONSyntaxError) -> JSONNode {
        var p = JSONParser(bytes: bytes)
        // A UTF-8 byte order mark is tolerated, as most JSON readers do.
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { p.pos = 3 }
        p.skipWhitespace()
        let v = try p.value()
        p.skipWhitespace()
        if p.pos != bytes.count { throw p.error("unexpected text after the JSON value") }
        return v
    }

    /// Parses a document that must be one object, returning its members in file order with
    /// the byte offset of each value (so that a caller can report the line of a bad value).
    public static func parseObjectEntries(_ bytes: [UInt8]) throws(JSONSyntaxError) -> [(key: String, value: JSONNode, offset: Int)] {
        var p = JSONParser(bytes: bytes)
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { p.pos = 3 }
        p.skipWhitespace()
        guard p.pos < bytes.count, bytes[p.pos] == UInt8(ascii: "{") else { throw p.error("expected a JSON object") }
        p.pos += 1
        var entries: [(key: String, value: JSONNode, offset: Int)] = []
        p.skipWhitespace()
        if p.pos < bytes.count, bytes[p.pos] == UInt8(ascii: "}") {
            p.pos += 1
        } else {
            while true {
                p.skipWhitespace()
                guard p.pos < bytes.count, bytes[p.pos] == UInt8(ascii: "\"") else { throw p.error("expected a string key") }
                let key = try p.string()
                p.skipWhitespace()
                guard p.pos < bytes.count, bytes[p.pos] == UInt8(ascii: ":") else { throw p.error("expected ':'") }
                p.pos += 1
                p.skipWhitespace()
                let offset = p.pos
                entries.append((key, try p.value(), offset))
                p.skipWhitespace()
                guard p.pos < bytes.count else { throw p.error("unexpected end of file in an object") }
                if bytes[p.pos] == UInt8(ascii: ",") { p.pos += 1; continue }
                if bytes[p.pos] == UInt8(ascii: "}") { p.pos += 1; break }
                throw p.error("expected ',' or '}'")
            }
        }
        p.skipWhitespace()
        if p.pos != bytes.count { throw p.error("unexpected text after the JSON value") }
        return entries
    }

    /// The key paths (object keys and array indices) of the numbers a document writes with a
    /// fraction or an exponent (`2.0`, `1e-5`), so that a rewritten file can keep `2.0` a float
    /// for readers that check types (transformers 5's strict configs).
    public static func decimalNumberPaths(_ bytes: [UInt8]) throws(JSONSyntaxError) -> Set<[String]> {
        var p = JSONParser(bytes: bytes)
        p.path = []
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { p.pos = 3 }
        p.skipWhitespace()
        _ = try p.value()
        return p.decimals
    }

    private init(bytes: [UInt8]) { self.bytes = bytes }

    private func error(_ reason: String, at offset: Int? = nil) -> JSONSyntaxError {
        let (line, column) = lineAndColumn(of: bytes, offset: offset ?? pos)
        return JSONSyntaxError(line: line, column: column, reason: reason)
    }

    private mutating func skipWhitespace() {
        while pos < bytes.count {
            switch bytes[pos] {
            case 0x20, 0x09, 0x0A, 0x0D: pos += 1
            default: return
            }
        }
    }

    private mutating func value() throws(JSONSyntaxError) -> JSONNode {
        guard pos < bytes.count else { throw error("unexpected end of file") }
        switch bytes[pos] {
        case UInt8(ascii: "{"): return try object()
        case UInt8(ascii: "["): return try array()
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "t"): try literal("true"); return .bool(true)
        case UInt8(ascii: "f"): try literal("false"); return .bool(false)
        case UInt8(ascii: "n"): try literal("null"); return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try number()
        default: throw error("unexpected character")
        }
    }

    private mutating func literal(_ word: StaticString) throws(JSONSyntaxError) {
        let n = word.utf8CodeUnitCount
        let w = UnsafeBufferPointer(start: word.utf8Start, count: n)
        guard pos + n <= bytes.count, bytes[pos..<(pos + n)].elementsEqual(w) else {
            throw error("invalid literal")
        }
        pos += n
    }

    private mutating func enter() throws(JSONSyntaxError) {
        depth += 1
        if depth > 512 { throw error("nesting deeper than 512 levels") }
    }

    private mutating func object() throws(JSONSyntaxError) -> JSONNode {
        try enter()
        defer { depth -= 1 }
        pos += 1
        var result: [String: JSONNode] = [:]
        skipWhitespace()
        if pos < bytes.count, bytes[pos] == UInt8(ascii: "}") { pos += 1; return .object(result) }
        while true {
            skipWhitespace()
            guard pos < bytes.count, bytes[pos] == UInt8(ascii: "\"") else { throw error("expected a string key") }
            let key = try string()
            skipWhitespace()
            guard pos < bytes.count, bytes[pos] == UInt8(ascii: ":") else { throw error("expected ':'") }
            pos += 1
            skipWhitespace()
            path?.append(key)
            result[key] = try value()
            path?.removeLast()
            skipWhitespace()
            guard pos < bytes.count else { throw error("unexpected end of file in an object") }
            if bytes[pos] == UInt8(ascii: ",") { pos += 1; continue }
            if bytes[pos] == UInt8(ascii: "}") { pos += 1; return .object(result) }
            throw error("expected ',' or '}'")
        }
    }

    private mutating func array() throws(JSONSyntaxError) -> JSONNode {
        try enter()
        defer { depth -= 1 }
        pos += 1
        var result: [JSONNode] = []
        skipWhitespace()
        if pos < bytes.count, bytes[pos] == UInt8(ascii: "]") { pos += 1; return .array(result) }
        while true {
            skipWhitespace()
            path?.append(String(result.count))
            result.append(try value())
            path?.removeLast()
            skipWhitespace()
            guard pos < bytes.count else { throw error("unexpected end of file in an array") }
            if bytes[pos] == UInt8(ascii: ",") { pos += 1; continue }
            if bytes[pos] == UInt8(ascii: "]") { pos += 1; return .array(result) }
            throw error("expected ',' or ']'")
        }
    }

    private mutating func number() throws(JSONSyntaxError) -> JSONNode {
        let start = pos
        var decimal = false
        defer { if decimal, let path { decimals.insert(path) } }
        if bytes[pos] == UInt8(ascii: "-") { pos += 1 }
        func digits(_ p: inout Int, _ b: [UInt8]) -> Int {
            let s = p
            while p < b.count, b[p] >= 0x30, b[p] <= 0x39 { p += 1 }
            return p - s
        }
        guard digits(&pos, bytes) > 0 else { throw error("invalid number", at: start) }
        if pos < bytes.count, bytes[pos] == UInt8(ascii: ".") {
            decimal = true
            pos += 1
            guard digits(&pos, bytes) > 0 else { throw error("invalid number", at: start) }
        }
        if pos < bytes.count, bytes[pos] == UInt8(ascii: "e") || bytes[pos] == UInt8(ascii: "E") {
            decimal = true
            pos += 1
            if pos < bytes.count, bytes[pos] == UInt8(ascii: "+") || bytes[pos] == UInt8(ascii: "-") { pos += 1 }
            guard digits(&pos, bytes) > 0 else { throw error("invalid number", at: start) }
        }
        let text = String(decoding: bytes[start..<pos], as: UTF8.self)
        guard let d = Double(text) else { throw error("invalid number", at: start) }
        return .number(d)
    }

    private mutating func hex4() throws(JSONSyntaxError) -> UInt32 {
        guard pos + 4 <= bytes.count else { throw error("truncated \\u escape") }
        var v: UInt32 = 0
        for _ in 0..<4 {
            let c = bytes[pos]
            let d: UInt32
            switch c {
            case 0x30...0x39: d = UInt32(c - 0x30)
            case 0x41...0x46: d = UInt32(c - 0x41 + 10)
            case 0x61...0x66: d = UInt32(c - 0x61 + 10)
            default: throw error("invalid \\u escape")
            }
            v = v << 4 | d
            pos += 1
        }
        return v
    }

    private mutating func string() throws(JSONSyntaxError) -> String {
        let open = pos
        pos += 1
        // Fast path: no escapes.
        var scan = pos
        while scan < bytes.count, bytes[scan] != UInt8(ascii: "\""), bytes[scan] != UInt8(ascii: "\\"), bytes[scan] >= 0x20 {
            scan += 1
        }
        if scan < bytes.count, bytes[scan] == UInt8(ascii: "\"") {
            let slice = bytes[pos..<scan]
            guard let s = String(validating: slice, as: UTF8.self) else { throw error("invalid UTF-8 in a string", at: open) }
            pos = scan + 1
            return s
        }
        var out: [UInt8] = Array(bytes[pos..<scan])
        pos = scan
        while true {
            guard pos < bytes.count else { throw error("unterminated string", at: open) }
            let c = bytes[pos]
            if c == UInt8(ascii: "\"") { pos += 1; break }
            if c < 0x20 { throw error("control character in a string") }
            if c != UInt8(ascii: "\\") { out.append(c); pos += 1; continue }
            pos += 1
            guard pos < bytes.count else { throw error("unterminated string", at: open) }
            let e = bytes[pos]
            pos += 1
            switch e {
            case UInt8(ascii: "\""): out.append(0x22)
            case UInt8(ascii: "\\"): out.append(0x5C)
            case UInt8(ascii: "/"): out.append(0x2F)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "u"):
                var v = try hex4()
                if v >= 0xD800, v < 0xDC00 {
                    // A high surrogate must be followed by an escaped low surrogate.
                    guard pos + 1 < bytes.count, bytes[pos] == UInt8(ascii: "\\"), bytes[pos + 1] == UInt8(ascii: "u") else {
                        throw error("unpaired surrogate in \\u escape")
                    }
                    pos += 2
                    let low = try hex4()
                    guard low >= 0xDC00, low < 0xE000 else { throw error("unpaired surrogate in \\u escape") }
                    v = 0x10000 + ((v - 0xD800) << 10) + (low - 0xDC00)
                } else if v >= 0xDC00, v < 0xE000 {
                    throw error("unpaired surrogate in \\u escape")
                }
                guard let scalar = Unicode.Scalar(v) else { throw error("invalid \\u escape") }
                UTF8.encode(scalar) { out.append($0) }
            default:
                throw error("invalid escape")
            }
        }
        guard let s = String(validating: out, as: UTF8.self) else { throw error("invalid UTF-8 in a string", at: open) }
        return s
    }
}

/// 1-based line and column (in bytes) of `offset` in `bytes`.
public func lineAndColumn(of bytes: [UInt8], offset: Int) -> (line: Int, column: Int) {
    var line = 1, lineStart = 0
    let end = min(offset, bytes.count)
    var i = 0
    while i < end {
        if bytes[i] == 0x0A { line += 1; lineStart = i + 1 }
        i += 1
    }
    return (line, end - lineStart + 1)
}

/// 1-based line of the first occurrence of `"key"` in `bytes`, or 1.
public func lineOfKey(_ key: String, in bytes: [UInt8]) -> Int {
    let needle = Array("\"\(key)\"".utf8)
    guard needle.count <= bytes.count else { return 1 }
    var line = 1
    for i in 0...(bytes.count - needle.count) {
        if bytes[i] == 0x0A { line += 1 }
        if bytes[i] == needle[0], bytes[i..<(i + needle.count)].elementsEqual(needle) { return line }
    }
    return 1
}
