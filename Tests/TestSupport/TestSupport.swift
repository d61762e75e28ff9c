import Foundation

/// Shared helpers for the test targets: where fixtures, GLUE data and models live, and
/// approximate comparison of float arrays.
public enum TestPaths {
    /// The repository root, found by walking up from this file to `Package.swift`.
    /// `$SWIFT_LORA_REPO_ROOT` overrides (for scratch packages that link these sources).
    public static let repoRoot: URL = {
        if let env = ProcessInfo.processInfo.environment["SWIFT_LORA_REPO_ROOT"], !env.isEmpty {
            return URL(fileURLWithPath: env)
        }
        // Symlinks resolved: a scratch package may link these sources from the checkout.
        var url = URL(fileURLWithPath: #filePath).resolvingSymlinksInPath().deletingLastPathComponent()
        while url.path != "/" {
            if FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path) {
                return url
            }
            url.deleteLastPathComponent()
        }
        fatalError("TestSupport: no Package.swift above \(#filePath)")
    }()

    /// `Tests/Fixtures/<relative>`.
    public static func fixture(_ relative: String) -> URL {
        repoRoot.appendingPathComponent("Tests/Fixtures").appendingPathComponent(relative)
    }

    /// The GLUE TSV directory: `$SWIFT_LORA_GLUE_DIR`, else `../shared/glue` beside the checkout.
    public static var glueDirectory: URL {
        if let env = ProcessInfo.processInfo.environment["SWIFT_LORA_GLUE_DIR"], !env.isEmpty {
            return URL(fileURLWithPath: env)
        }
        return repoRoot.deletingLastPathComponent().appendingPathComponent("shared/glue")
    }

    /// The roberta-base vocab.json/merges.txt directory: `$SWIFT_LORA_ROBERTA_TOKENIZER_DIR`,
    /// else `../shared/tokenizers/roberta-base`.
    public static var robertaTokenizerDirectory: URL {
        if let env = ProcessInfo.processInfo.environment["SWIFT_LORA_ROBERTA_TOKENIZER_DIR"], !env.isEmpty {
            return URL(fileURLWithPath: env)
        }
        return repoRoot.deletingLastPathComponent().appendingPathComponent("shared/tokenizers/roberta-base")
    }

    /// The default real model (all-MiniLM-L6-v2): `$SWIFT_LORA_MODEL_DIR`, else `models/all-MiniLM-L6-v2`.
    public static var miniLMDirectory: URL {
        if let env = ProcessInfo.processInfo.environment["SWIFT_LORA_MODEL_DIR"], !env.isEmpty {
            return URL(fileURLWithPath: env)
        }
        return repoRoot.appendingPathComponent("models/all-MiniLM-L6-v2")
    }

    /// Returns `url` if it exists; otherwise a message telling how to get the resource.
    /// Tests turn that message into a failure (never a silent skip).
    public static func require(_ url: URL, hint: String) -> Result<URL, ResourceMissing> {
        if FileManager.default.fileExists(atPath: url.path) { return .success(url) }
        return .failure(ResourceMissing(message: "missing test resource \(url.path): \(hint)"))
    }
}

/// The tiny checkpoints of `Tests/Fixtures/encoders` made usable by commands that read text.
public enum TinyModels {
    /// Special tokens at the ids the BERT-style tiny configs use.
    public static let bertSpecials = ["[PAD]": 0, "[UNK]": 1, "[CLS]": 2, "[SEP]": 3, "[MASK]": 4]

    /// A copy of `fixture` in `directory/fixture` with a WordPiece `vocab.txt` of its size (the
    /// specials at the ids its config uses, then made-up words `w5`, `w6`, …); returns the
    /// directory and the made-up words.
    public static func withVocabulary(_ fixture: String, specials: [String: Int] = bertSpecials, in directory: URL) throws -> (dir: URL, words: [String]) {
        let source = TestPaths.fixture("encoders/\(fixture)")
        let dir = directory.appendingPathComponent(fixture)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        for name in ["config.json", "model.safetensors"] {
            try FileManager.default.copyItem(at: source.appendingPathComponent(name), to: dir.appendingPathComponent(name))
        }
        let config = try JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent("config.json"))) as! [String: Any]
        let size = (config["vocab_size"] as! NSNumber).intValue
        var lines = (0..<size).map { "w\($0)" }
        for (token, id) in specials { lines[id] = token }
        try (lines.joined(separator: "\n") + "\n").write(to: dir.appendingPathComponent("vocab.txt"), atomically: true, encoding: .utf8)
        return (dir, lines.filter { $0.hasPrefix("w") })
    }
}

/// A test resource that is not on this machine.
public struct ResourceMissing: Error, CustomStringConvertible {
    /// What is missing and how to get it.
    public let message: String
    public var description: String { message }
}

/// Approximate comparison of float arrays.
public enum Approx {
    /// Largest absolute difference between two equally long arrays.
    public static func maxAbsDiff(_ a: [Float], _ b: [Float]) -> Float {
        precondition(a.count == b.count, "maxAbsDiff: counts differ (\(a.count) vs \(b.count))")
        var m: Float = 0
        for i in a.indices { m = max(m, abs(a[i] - b[i])) }
        return m
    }

    /// ‖a − b‖₂ / max(‖b‖₂, tiny): relative error in the L2 norm.
    public static func relativeL2(_ a: [Float], _ b: [Float]) -> Double {
        precondition(a.count == b.count, "relativeL2: counts differ (\(a.count) vs \(b.count))")
        var num = 0.0, den = 0.0
        for i in a.indices {
            let d = Double(a[i]) - Double(b[i])
            num += d * d
            den += Double(b[i]) * Double(b[i])
        }
        return (num.squareRoot()) / max(den.squareRoot(), 1e-30)
    }
}
