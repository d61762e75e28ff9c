// The base model, its tokenizer, and the adapters loaded over it by name.
import Foundation
import Encoders
import Tokenizers

/// One base model in memory and the adapters served over it, loaded and unloaded at run time.
/// Thread-safe: requests read it while adapters come and go (a request that took an adapter
/// keeps it alive until its answer, even if it is unloaded meanwhile).
public final class AdapterRegistry: @unchecked Sendable {
    /// A loaded adapter.
    public struct Entry: Sendable {
        public let name: String
        /// The directory it was loaded from, as given.
        public let path: String
        public let adapter: DetachedAdapter
        /// Size of `adapter_model.safetensors` in bytes.
        public let fileBytes: Int
    }

    /// The shared base model, in the inference layout (no adapter of its own).
    public let model: EncoderModel
    public let tokenizer: any TextTokenizer
    /// The base model's directory, as given.
    public let modelPath: String
    /// Inputs longer than this many tokens are truncated, as `lora predict` truncates them.
    public let maxLength: Int
    private let lock = NSLock()
    private var entries: [String: Entry] = [:]

    /// Loads the base model and tokenizer in `modelPath`; with `int8` (or for a model written
    /// by `lora quantize`) the encoder's Linears run in int8, the adapters' updates in fp32.
    public init(modelPath: String, maxLength: Int? = nil, int8: Bool = false) throws {
        let model = try EncoderModel.load(directory: URL(fileURLWithPath: modelPath))
        let length = maxLength ?? min(512, model.config.maxInputLength)
        try model.config.validateMaxLength(length)
        if int8 || model.isQuantized { model.quantizeLinears() } else { model.useInferenceLayout() }
        self.model = model
        self.tokenizer = try loadTokenizer(directory: URL(fileURLWithPath: modelPath))
        self.modelPath = modelPath
        self.maxLength = length
    }

    /// Names: 1–64 characters of letters, digits, `.`, `_` and `-` (they appear in URLs).
    public static func checkName(_ name: String) throws {
        let allowed = name.utf8.allSatisfy { c in
            (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || c == 0x2E || c == 0x5F || c == 0x2D
        }
        guard (1...64).contains(name.utf8.count), allowed else {
            throw ServingError.badRequest("adapter name \(ServingError.quoted(name)) must be 1-64 letters, digits, '.', '_' or '-'")
        }
    }

    /// Reads, checks and registers the adapter in `path` as `name`.
    ///
    /// - Throws: `ServingError` 400 for a bad name, 409 when the name is taken, 422 when the
    ///   directory is missing, corrupt, for another architecture, or has no trained head.
    @discardableResult
    public func load(name: String, path: String) throws -> Entry {
        try Self.checkName(name)
        if entry(name) != nil { throw ServingError(status: 409, "an adapter named \(ServingError.quoted(name)) is already loaded; unload it first") }
        let directory = URL(fileURLWithPath: path)
        let adapter: DetachedAdapter
        do {
            let weights = try PEFTAdapter.read(directory, for: model)
            adapter = try DetachedAdapter(weights, for: model, source: path)
            // A head Linear the adapter does not carry comes from the base, which must have had it.
            let missing = model.newlyInitialised.filter { weights.head[$0] == nil }
            if !missing.isEmpty {
                throw EncoderError.invalidInput("\(path): the adapter relies on the base model's \(missing.joined(separator: ", ")), which \(modelPath) does not have")
            }
        } catch let error as ServingError {
            throw error
        } catch {
            throw ServingError.unloadable("cannot load adapter \(ServingError.quoted(name)) from \(path): \(error)")
        }
        let bytes = (try? FileManager.default.attributesOfItem(atPath: directory.appendingPathComponent("adapter_model.safetensors").path)[.size] as? Int) ?? 0
        let entry = Entry(name: name, path: path, adapter: adapter, fileBytes: bytes ?? 0)
        try lock.withLock {
            guard entries[name] == nil else { throw ServingError(status: 409, "an adapter named \(ServingError.quoted(name)) is already loaded") }
            entries[name] = entry
        }
        return entry
    }

    /// Removes `name`; false when it was not loaded.
    public func unload(_ name: String) -> Bool {
        lock.withLock { entries.removeValue(forKey: name) != nil }
    }

    public func entry(_ name: String) -> Entry? { lock.withLock { entries[name] } }

    /// Every loaded adapter, by name.
    public var all: [Entry] { lock.withLock { entries.values.sorted { $0.name < $1.name } } }

    /// The adapter `name`, or a 404 `ServingError` listing the loaded ones.
    public func require(_ name: String) throws -> Entry {
        if let e = entry(name) { return e }
        throw ServingError.unknownAdapter(name, known: all.map(\.name))
    }
}
