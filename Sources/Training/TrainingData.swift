import Foundation
import Tensors
import Encoders
import GLUE

/// One tokenized example: ids, segment ids and its label.
public struct TokenizedExample: Sendable, Equatable {
    /// Token ids with special tokens.
    public var ids: [Int32]
    /// Token-type ids, one per id; empty when they are all 0 (a single sentence), so that a
    /// large data set holds its token ids once (see ``compact(ids:typeIds:label:)``).
    public var typeIds: [Int32]
    /// Gold label.
    public var label: Label

    /// Creates an example.
    public init(ids: [Int32], typeIds: [Int32], label: Label) {
        self.ids = ids
        self.typeIds = typeIds
        self.label = label
    }

    /// An example whose all-zero type ids are stored as none.
    public static func compact(ids: [Int32], typeIds: [Int32], label: Label) -> TokenizedExample {
        TokenizedExample(ids: ids, typeIds: typeIds.contains(where: { $0 != 0 }) ? typeIds : [], label: label)
    }

    /// The type ids, one per id (zeros when stored as none).
    public var fullTypeIds: [Int32] {
        typeIds.isEmpty ? [Int32](repeating: 0, count: ids.count) : typeIds
    }
}

/// Batching: consecutive slices of a permutation, packed without padding.
public enum Batching {
    /// The order of examples in `epoch`: a Fisher–Yates shuffle seeded by `(seed, epoch)`,
    /// so every epoch has a new order and a resumed run sees the same one.
    public static func epochOrder(count: Int, seed: UInt64, epoch: Int) -> [Int] {
        var rng = RandomGenerator(seed: seed &* 0x9E37_79B9_7F4A_7C15 &+ UInt64(epoch) &+ 1)
        var order = Array(0..<count)
        if count > 1 {
            for i in stride(from: count - 1, to: 0, by: -1) {
                let j = Int(rng.next() % UInt64(i + 1))
                order.swapAt(i, j)
            }
        }
        return order
    }

    /// Packs `indices` of `examples` into a batch and its labels.
    public static func batch(_ examples: [TokenizedExample], indices: ArraySlice<Int>, regression: Bool) -> (EncoderBatch, BatchLabels) {
        let chosen = indices.map { examples[$0] }
        let batch = encoderBatch(chosen)
        if regression {
            return (batch, .targets(chosen.map { $0.label.score ?? 0 }))
        }
        return (batch, .classes(chosen.map { Int32($0.label.classIndex ?? 0) }))
    }

    /// `examples` packed into one batch, in order.
    public static func encoderBatch<C: Collection<TokenizedExample>>(_ examples: C) -> EncoderBatch {
        EncoderBatch(sequences: examples.map(\.ids), typeIds: examples.map(\.fullTypeIds))
    }
}

/// Evaluation of a model on tokenized examples.
public enum Evaluation {
    /// Predictions in batches of `batchSize` (eval mode), then the task's metrics.
    public static func evaluate(model: EncoderModel, task: GLUETask, examples: [TokenizedExample], batchSize: Int = 64) throws -> MetricReport {
        let logits = try self.logits(model: model, examples: examples[...], batchSize: batchSize)
        return try report(task: task, logits: logits, labelCount: model.config.labelCount, examples: examples)
    }

    /// The logits `(n, K)` of `examples` in eval mode, in batches of `batchSize`.
    public static func logits(model: EncoderModel, examples: ArraySlice<TokenizedExample>, batchSize: Int = 64) throws -> [Float] {
        var out: [Float] = []
        out.reserveCapacity(examples.count * model.config.labelCount)
        var start = examples.startIndex
        while start < examples.endIndex {
            let end = min(examples.endIndex, start + batchSize)
            out += try model.predict(Batching.encoderBatch(examples[start..<end]))
            start = end
        }
        return out
    }

    /// The task's metrics of `logits` `(n, K)` against `examples`' labels: the arg-max class, or
    /// the score of a regression head. A non-finite logit is an error naming its example.
    public static func report(task: GLUETask, logits: [Float], labelCount k: Int, examples: [TokenizedExample]) throws -> MetricReport {
        if let bad = logits.firstIndex(where: { !$0.isFinite }) {
            throw EncoderError.invalidInput("dev example \(bad / max(1, k) + 1) gave a non-finite logit (\(logits[bad])); the weights or inputs are broken, no score is reported")
        }
        var predictions: [Label] = []
        predictions.reserveCapacity(examples.count)
        for i in 0..<examples.count {
            if task.isRegression {
                predictions.append(.score(logits[i]))
            } else {
                var best = 0
                for j in 1..<k where logits[i * k + j] > logits[i * k + best] { best = j }
                predictions.append(.classIndex(best))
            }
        }
        return try task.evaluate(predictions: predictions, labels: examples.map(\.label))
    }
}
