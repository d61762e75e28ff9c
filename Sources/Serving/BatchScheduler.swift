// Gathers concurrent requests into mixed-adapter batches and runs them on one worker thread.
import Foundation
import Encoders
import Tokenizers
import Metrics

/// The server's compute queue: requests wait here, worker threads gather them into batches
/// (a short window after the first arrival, a cap on tokens per batch, adapters mixed), run
/// the base model once per batch (`EncoderModel.predictMixed`) and answer each request.
///
/// Each worker owns one model (siblings sharing one set of weights, each with its own
/// activations): on a small machine two single-threaded workers keep both cores busier than
/// one worker with two BLAS threads on small batches. Requests never block a thread while
/// they wait (they await a continuation).
public final class BatchScheduler: @unchecked Sendable {
    /// How batches are formed.
    public struct Limits: Sendable {
        /// How long the worker waits after the first queued input for more to arrive.
        public var window: TimeInterval = 0.002
        /// The most tokens in one batch (a longer request is split across batches).
        public var maxBatchTokens = 8192
        /// The most inputs waiting; beyond it requests are refused with 503.
        public var maxQueuedInputs = 4096
        public init(window: TimeInterval = 0.002, maxBatchTokens: Int = 8192, maxQueuedInputs: Int = 4096) {
            self.window = window
            self.maxBatchTokens = maxBatchTokens
            self.maxQueuedInputs = maxQueuedInputs
        }
    }

    /// One request's inputs and where their logits go.
    final class Job: @unchecked Sendable {
        let adapter: DetachedAdapter
        let encodings: [Encoding]
        var logits: [[Float]]
        var remaining: Int
        var finished = false
        let continuation: CheckedContinuation<[[Float]], any Error>
        init(adapter: DetachedAdapter, encodings: [Encoding], continuation: CheckedContinuation<[[Float]], any Error>) {
            self.adapter = adapter
            self.encodings = encodings
            self.logits = [[Float]](repeating: [], count: encodings.count)
            self.remaining = encodings.count
            self.continuation = continuation
        }
    }

    struct Item {
        let job: Job
        let index: Int
        let arrival: Date
        var tokens: Int { job.encodings[index].count }
    }

    /// What the workers have run so far.
    public struct Statistics: Sendable, Equatable {
        public var batches = 0
        public var inputs = 0
        /// Batches that held inputs of more than one adapter.
        public var mixedBatches = 0
        public var largestBatchTokens = 0
    }

    public let limits: Limits
    private var counts = Statistics()
    private let models: [EncoderModel]
    private let condition = NSCondition()
    private var queue: [Item] = []
    private var head = 0
    private var queuedTokens = 0
    private var stopping = false
    private var workers: [Thread] = []
    private let finished = DispatchSemaphore(value: 0)

    private let batchSequences = Recorder(label: "lora_batch_inputs", aggregate: true)
    private let batchTokens = Recorder(label: "lora_batch_tokens", aggregate: true)
    private let batchAdapters = Recorder(label: "lora_batch_adapters", aggregate: true)
    private let batchTime = Metrics.Timer(label: "lora_batch_duration")
    private let queueGauge = Gauge(label: "lora_queue_inputs")

    /// One worker per model; `models` share their weights (`EncoderModel.inferenceSibling`).
    public init(models: [EncoderModel], limits: Limits = Limits()) {
        precondition(!models.isEmpty, "BatchScheduler: no model")
        self.models = models
        self.limits = limits
    }

    /// Starts the worker threads.
    public func start() {
        condition.lock()
        defer { condition.unlock() }
        guard workers.isEmpty else { return }
        for (i, model) in models.enumerated() {
            let thread = Thread { [self] in run(model) }
            thread.name = "lora-serve-batches-\(i)"
            thread.stackSize = 8 << 20
            workers.append(thread)
            thread.start()
        }
    }

    public var statistics: Statistics {
        condition.lock()
        defer { condition.unlock() }
        return counts
    }

    /// Inputs waiting for a batch.
    public var queueDepth: Int {
        condition.lock()
        defer { condition.unlock() }
        return queue.count - head
    }

    /// Logits of each encoding under `adapter`, once a batch has run them.
    ///
    /// - Throws: `ServingError` 503 when the queue is full or the scheduler is stopping; the
    ///   model's error when the batch fails.
    public func logits(_ adapter: DetachedAdapter, _ encodings: [Encoding]) async throws -> [[Float]] {
        guard !encodings.isEmpty else { return [] }
        return try await withCheckedThrowingContinuation { continuation in
            condition.lock()
            let depth = queue.count - head
            if stopping || depth + encodings.count > limits.maxQueuedInputs {
                let stopped = stopping
                condition.unlock()
                continuation.resume(throwing: stopped ? ServingError.shuttingDown
                                                      : ServingError.queueFull(queued: depth, limit: limits.maxQueuedInputs))
                return
            }
            let job = Job(adapter: adapter, encodings: encodings, continuation: continuation)
            let now = Date()
            for i in encodings.indices { queue.append(Item(job: job, index: i, arrival: now)) }
            queuedTokens += encodings.reduce(0) { $0 + $1.count }
            queueGauge.record(queue.count - head)
            condition.signal()
            condition.unlock()
        }
    }

    /// Stops taking requests, answers every queued one, and waits for the worker to end.
    public func shutdown() {
        condition.lock()
        stopping = true
        let running = workers.count
        condition.broadcast()
        condition.unlock()
        for _ in 0..<running { finished.wait() }
    }

    // MARK: worker

    private func run(_ model: EncoderModel) {
        while let batch = nextBatch() { runBatch(batch, on: model) }
        finished.signal()
    }

    /// Waits for inputs, then for the window (or the token cap), and takes a batch in arrival
    /// order; nil once stopping with nothing queued.
    private func nextBatch() -> [Item]? {
        condition.lock()
        defer { condition.unlock() }
        while true {
            while queue.count == head {
                if stopping { return nil }
                condition.wait()
            }
            let deadline = queue[head].arrival.addingTimeInterval(limits.window)
            while !stopping && queuedTokens < limits.maxBatchTokens && Date() < deadline {
                _ = condition.wait(until: deadline)
            }
            var batch: [Item] = []
            var tokens = 0
            while head < queue.count {
                let item = queue[head]
                if item.job.finished { head += 1; queuedTokens -= item.tokens; continue }
                if !batch.isEmpty && tokens + item.tokens > limits.maxBatchTokens { break }
                batch.append(item)
                tokens += item.tokens
                queuedTokens -= item.tokens
                head += 1
            }
            // Compact the queue once its consumed prefix is large.
            if head > 1024 && head * 2 > queue.count {
                queue.removeFirst(head)
                head = 0
            }
            queueGauge.record(queue.count - head)
            // Another worker may have taken the inputs while this one waited out the window.
            if !batch.isEmpty { return batch }
        }
    }

    private func runBatch(_ items: [Item], on model: EncoderModel) {
        guard !items.isEmpty else { return }
        // Group by adapter, keeping first-seen order; the base GEMMs see all rows at once.
        var order: [ObjectIdentifier] = []
        var byAdapter: [ObjectIdentifier: [Item]] = [:]
        for item in items {
            let id = ObjectIdentifier(item.job.adapter)
            if byAdapter[id] == nil { order.append(id) }
            byAdapter[id, default: []].append(item)
        }
        let grouped = order.flatMap { byAdapter[$0]! }
        let groups = order.map { (adapter: byAdapter[$0]![0].job.adapter, count: byAdapter[$0]!.count) }
        let batch = EncoderBatch(sequences: grouped.map { $0.job.encodings[$0.index].ids },
                                 typeIds: grouped.map { $0.job.encodings[$0.index].typeIds })
        let start = DispatchTime.now().uptimeNanoseconds
        let result: Result<[[Float]], any Error> = Result { try model.predictMixed(batch, groups: groups) }
        batchTime.recordNanoseconds(Int64(DispatchTime.now().uptimeNanoseconds - start))
        batchSequences.record(grouped.count)
        batchTokens.record(batch.tokenCount)
        batchAdapters.record(order.count)
        var done: [Job] = []
        var failed: [(Job, any Error)] = []
        condition.lock()
        counts.batches += 1
        counts.inputs += grouped.count
        if order.count > 1 { counts.mixedBatches += 1 }
        counts.largestBatchTokens = max(counts.largestBatchTokens, batch.tokenCount)
        switch result {
        case let .success(logits):
            for (item, row) in zip(grouped, logits) where !item.job.finished {
                item.job.logits[item.index] = row
                item.job.remaining -= 1
                if item.job.remaining == 0 { item.job.finished = true; done.append(item.job) }
            }
        case let .failure(error):
            for item in grouped where !item.job.finished {
                item.job.finished = true
                failed.append((item.job, error))
            }
        }
        condition.unlock()
        for job in done { job.continuation.resume(returning: job.logits) }
        for (job, error) in failed { job.continuation.resume(throwing: error) }
    }
}
