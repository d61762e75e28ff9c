import Foundation

/// A JSON value, for round-tripping configuration files without losing unknown keys.
public enum JSONValue: Sendable, Equatable, Codable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { self = .null }
        else if let b = try? c.decode(Bool.self) { self = .bool(b) }
        else if let n = try? c.decode(Double.self) { self = .number(n) }
        else if let s = try? c.decode(String.self) { self = .string(s) }
        else if let a = try? c.decode([JSONValue].self) { self = .array(a) }
        else { self = .object(try c.decode([String: JSONValue].self)) }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .null: try c.encodeNil()
        case let .bool(b): try c.encode(b)
        case let .number(n):
            if !n.isFinite { try c.encodeNil() } else if n == n.rounded(), abs(n) < 1e15 { try c.encode(Int(n)) } else { try c.encode(n) }
        case let .string(s): try c.encode(s)
        case let .array(a): try c.encode(a)
        case let .object(o): try c.encode(o)
        }
    }

    /// Decodes the whole current value of `decoder` as a JSON object.
    static func object(from decoder: Decoder) throws -> [String: JSONValue] {
        if case let .object(o) = try JSONValue(from: decoder) { return o }
        return [:]
    }

    /// Pretty-printed (two-space indent), key-sorted JSON bytes of an object in which the
    /// whole numbers at `decimalPaths` are written as floats (`2.0`) and other whole numbers as
    /// integers; non-finite numbers are written as null.
    public static func encodeObject(_ object: [String: JSONValue], decimalPaths: Set<[String]>) -> Data {
        var out = ""
        var path: [String] = []
        func write(_ v: JSONValue, indent: String) {
            switch v {
            case .null: out += "null"
            case let .bool(b): out += b ? "true" : "false"
            case let .number(n):
                if !n.isFinite { out += "null" } else if n == n.rounded(), abs(n) < 1e15 {
                    out += decimalPaths.contains(path) ? "\(Int(n)).0" : "\(Int(n))"
                } else { out += "\(n)" }
            case let .string(s): out += Self.quoted(s)
            case let .array(a):
                if a.isEmpty { out += "[]"; return }
                out += "[\n"
                for (i, item) in a.enumerated() {
                    path.append(String(i))
                    out += indent + "  "
                    write(item, indent: indent + "  ")
                    path.removeLast()
                    out += i + 1 < a.count ? ",\n" : "\n"
                }
                out += indent + "]"
            case let .object(o):
                if o.isEmpty { out += "{}"; return }
                out += "{\n"
                let keys = o.keys.sorted()
                for (i, key) in keys.enumerated() {
                    path.append(key)
                    out += indent + "  " + Self.quoted(key) + ": "
                    write(o[key]!, indent: indent + "  ")
                    path.removeLast()
                    out += i + 1 < keys.count ? ",\n" : "\n"
                }
                out += indent + "}"
            }
        }
        write(.object(object), indent: "")
        return Data((out + "\n").utf8)
    }

    /// Pretty-printed, key-sorted JSON bytes of an object (whole numbers as integers).
    public static func encodeObject(_ object: [String: JSONValue]) throws -> Data {
        encodeObject(object, decimalPaths: [])
    }

    /// The value as compact JSON text (for error messages: `refused setting = <text>`).
    public var jsonText: String { String(decoding: (try? JSONEncoder().encode(self)) ?? Data(), as: UTF8.self) }

    /// A JSON string literal: quotes, backslashes and control characters escaped.
    public static func quoted(_ s: String) -> String {
        var r = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": r += "\\\""
            case "\\": r += "\\\\"
            case "\n": r += "\\n"
            case "\r": r += "\\r"
            case "\t": r += "\\t"
            default:
                if u.value < 0x20 { r += String(format: "\\u%04x", u.value) } else { r.unicodeScalars.append(u) }
            }
        }
        return r + "\""
    }
}
