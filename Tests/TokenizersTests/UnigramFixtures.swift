import Foundation
import TestSupport
import Tokenizers
import XCTest

/// The SentencePiece Unigram fixtures of scripts/reference/make_unigram_fixtures.py: the three
/// committed `tokenizer.json` files and the variants the edge-case file describes as edits of them.
enum UnigramFixtures {
    /// Reference name → fixture folder.
    static let files = ["tiny_xlmr": "tiny-xlmr", "tiny_camembert": "tiny-camembert", "tiny_spm": "tiny-spm"]

    static var edgeCasesURL: URL { TestPaths.fixture("tokenizers/unigram_edge_cases.json") }

    /// The folder of a committed fixture, or nil after recording a failure.
    static func fileDirectory(_ reference: String, file: StaticString = #filePath, line: UInt = #line) -> URL? {
        guard let folder = files[reference] else {
            XCTFail("no Unigram fixture \(reference)", file: file, line: line)
            return nil
        }
        return requireResource(TestPaths.fixture("tokenizers/\(folder)/tokenizer.json"), hint: Hint.unigramFixtures,
                               file: file, line: line)?.deletingLastPathComponent()
    }

    /// The edge cases, or nil after recording a failure.
    static func cases(file: StaticString = #filePath, line: UInt = #line) throws -> [EdgeCaseFile.Case]? {
        guard let url = requireResource(edgeCasesURL, hint: Hint.unigramFixtures, file: file, line: line) else { return nil }
        return try JSONDecoder().decode(EdgeCaseFile.self, from: Data(contentsOf: url)).cases
    }

    /// A temporary directory with the `tokenizer.json` of a variant: its base file with each dotted
    /// path set to its value, where the string "@base.<path>" stands for that part of the base
    /// (the same edits as the script's `apply`).
    static func variantDirectory(_ name: String, file: StaticString = #filePath, line: UInt = #line) throws -> URL? {
        guard let url = requireResource(edgeCasesURL, hint: Hint.unigramFixtures, file: file, line: line) else { return nil }
        let header = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any]
        let variant = try XCTUnwrap((header?["variants"] as? [String: Any])?[name] as? [String: Any],
                                    "variant \(name) in the fixture", file: file, line: line)
        let baseFolder = try XCTUnwrap(variant["base"] as? String, file: file, line: line)
        let edits = try XCTUnwrap(variant["set"] as? [String: Any], file: file, line: line)
        guard let baseURL = requireResource(TestPaths.fixture("tokenizers/\(baseFolder)/tokenizer.json"),
                                            hint: Hint.unigramFixtures, file: file, line: line) else { return nil }
        let base = try JSONSerialization.jsonObject(with: Data(contentsOf: baseURL))
        var json = base
        for (path, value) in edits {
            json = try setting(json, path: path.split(separator: ".").map(String.init), to: resolve(value, base: base))
        }
        let dir = try directory(with: [:])
        try JSONSerialization.data(withJSONObject: json).write(to: dir.appendingPathComponent("tokenizer.json"))
        return dir
    }

    /// A temporary directory with a synthetic `tokenizer.json` of the fixture (under "synthetic").
    static func syntheticDirectory(_ name: String, file: StaticString = #filePath, line: UInt = #line) throws -> URL? {
        guard let url = requireResource(edgeCasesURL, hint: Hint.unigramFixtures, file: file, line: line) else { return nil }
        let header = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any]
        let json = try XCTUnwrap((header?["synthetic"] as? [String: Any])?[name], "synthetic \(name) in the fixture",
                                 file: file, line: line)
        let dir = try directory(with: [:])
        try JSONSerialization.data(withJSONObject: json).write(to: dir.appendingPathComponent("tokenizer.json"))
        return dir
    }

    private struct BadPath: Error, CustomStringConvertible {
        var description: String
    }

    private static func get(_ value: Any, path: [String]) throws -> Any {
        var node = value
        for key in path {
            if let list = node as? [Any], let i = Int(key), i < list.count {
                node = list[i]
            } else if let object = node as? [String: Any], let next = object[key] {
                node = next
            } else {
                throw BadPath(description: "no \(key) in the base file")
            }
        }
        return node
    }

    private static func resolve(_ value: Any, base: Any) throws -> Any {
        if let s = value as? String, s.hasPrefix("@base.") {
            return try get(base, path: s.dropFirst("@base.".count).split(separator: ".").map(String.init))
        }
        if let list = value as? [Any] { return try list.map { try resolve($0, base: base) } }
        if let object = value as? [String: Any] { return try object.mapValues { try resolve($0, base: base) } }
        return value
    }

    private static func setting(_ node: Any, path: [String], to value: Any) throws -> Any {
        guard let key = path.first else { return value }
        let rest = Array(path.dropFirst())
        if var list = node as? [Any], let i = Int(key), i < list.count {
            list[i] = try setting(list[i], path: rest, to: value)
            return list
        }
        guard var object = node as? [String: Any] else { throw BadPath(description: "cannot set \(key)") }
        object[key] = rest.isEmpty ? value : try setting(object[key] ?? [String: Any](), path: rest, to: value)
        return object
    }
}
