// The one place where the server's request bodies are parsed and checked.
import Foundation
import JSONText

/// `POST /v1/classify`: `{"adapter": NAME, "inputs": ["text", ["first", "second"], …]}`.
public struct ClassifyRequest: Sendable, Equatable {
    public var adapter: String
    /// Each input: a text, or a pair (second text).
    public var inputs: [Input]

    public struct Input: Sendable, Equatable {
        public var text: String
        public var pair: String?
        public init(_ text: String, pair: String? = nil) { self.text = text; self.pair = pair }
    }

    public init(adapter: String, inputs: [Input]) { self.adapter = adapter; self.inputs = inputs }

    /// Parses and checks a body: a JSON object with exactly the keys `adapter` (a string) and
    /// `inputs` (1…`maxInputs` entries, each a non-empty string or an array of two non-empty
    /// strings).
    ///
    /// - Throws: `ServingError` 400 naming the field at fault.
    public static func parse(_ body: Data, maxInputs: Int) throws -> ClassifyRequest {
        let object = try RequestBody.object(body, keys: ["adapter", "inputs"])
        guard case let .string(adapter)? = object["adapter"] else {
            throw ServingError.badRequest("\"adapter\" must be a string naming a loaded adapter")
        }
        guard case let .array(items)? = object["inputs"] else {
            throw ServingError.badRequest("\"inputs\" must be an array of texts or [text, text] pairs")
        }
        guard !items.isEmpty else { throw ServingError.badRequest("\"inputs\" is empty; give at least one text") }
        guard items.count <= maxInputs else {
            throw ServingError.badRequest("\"inputs\" holds \(items.count) entries; at most \(maxInputs) per request")
        }
        let inputs = try items.enumerated().map { i, item -> Input in
            func text(_ v: JSONNode, _ field: String) throws -> String {
                guard case let .string(s) = v else { throw ServingError.badRequest("\(field) must be a string") }
                guard !s.isEmpty else { throw ServingError.badRequest("\(field) is an empty string") }
                return s
            }
            switch item {
            case .string: return Input(try text(item, "inputs[\(i)]"))
            case let .array(pair) where pair.count == 2:
                return Input(try text(pair[0], "inputs[\(i)][0]"), pair: try text(pair[1], "inputs[\(i)][1]"))
            case let .array(pair):
                throw ServingError.badRequest("inputs[\(i)] is an array of \(pair.count); a pair has exactly 2 texts")
            default:
                throw ServingError.badRequest("inputs[\(i)] must be a string or an array of 2 strings")
            }
        }
        return ClassifyRequest(adapter: adapter, inputs: inputs)
    }
}

/// `POST /v1/adapters`: `{"name": NAME, "path": DIRECTORY}`.
public struct LoadAdapterRequest: Sendable, Equatable {
    public var name: String
    public var path: String
    public init(name: String, path: String) { self.name = name; self.path = path }

    /// - Throws: `ServingError` 400 naming the field at fault (a bad name included).
    public static func parse(_ body: Data) throws -> LoadAdapterRequest {
        let object = try RequestBody.object(body, keys: ["name", "path"])
        guard case let .string(name)? = object["name"] else { throw ServingError.badRequest("\"name\" must be a string") }
        guard case let .string(path)? = object["path"], !path.isEmpty else {
            throw ServingError.badRequest("\"path\" must be a non-empty string: a PEFT adapter directory")
        }
        try AdapterRegistry.checkName(name)
        return LoadAdapterRequest(name: name, path: path)
    }
}

enum RequestBody {
    /// The body as a JSON object holding exactly `keys` (every one required, no other).
    static func object(_ body: Data, keys: Set<String>) throws -> [String: JSONNode] {
        guard !body.isEmpty else { throw ServingError.badRequest("the body is empty; send a JSON object") }
        let value: JSONNode
        do { value = try JSONParser.parse([UInt8](body)) } catch {
            throw ServingError.badRequest("the body is not valid JSON: line \(error.line), column \(error.column): \(error.reason)")
        }
        guard case let .object(object) = value else { throw ServingError.badRequest("the body must be a JSON object") }
        let unknown = object.keys.filter { !keys.contains($0) }.sorted()
        if !unknown.isEmpty {
            throw ServingError.badRequest("unknown field\(unknown.count > 1 ? "s" : "") \(unknown.map(ServingError.quoted).joined(separator: ", ")); "
                + "the fields are \(keys.sorted().joined(separator: ", "))")
        }
        let missing = keys.filter { object[$0] == nil }.sorted()
        if !missing.isEmpty { throw ServingError.badRequest("missing field\(missing.count > 1 ? "s" : "") \(missing.joined(separator: ", "))") }
        return object
    }
}
