// Answers classify requests: tokenize as `lora predict` does, queue, and write the JSON answer.
import Foundation
import Encoders
import Tokenizers

/// What the HTTP routes call: the registry (model, tokenizer, adapters) and the scheduler.
public final class ClassifyService: Sendable {
    public let registry: AdapterRegistry
    public let scheduler: BatchScheduler
    /// The most inputs one request may carry.
    public let maxInputsPerRequest: Int

    public init(registry: AdapterRegistry, scheduler: BatchScheduler, maxInputsPerRequest: Int = 256) {
        self.registry = registry
        self.scheduler = scheduler
        self.maxInputsPerRequest = maxInputsPerRequest
    }

    /// One input's encoding, truncated to the server's maximum length as `lora predict`
    /// truncates it, and whether it was.
    public func encode(_ input: ClassifyRequest.Input) -> (encoding: Encoding, truncated: Bool) {
        let tok = registry.tokenizer, limit = registry.maxLength
        let whole = tok.encode(input.text, pair: input.pair, maxLength: nil)
        if whole.count <= limit { return (whole, false) }
        return (tok.encode(input.text, pair: input.pair, maxLength: limit), true)
    }

    /// The JSON answer to a `POST /v1/classify` body.
    ///
    /// - Throws: `ServingError` (400 bad body, 404 unknown adapter, 503 queue full, 500 a
    ///   non-finite logit).
    public func classify(body: Data) async throws -> Data {
        let request = try ClassifyRequest.parse(body, maxInputs: maxInputsPerRequest)
        let entry = try registry.require(request.adapter)
        let encoded = request.inputs.map(encode)
        let logits = try await scheduler.logits(entry.adapter, encoded.map(\.encoding))
        return try Self.answer(adapter: entry, logits: logits, encoded: encoded)
    }

    /// `{"adapter": …, "results": [{"label", "label_id", "probabilities", "logits", "tokens", "truncated"} | {"score", …}]}`.
    static func answer(adapter entry: AdapterRegistry.Entry, logits: [[Float]], encoded: [(encoding: Encoding, truncated: Bool)]) throws -> Data {
        let adapter = entry.adapter
        var out = "{\"adapter\":\(JSONValue.quoted(entry.name)),\"results\":["
        for (i, row) in logits.enumerated() {
            if let bad = row.first(where: { !$0.isFinite }) {
                throw ServingError(status: 500, "input \(i): the model gave a non-finite logit (\(bad)); adapter \(entry.name)'s weights are broken")
            }
            if i > 0 { out += "," }
            let tail = ",\"logits\":\(list(row)),\"tokens\":\(encoded[i].encoding.count),\"truncated\":\(encoded[i].truncated)}"
            if adapter.isRegression {
                out += "{\"score\":\(row[0])" + tail
            } else {
                let best = row.indices.max { row[$0] < row[$1] } ?? 0
                let name = adapter.labelNames?[best] ?? String(best)
                out += "{\"label\":\(JSONValue.quoted(name)),\"label_id\":\(best),\"probabilities\":\(list(softmax(row)))" + tail
            }
        }
        out += "]}"
        return Data(out.utf8)
    }

    /// A numerically stable softmax.
    static func softmax(_ row: [Float]) -> [Float] {
        let top = row.max() ?? 0
        let e = row.map { expf($0 - top) }
        let sum = e.reduce(0, +)
        return e.map { $0 / sum }
    }

    /// `[a,b,…]` with each Float written in its shortest exact form.
    static func list(_ values: [Float]) -> String { "[" + values.map { "\($0)" }.joined(separator: ",") + "]" }

    /// `GET /v1/adapters`.
    public func adaptersJSON() -> Data {
        Data(("{\"adapters\":[" + registry.all.map(Self.describe).joined(separator: ",") + "]}").utf8)
    }

    /// One adapter as `GET /v1/adapters` lists it.
    public static func describe(_ e: AdapterRegistry.Entry) -> String {
        let a = e.adapter
        let labels = a.labelNames.map { "[" + $0.map(JSONValue.quoted).joined(separator: ",") + "]" } ?? "null"
        return "{\"name\":\(JSONValue.quoted(e.name)),\"path\":\(JSONValue.quoted(e.path)),"
            + "\"task\":\"\(a.isRegression ? "regression" : "classification")\",\"labels\":\(labels),\"outputs\":\(a.labelCount),"
            + "\"rank\":\(a.lora.rank),\"alpha\":\(a.lora.alpha),\"targets\":[\(a.lora.targets.map { JSONValue.quoted($0.rawValue) }.joined(separator: ","))],"
            + "\"parameters\":\(a.floatCount),\"bytes\":\(e.fileBytes)}"
    }

    /// `GET /health`.
    public func healthJSON() -> Data {
        Data("{\"status\":\"ok\",\"model\":\(JSONValue.quoted(registry.modelPath)),\"adapters\":\(registry.all.count),\"queue_depth\":\(scheduler.queueDepth)}".utf8)
    }
}
