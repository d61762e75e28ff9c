// `lora serve`: many LoRA adapters over one base model, over HTTP, batched across adapters.
import ArgumentParser
import Foundation
import Encoders
import InputValidation
import Serving
import Server
import Tensors

/// `lora serve --model DIR --adapter NAME=DIR ...`.
struct ServeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve PEFT LoRA adapters over one base model over HTTP (JSON API; see /openapi.json).",
        discussion: """
        POST /v1/classify {"adapter": NAME, "inputs": ["text", ["first", "second"]]} answers one result per input. \
        Concurrent requests are gathered into batches (--batch-window-ms, --max-batch-tokens) that mix adapters: \
        the base model's GEMMs run once over the batch, each adapter's low-rank update and head on its own rows. \
        GET/POST /v1/adapters and DELETE /v1/adapters/NAME list, load and unload adapters at run time; \
        GET /health, GET /metrics (Prometheus), GET /openapi.json. SIGTERM stops accepting connections, \
        answers the requests in flight, and exits 0.
        """
    )

    @Option(help: "The base model: a Hugging Face model directory (its tokenizer files are used).")
    var model: String

    @Option(name: .customLong("adapter"), help: "NAME=DIR: a PEFT LoRA adapter (with its trained head) to serve as NAME; repeatable.")
    var adapters: [String] = []

    @Option(help: "Address to listen on.")
    var host = "127.0.0.1"

    @Option(help: "Port to listen on (0: a free one, printed on the first line of output).")
    var port = 8080

    @Option(name: .customLong("max-length"), help: "Truncate inputs to this many tokens, as lora predict does (default: 512, or less when the model's positions cover less); answers say truncated: true.")
    var maxLength: Int?

    @Option(help: "Milliseconds the batcher waits after the first queued input for others.")
    var batchWindowMs: Double = 2

    @Option(help: "The most tokens in one batch.")
    var maxBatchTokens = 8192

    @Option(help: "The most inputs waiting; requests beyond it get 503 with Retry-After.")
    var maxQueuedInputs = 4096

    @Option(help: "The most inputs in one request.")
    var maxInputsPerRequest = 256

    @Option(help: "Batch workers, each running batches on one thread over the shared weights (default: one per core). With 1, the worker uses every core for its GEMMs.")
    var workers: Int?

    @Flag(help: "Run the base model's encoder Linears in int8 (as lora predict --int8); each adapter's low-rank update and head stay fp32. A model written by lora quantize is int8 without it.")
    var int8 = false

    @Option(help: "Request bodies over this many bytes get 413.")
    var maxBodyBytes = 1 << 20

    func validate() throws {
        let rules = ValueRules(source: nil)
        try CLI.usage {
            try rules.within(port, 0...65_535, key: "--port")
            try rules.within(maxBatchTokens, 1...1 << 20, key: "--max-batch-tokens")
            try rules.within(maxQueuedInputs, 1...1 << 24, key: "--max-queued-inputs")
            try rules.within(maxInputsPerRequest, 1...65_536, key: "--max-inputs-per-request")
            try rules.within(maxBodyBytes, 64...1 << 30, key: "--max-body-bytes")
            if let workers { try rules.within(workers, 1...256, key: "--workers") }
            if let maxLength { try rules.within(maxLength, 2...EncoderConfig.maxSequenceLength, key: "--max-length") }
            guard batchWindowMs.isFinite, (0...10_000).contains(batchWindowMs) else {
                throw InvalidValue(source: nil, key: "--batch-window-ms", value: String(batchWindowMs), allowed: "0 to 10000")
            }
        }
        for spec in adapters {
            let parts = spec.split(separator: "=", maxSplits: 1)
            guard parts.count == 2, !parts[1].isEmpty else { throw ValidationError("--adapter \(spec): expected NAME=DIR") }
            do { try AdapterRegistry.checkName(String(parts[0])) } catch { throw ValidationError("--adapter \(spec): \(error)") }
        }
    }

    func run() throws {
        ServeApplication.bootstrapMetrics()
        let registry: AdapterRegistry
        do { registry = try AdapterRegistry(modelPath: model, maxLength: maxLength, int8: int8) } catch let e as InvalidValue {
            throw ValidationError(e.description)
        }
        for spec in adapters {
            let parts = spec.split(separator: "=", maxSplits: 1).map(String.init)
            do {
                let e = try registry.load(name: parts[0], path: parts[1])
                CLI.note("adapter \(e.name): \(e.path) (\(e.adapter.isRegression ? "regression" : "\(e.adapter.labelCount) classes"), r=\(e.adapter.lora.rank), \(e.adapter.floatCount) floats)")
            } catch let e as ServingError {
                throw ValidationError("--adapter \(spec): \(e.message)")
            }
        }
        let workerCount = workers ?? System.coreCount
        Threads.configure(workerCount > 1 ? 1 : nil)
        let models = [registry.model] + (1..<max(1, workerCount)).map { _ in registry.model.inferenceSibling() }
        let scheduler = BatchScheduler(models: models, limits: .init(
            window: batchWindowMs / 1000, maxBatchTokens: maxBatchTokens, maxQueuedInputs: maxQueuedInputs))
        let service = ClassifyService(registry: registry, scheduler: scheduler, maxInputsPerRequest: maxInputsPerRequest)
        let settings = ServeSettings(host: host, port: port, maxBodyBytes: maxBodyBytes)
        let host = self.host
        let done = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var failure: (any Error)?
        Task.detached {
            do {
                try await ServeApplication.run(service, settings: settings) { port in
                    FileHandle.standardOutput.write(Data("lora serve: listening on http://\(host):\(port)\n".utf8))
                }
            } catch { failure = error }
            done.signal()
        }
        done.wait()
        if let failure { throw failure }
        CLI.note("lora serve: stopped")
    }
}
