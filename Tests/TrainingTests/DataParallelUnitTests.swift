// The pieces data-parallel training rests on: dropout masks keyed per sequence, batch shares, and the gradient buckets' order.
import Collectives
import Encoders
import Foundation
import Tensors
@testable import Training
import TestSupport
import XCTest

/// A group of two that reduces nothing and records what it was asked to reduce.
final class RecordingGroup: ProcessGroup {
    var started: [Range<Int>] = []
    var reduced: [Range<Int>] = []
    var base: UnsafeMutablePointer<Float>?
    var rank: Int { 0 }
    var size: Int { 2 }
    var localSize: Int { 2 }
    func offset(_ p: UnsafeMutablePointer<Float>) -> Int { base.map { p - $0 } ?? -1 }
    func allreduceSum(_ buffer: UnsafeMutablePointer<Float>, count: Int) { reduced.append(offset(buffer) ..< offset(buffer) + count) }
    func allreduce(_ values: inout [Double], _ operation: ReduceOperation) {}
    func startAllreduceSum(_ buffer: UnsafeMutablePointer<Float>, count: Int) { started.append(offset(buffer) ..< offset(buffer) + count) }
    func progress() {}
    func waitAll() {}
    func broadcast(_ buffer: UnsafeMutableRawPointer, bytes: Int, root: Int) {}
    func barrier() {}
    func abort(code: Int32) -> Never { fatalError("abort \(code)") }
}

final class DataParallelUnitTests: XCTestCase {
    /// The tiny BERT fixture with dropout 0.1 on hidden states and attention probabilities.
    func tinyModelWithDropout() throws -> EncoderModel {
        let source = TestPaths.fixture("lora/peft-tiny-bert/base")
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("lora-dp-unit-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        try FileManager.default.copyItem(at: source.appendingPathComponent("model.safetensors"), to: dir.appendingPathComponent("model.safetensors"))
        var config = try JSONSerialization.jsonObject(with: Data(contentsOf: source.appendingPathComponent("config.json"))) as! [String: Any]
        config["hidden_dropout_prob"] = 0.1
        config["attention_probs_dropout_prob"] = 0.1
        try JSONSerialization.data(withJSONObject: config).write(to: dir.appendingPathComponent("config.json"))
        return try EncoderModel.load(directory: dir)
    }

    let sequences: [[Int32]] = [[2, 17, 33, 41, 9, 3], [2, 8, 3], [2, 50, 51, 52, 53, 54, 55, 3]]
    let keys: [UInt64] = [11, 22, 33]

    func trainingLogits(_ model: EncoderModel, _ order: [Int], keys: [UInt64]) throws -> [[Float]] {
        let seqs = order.map { sequences[$0] }
        let batch = EncoderBatch(sequences: seqs, typeIds: seqs.map { [Int32](repeating: 0, count: $0.count) })
        let (_, logits) = try model.forwardBackward(batch, labels: .classes(order.map { _ in 0 }), training: true,
                                                    dropout: DropoutStream(keys: keys))
        let k = model.config.labelCount
        return (0..<order.count).map { Array(logits[$0 * k ..< ($0 + 1) * k]) }
    }

    /// A sequence's dropout masks (hidden, attention, LoRA's input) depend on its key alone: the
    /// same logits in a batch of three, in another order, or alone; another key gives others.
    func testDropoutMasksFollowTheSequenceNotTheBatch() throws {
        let model = try tinyModelWithDropout()
        var rng = RandomGenerator(seed: 5)
        try model.attachLoRA(LoRAConfig(rank: 4, alpha: 8, dropout: 0.1, targets: [.query, .value]), rng: &rng)
        // Non-zero B, so that LoRA's dropped input reaches the logits.
        for adapter in model.adapters { adapter.b.value.pointer.update(repeating: 0.05, count: adapter.b.count) }
        let all = try trainingLogits(model, [0, 1, 2], keys: keys)
        let reordered = try trainingLogits(model, [2, 0], keys: [keys[2], keys[0]])
        let alone = try trainingLogits(model, [1], keys: [keys[1]])
        XCTAssertLessThanOrEqual(Approx.maxAbsDiff(reordered[0], all[2]), 1e-6)
        XCTAssertLessThanOrEqual(Approx.maxAbsDiff(reordered[1], all[0]), 1e-6)
        XCTAssertLessThanOrEqual(Approx.maxAbsDiff(alone[0], all[1]), 1e-6)
        let otherKey = try trainingLogits(model, [1], keys: [99])
        XCTAssertGreaterThan(Approx.maxAbsDiff(otherKey[0], all[1]), 1e-4, "dropout is on: another key gives other masks")
        XCTAssertThrowsError(try trainingLogits(model, [0, 1], keys: [1]), "one key per sequence")
    }

    /// The epoch's keys are distinct per position and per epoch, and a function of the seed.
    func testExampleKeysDependOnSeedEpochAndPosition() {
        let a = (0..<64).map { DropoutStream.key(seed: 42, epoch: 0, position: $0) }
        XCTAssertEqual(Set(a).count, 64)
        XCTAssertEqual(a, (0..<64).map { DropoutStream.key(seed: 42, epoch: 0, position: $0) })
        XCTAssertNotEqual(a, (0..<64).map { DropoutStream.key(seed: 42, epoch: 1, position: $0) })
        XCTAssertNotEqual(a, (0..<64).map { DropoutStream.key(seed: 43, epoch: 0, position: $0) })
    }

    func testSharesSplitTheBatchContiguouslyAndEvenly() {
        for n in 1...9 {
            for size in 1...5 {
                let shares = (0..<size).map { DataShard.share(of: 10 ..< 10 + n, rank: $0, size: size) }
                XCTAssertEqual(shares.flatMap { Array($0) }, Array(10 ..< 10 + n), "\(n) over \(size)")
                let counts = shares.map(\.count)
                XCTAssertLessThanOrEqual(counts.max()! - counts.min()!, 1)
            }
        }
    }

    /// Full fine-tuning: the buckets started during the backward pass are contiguous, go from
    /// the head down to the embeddings and cover the whole slab once; a step whose backward pass
    /// was skipped starts the same buckets. LoRA: one call over the slab.
    func testGradientBucketsTileTheSlabInBackwardOrder() throws {
        let model = try tinyModelWithDropout()
        model.setFullFineTuning()
        let group = RecordingGroup()
        group.base = model.parameters.gradients!.base
        let reduction = GradientReduction(group: group, model: model, overlap: true, bucketBytes: 4)
        XCTAssertNotNil(reduction.layerStarts, "the slab is laid out embeddings, layer 0, …, head")
        reduction.begin()
        _ = try trainingLogits(model, [0, 1], keys: [1, 2])
        let duringBackward = group.started.count
        _ = try reduction.finish()
        let total = model.parameters.gradientCount
        XCTAssertEqual(group.started.count, model.layerCount + 1, "one bucket per layer (with the head in the last) and the embeddings")
        XCTAssertEqual(duringBackward, model.layerCount, "every layer's bucket started before the backward pass ended")
        XCTAssertEqual(group.started.first?.upperBound, total)
        XCTAssertEqual(group.started.last?.lowerBound, 0)
        for (a, b) in zip(group.started, group.started.dropFirst()) { XCTAssertEqual(b.upperBound, a.lowerBound, "contiguous, descending") }
        let withBackward = group.started
        group.started = []
        reduction.begin()
        _ = try reduction.finish()
        XCTAssertEqual(group.started, withBackward, "a process with nothing to compute starts the same buckets")

        let lora = try tinyModelWithDropout()
        var rng = RandomGenerator(seed: 1)
        try lora.attachLoRA(LoRAConfig(rank: 4, alpha: 8, targets: [.query, .value]), rng: &rng)
        let loraGroup = RecordingGroup()
        loraGroup.base = lora.parameters.gradients!.base
        let single = GradientReduction(group: loraGroup, model: lora, overlap: false)
        single.begin()
        _ = try single.finish()
        XCTAssertEqual(loraGroup.reduced, [0 ..< lora.parameters.gradientCount])
        XCTAssertTrue(loraGroup.started.isEmpty)
    }
}
