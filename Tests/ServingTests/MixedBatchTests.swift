// Mixed-adapter batches against each adapter run alone as `lora predict --adapter` runs it (merged), on every body kind.
import Foundation
import Encoders
import Serving
import Tensors
import Tokenizers
import TestSupport
import XCTest

final class MixedBatchTests: XCTestCase {
    var scratch: URL!

    override func setUpWithError() throws {
        scratch = FileManager.default.temporaryDirectory.appendingPathComponent("lora-serving-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: scratch) }

    /// Saves an adapter for `fixture` with random A, B and head: `labels` outputs (1: regression).
    func makeAdapter(_ fixture: String, labels: Int, targets: [LoRATarget], rank: Int, seed: UInt64) throws -> URL {
        let model = try EncoderModel.load(directory: TestPaths.fixture("encoders/\(fixture)"), labelCount: labels)
        var rng = RandomGenerator(seed: seed)
        try model.attachLoRA(LoRAConfig(rank: rank, alpha: Float(2 * rank), targets: targets), rng: &rng)
        // B away from zero, and a head whose outputs are of the order of trained ones (a few units).
        for a in model.adapters { rng.fillNormal(a.b.value.pointer, count: a.b.count, std: 0.2) }
        for name in model.headParameterNames {
            if let p = model.parameters[name] { rng.fillNormal(p.value.pointer, count: p.count, std: 0.1) }
        }
        if labels > 1 { model.setLabelNames((0..<labels).map { "class\($0)" }) }
        let dir = scratch.appendingPathComponent("\(fixture)-\(seed)")
        try PEFTAdapter.save(model, to: dir, baseModelPath: "base")
        return dir
    }

    /// Logits of each sequence as `lora predict --adapter` computes them: the adapter loaded,
    /// merged, the inference layout, one batch.
    func merged(_ fixture: String, adapter: URL, labels: Int, _ sequences: [[Int32]]) throws -> [[Float]] {
        let model = try EncoderModel.load(directory: TestPaths.fixture("encoders/\(fixture)"), labelCount: labels)
        try PEFTAdapter.load(adapter, into: model)
        model.mergeAdapters()
        model.useInferenceLayout()
        let logits = try model.predict(EncoderBatch(sequences: sequences))
        return sequences.indices.map { Array(logits[($0 * labels)..<(($0 + 1) * labels)]) }
    }

    func randomSequences(_ count: Int, vocabulary: Int, maxLength: Int, rng: inout RandomGenerator) -> [[Int32]] {
        (0..<count).map { _ in
            let n = 2 + Int(rng.next() % UInt64(maxLength - 1))
            return (0..<n).map { _ in Int32(5 + rng.next() % UInt64(vocabulary - 5)) }
        }
    }

    struct Served {
        let adapter: DetachedAdapter
        let expected: [[Float]]
    }

    /// Three adapters (2 classes, 3 classes, regression; different ranks and targets) over one
    /// base, with each adapter's merged logits of `sequences`.
    func servedAdapters(_ fixture: String, base: EncoderModel, _ sequences: [[Int32]]) throws -> [Served] {
        let family = base.config.family
        let specs: [(labels: Int, targets: [LoRATarget], rank: Int)] = [
            (2, family.defaultTargets, 4), (3, family.layer.targets, 2), (1, family.defaultTargets, 8),
        ]
        return try specs.enumerated().map { i, spec in
            let dir = try makeAdapter(fixture, labels: spec.labels, targets: spec.targets, rank: spec.rank, seed: UInt64(10 + i))
            let weights = try PEFTAdapter.read(dir, for: base)
            return Served(adapter: try DetachedAdapter(weights, for: base, source: dir.path),
                          expected: try merged(fixture, adapter: dir, labels: spec.labels, sequences))
        }
    }

    func testMixedBatchesEqualEachAdapterAloneInEveryBody() throws {
        for fixture in ["tiny-bert", "tiny-roberta", "tiny-distilbert", "tiny-modernbert"] {
            let base = try EncoderModel.load(directory: TestPaths.fixture("encoders/\(fixture)"))
            base.useInferenceLayout()
            var rng = RandomGenerator(seed: 7)
            // Up to 21 tokens: past ModernBERT's local window of 8.
            let sequences = randomSequences(12, vocabulary: base.config.vocabularySize, maxLength: 21, rng: &rng)
            let served = try servedAdapters(fixture, base: base, sequences)
            let sibling = base.inferenceSibling()
            for trial in 0..<6 {
                // Each sequence to a random adapter; the batch holds the adapters' groups in a random order.
                let owner = sequences.indices.map { _ in Int(rng.next() % 3) }
                let adapterOrder = [[0, 1, 2], [2, 0, 1], [1, 2, 0]][trial % 3]
                var order: [Int] = [], groups: [(adapter: DetachedAdapter, count: Int)] = []
                for a in adapterOrder {
                    let mine = sequences.indices.filter { owner[$0] == a }
                    order += mine
                    groups.append((served[a].adapter, mine.count))
                }
                let batch = EncoderBatch(sequences: order.map { sequences[$0] })
                let logits = try base.predictMixed(batch, groups: groups)
                XCTAssertEqual(logits.count, sequences.count)
                for (row, s) in order.enumerated() {
                    let want = served[owner[s]].expected[s]
                    XCTAssertEqual(logits[row].count, want.count, "\(fixture) trial \(trial): outputs of sequence \(s)")
                    XCTAssertLessThanOrEqual(Approx.maxAbsDiff(logits[row], want), 1e-5,
                                             "\(fixture) trial \(trial): sequence \(s) under adapter \(owner[s])")
                }
                XCTAssertEqual(try sibling.predictMixed(batch, groups: groups), logits, "\(fixture): the sibling over the same weights")
            }
        }
    }

    func testMixedBatchRefusesGroupsThatDoNotCoverTheBatch() throws {
        let base = try EncoderModel.load(directory: TestPaths.fixture("encoders/tiny-bert"))
        let served = try servedAdapters("tiny-bert", base: base, [[5, 6, 7]])
        XCTAssertThrowsError(try base.predictMixed(EncoderBatch(sequences: [[5, 6, 7], [8, 9]]), groups: [(served[0].adapter, 1)]))
    }

    func testSchedulerBatchesConcurrentRequestsAcrossAdaptersAndAnswersEachAsAlone() async throws {
        let base = try EncoderModel.load(directory: TestPaths.fixture("encoders/tiny-bert"))
        base.useInferenceLayout()
        var rng = RandomGenerator(seed: 3)
        let sequences = randomSequences(40, vocabulary: base.config.vocabularySize, maxLength: 12, rng: &rng)
        let served = try servedAdapters("tiny-bert", base: base, sequences)
        let scheduler = BatchScheduler(models: [base, base.inferenceSibling()],
                                       limits: .init(window: 0.05, maxBatchTokens: 96, maxQueuedInputs: 1000))
        scheduler.start()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for r in 0..<20 {
                let a = r % 3, picked = [2 * r, 2 * r + 1]
                let encodings = picked.map { Encoding(ids: sequences[$0], typeIds: [Int32](repeating: 0, count: sequences[$0].count)) }
                let adapter = served[a].adapter, expected = picked.map { served[a].expected[$0] }
                group.addTask {
                    let logits = try await scheduler.logits(adapter, encodings)
                    for (got, want) in zip(logits, expected) {
                        XCTAssertLessThanOrEqual(Approx.maxAbsDiff(got, want), 1e-5, "request \(r)")
                    }
                }
            }
            try await group.waitForAll()
        }
        let stats = scheduler.statistics
        scheduler.shutdown()
        XCTAssertEqual(stats.inputs, 40)
        XCTAssertLessThan(stats.batches, 40, "requests were gathered into batches")
        XCTAssertGreaterThan(stats.mixedBatches, 0, "some batch mixed adapters")
        XCTAssertLessThanOrEqual(stats.largestBatchTokens, 96, "the token cap holds")
    }

    func testFullQueueIsRefusedWith503AndQueuedWorkStillFinishes() async throws {
        let base = try EncoderModel.load(directory: TestPaths.fixture("encoders/tiny-bert"))
        let served = try servedAdapters("tiny-bert", base: base, [[5, 6, 7]])
        let scheduler = BatchScheduler(models: [base], limits: .init(window: 30, maxBatchTokens: 4096, maxQueuedInputs: 2))
        scheduler.start()
        let one = Encoding(ids: [5, 6, 7], typeIds: [0, 0, 0])
        let waiting = Task { try await scheduler.logits(served[0].adapter, [one, one]) }
        while scheduler.queueDepth < 2 { try await Task.sleep(nanoseconds: 1_000_000) }
        do {
            _ = try await scheduler.logits(served[0].adapter, [one])
            XCTFail("a third input over a limit of 2 was queued")
        } catch let error as ServingError {
            XCTAssertEqual(error.status, 503)
            XCTAssertEqual(error.retryAfter, 1)
        }
        scheduler.shutdown()   // ends the 30 s window: the queued request is answered, not dropped
        let logits = try await waiting.value
        XCTAssertEqual(logits.count, 2)
        do {
            _ = try await scheduler.logits(served[0].adapter, [one])
            XCTFail("a stopped scheduler took work")
        } catch let error as ServingError { XCTAssertEqual(error.status, 503) }
    }
}
