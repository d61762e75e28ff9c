// PiSSA initialisation: the model is unchanged at the start, and the adapter saved after training
// (converted for the original base, rank 2r) reproduces the trained model there; resume keeps it.
import XCTest
import Foundation
import Tensors
import SafeTensors
import Encoders
import GLUE
import Training
import TestSupport

final class PiSSATests: XCTestCase {
    var out: URL!

    override func setUpWithError() throws {
        out = FileManager.default.temporaryDirectory.appendingPathComponent("pissa-\(UUID().uuidString)")
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: out) }

    var base: URL { TestPaths.fixture("lora/peft-tiny-bert/base") }

    func batch() -> EncoderBatch {
        let examples = syntheticExamples(count: 6, seed: 9)
        return EncoderBatch(sequences: examples.map(\.ids), typeIds: examples.map { [Int32](repeating: 0, count: $0.ids.count) })
    }

    /// Before training, a PiSSA model computes what the base model does (W = residual + s·B₀A₀).
    func testPiSSAStartsFromTheBaseModelsFunction() throws {
        let plain = try EncoderModel.load(directory: base)
        let pissa = try EncoderModel.load(directory: base)
        var rng = RandomGenerator(seed: 1)
        try pissa.attachLoRA(LoRAConfig(rank: 4, alpha: 8, targets: [.query, .value], initialisation: .pissa), rng: &rng)
        let b = batch()
        XCTAssertLessThanOrEqual(Approx.maxAbsDiff(try pissa.predict(b), try plain.predict(b)), 1e-4)
        // The base weights hold the residual: they differ from the checkpoint's.
        let name = "bert.encoder.layer.0.attention.self.query.weight"
        XCTAssertGreaterThan(Approx.maxAbsDiff(pissa.parameters[name]!.value.toArray(), plain.parameters[name]!.value.toArray()), 1e-3)
        XCTAssertTrue(pissa.adapters.allSatisfy { $0.pissaInitial != nil })
    }

    /// After training, the adapter written to OUT/adapter (rank 2r, for the original base)
    /// gives the trained model's logits on the unmodified base; a resumed run ends the same.
    func testConvertedAdapterReproducesTheTrainedModelOnTheOriginalBase() throws {
        func trainer(_ dir: URL, stopAfter: Int? = nil) throws -> Trainer {
            var o = TrainingOptions()
            o.lora = LoRAConfig(rank: 4, alpha: 8, dropout: 0, initialisation: .pissa)
            o.epochs = 2
            o.batchSize = 8
            o.learningRate = 5e-3
            o.checkpointEvery = 2
            o.keep = .last
            o.stopAfterSteps = stopAfter
            let t = try Trainer(model: try EncoderModel.load(directory: base), task: .rte, train: syntheticExamples(count: 40, seed: 1),
                                dev: syntheticExamples(count: 16, seed: 2), options: o, outputDirectory: dir, baseModelPath: "base")
            t.progress = { _ in }
            return t
        }
        let dir = out.appendingPathComponent("run")
        let t = try trainer(dir)
        _ = try t.run()
        let b = batch()
        let trained = try t.model.predict(b)
        let described = try PEFTAdapter.describe(dir.appendingPathComponent("adapter"))
        XCTAssertEqual(described.lora.rank, 8, "rank 2r")
        XCTAssertEqual(described.lora.alpha, 16, "alpha 2α keeps the scale")
        let reloaded = try EncoderModel.load(directory: base)
        try PEFTAdapter.load(dir.appendingPathComponent("adapter"), into: reloaded)
        XCTAssertLessThanOrEqual(Approx.maxAbsDiff(try reloaded.predict(b), trained), 1e-4)
        // Merging it into the original base gives the same function.
        reloaded.mergeAdapters()
        XCTAssertLessThanOrEqual(Approx.maxAbsDiff(try reloaded.predict(b), trained), 1e-4)

        // Killed after 3 steps and resumed: the same final adapter.
        let split = out.appendingPathComponent("split")
        _ = try trainer(split, stopAfter: 3).run()
        let resumed = try trainer(split)
        _ = try resumed.run(resume: true)
        XCTAssertLessThanOrEqual(Approx.maxAbsDiff(try resumed.model.predict(b), trained), 1e-5)
    }
}
