// The one place that checks a run's hyper-parameters, its memory plan and its resume identity.
import Foundation
import Encoders
import GLUE
import InputValidation

extension TrainingOptions {
    /// Checks every hyper-parameter; each error names the `lora train` option and its range.
    public func validate() throws {
        let rules = ValueRules(source: nil)
        try rules.within(epochs, 1...100_000, key: "--epochs")
        try rules.within(batchSize, 1...65_536, key: "--batch-size")
        try rules.positive(Double(learningRate), key: "--lr")
        try rules.nonNegative(weightDecay, key: "--weight-decay")
        try rules.within(warmupRatio, 0...1, key: "--warmup-ratio")
        try rules.positive(maxGradNorm, key: "--max-grad-norm")
        if let evalEvery { try rules.atLeast(evalEvery, 1, key: "--eval-every") }
        if let evalsPerEpoch { try rules.within(evalsPerEpoch, 1...1_000, key: "evals per epoch") }
        try rules.atLeast(checkpointEvery, 1, key: "--checkpoint-every")
        try rules.within(evalBatchSize, 1...65_536, key: "evaluation batch size")
        if let stopAtScore, !stopAtScore.isFinite {
            throw InvalidValue(source: nil, key: "--stop-at-score", value: String(stopAtScore), allowed: "a finite number")
        }
        if let stopAfterSteps { try rules.atLeast(stopAfterSteps, 0, key: "stop after steps") }
        if initAdapter != nil, lora.initialisation == .pissa {
            throw InvalidValue(source: nil, key: "--init", value: "pissa", allowed: "default with --init-adapter (a warm start takes the adapter's weights)")
        }
        if let loraPlusRatio {
            try rules.positive(loraPlusRatio, key: "--loraplus-ratio")
            guard method == .lora else {
                throw InvalidValue(source: nil, key: "--loraplus-ratio", value: String(loraPlusRatio), allowed: "only with --method lora")
            }
        }
    }
}

/// What a run needs in memory before it starts, from its sizes (bytes).
public struct MemoryPlan: Sendable, Equatable {
    public var weights: Double
    public var gradients: Double
    public var optimizerState: Double
    /// Activations kept for the backward pass at the longest batch (an upper bound).
    public var activations: Double
    /// Process overhead: runtime, tokenized data, BLAS buffers (a fixed allowance).
    public var overhead: Double

    public var total: Double { weights + gradients + optimizerState + activations + overhead }

    /// The plan of `model` (its trainable parameters as set) for batches of `batchSize` with
    /// sequences up to `longest` tokens.
    public static func plan(model: EncoderModel, batchSize: Int, longest: Int) -> MemoryPlan {
        let c = model.parameterCounts
        let config = model.config
        let t = Double(batchSize * longest)
        let hidden = Double(config.hiddenSize), inner = Double(config.intermediateSize)
        // Per layer and token: inputs of every Linear, LayerNorm outputs, dropout masks and the
        // feed-forward's inner activations, plus attention probabilities per head and key.
        let perToken = 12 * hidden + 3 * inner + Double(config.headCount * longest)
        let adapters = model.adapters.reduce(0.0) { $0 + Double($1.rank) } * t
        let activations = 4 * (Double(config.layerCount) * t * perToken + adapters + t * hidden * 4)
        return MemoryPlan(weights: Double(c.total) * 4, gradients: Double(c.trainable) * 4,
                          optimizerState: Double(c.trainable) * 8, activations: activations, overhead: 256 * 1_048_576)
    }

    /// Memory the kernel says is available (`MemAvailable` of /proc/meminfo), bytes; nil if unknown.
    public static func availableBytes() -> Double? {
        guard let text = try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix("MemAvailable:") {
            let parts = line.split(separator: " ")
            if parts.count >= 2, let kb = Double(parts[1]) { return kb * 1024 }
        }
        return nil
    }

    /// "weights 87 MiB + gradients 87 MiB + …".
    public var description: String {
        func mib(_ x: Double) -> String { String(format: "%.0f MiB", x / 1_048_576) }
        return "weights \(mib(weights)) + gradients \(mib(gradients)) + optimizer state \(mib(optimizerState)) + "
            + "activations \(mib(activations)) + overhead \(mib(overhead)) = \(mib(total))"
    }
}

/// What a checkpoint must agree on to be resumed: each field by name, so a refusal says
/// which one differs.
public struct RunIdentity: Sendable, Equatable {
    public var fields: [String: String]

    public init(fields: [String: String] = [:]) { self.fields = fields }

    /// FNV-1a's offset basis: the digest of nothing.
    static let emptyDigest: UInt64 = 0xcbf2_9ce4_8422_2325

    /// 64-bit FNV-1a of bytes (a content digest, not a cryptographic one).
    static func fnv1a(_ data: UnsafeRawBufferPointer) -> UInt64 {
        var h = emptyDigest
        for b in data { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        return h
    }

    /// FNV-1a over 8-byte words, then the tail bytes, continuing from `h`: fast enough for a
    /// 500 MB model.
    static func wordDigest(_ raw: UnsafeRawBufferPointer, continuing start: UInt64 = emptyDigest) -> UInt64 {
        var h = start
        let words = raw.count / 8
        for i in 0..<words { h = (h ^ raw.loadUnaligned(fromByteOffset: i * 8, as: UInt64.self)) &* 0x100_0000_01b3 }
        for b in raw[(words * 8)...] { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        return h
    }

    /// 64-bit FNV-1a of bytes, hex.
    public static func digest(_ data: UnsafeRawBufferPointer) -> String { String(fnv1a(data), radix: 16) }

    /// The digest of a file's content, read in chunks; nil when it cannot be read.
    public static func fileDigest(_ url: URL) -> String? {
        guard let handle = try? FileHandle(forReadingFrom: url) else { return nil }
        defer { try? handle.close() }
        var h = emptyDigest
        while let chunk = try? handle.read(upToCount: 1 << 22), !chunk.isEmpty {
            h = chunk.withUnsafeBytes { wordDigest($0, continuing: h) }
        }
        return String(h, radix: 16)
    }

    /// The digest of every field, in key order (what data-parallel processes compare).
    public var digest: UInt64 {
        let text = fields.keys.sorted().map { "\($0)=\(fields[$0]!)\n" }.joined()
        return Array(text.utf8).withUnsafeBytes { Self.fnv1a($0) }
    }

    /// The digest of tokenized examples (ids, type ids, labels): any change of data file, cap,
    /// maximum length or tokenizer changes it.
    public static func examplesDigest(_ examples: [TokenizedExample]) -> String {
        var h = emptyDigest
        func mix(_ v: UInt64) { h = (h ^ v) &* 0x100_0000_01b3 }
        for e in examples {
            mix(UInt64(e.ids.count))
            for id in e.ids { mix(UInt64(UInt32(bitPattern: id))) }
            if e.typeIds.isEmpty {
                for _ in e.ids { mix(0) }  // all-zero type ids, stored as none
            } else {
                for t in e.typeIds { mix(UInt64(UInt32(bitPattern: t))) }
            }
            switch e.label {
            case let .classIndex(i): mix(UInt64(bitPattern: Int64(i)))
            case let .score(s): mix(UInt64(s.bitPattern))
            }
        }
        return String(h, radix: 16)
    }

    /// The first field whose value differs from `saved` (or is missing there), as
    /// "FIELD: checkpoint X, now Y"; nil when they agree.
    public func difference(from saved: RunIdentity) -> String? {
        for key in fields.keys.sorted() where saved.fields[key] != fields[key] {
            return "\(key): the checkpoint has \(saved.fields[key] ?? "nothing"), this run has \(fields[key]!)"
        }
        return nil
    }
}
