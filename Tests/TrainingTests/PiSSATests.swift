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

    /// Against PEFT (`init_lora_weights="pissa"`, float64 reference): the residual weights and
    /// s·B₀A₀ (sign-invariant, unlike A₀ and B₀) within 1e-4, logits unchanged; three
    /// full-batch AdamW steps; the adapter we save, converted for the original base, gives
    /// PEFT's trained logits there and `merge` gives PEFT's merged weights.
    func testPiSSAMatchesPEFT() throws {
        let dir = TestPaths.fixture("lora/peft-tiny-pissa")
        let expected = try SafeTensorsFile(url: dir.appendingPathComponent("expected.safetensors"))
        let original = dir.appendingPathComponent("base")
        let model = try EncoderModel.load(directory: original)
        var rng = RandomGenerator(seed: 0)
        try model.attachLoRA(LoRAConfig(rank: 4, alpha: 8, targets: [.query, .value], initialisation: .pissa), rng: &rng)
        let modules = model.adapters.map { String($0.baseWeight.name.dropLast(".weight".count)) }
        XCTAssertEqual(modules.count, 4)
        for (module, adapter) in zip(modules, model.adapters) {
            XCTAssertLessThanOrEqual(Approx.maxAbsDiff(adapter.baseWeight.value.toArray(), try expected.floats("residual.\(module).weight")), 1e-4,
                                     "\(module): residual")
            let (a0, b0) = adapter.pissaInitial!
            XCTAssertLessThanOrEqual(Approx.maxAbsDiff(Self.delta(b: b0, a: a0, adapter: adapter), try expected.floats("init.delta.\(module)")), 1e-4,
                                     "\(module): s·B₀A₀")
        }
        // The head starts where PEFT's did.
        let initial = try SafeTensorsFile(url: dir.appendingPathComponent("adapter_init/adapter_model.safetensors"))
        for name in model.headParameterNames {
            try initial.readFloats(PEFTAdapter.namePrefix + name, into: model.parameters[name]!.value.pointer, count: model.parameters[name]!.count)
        }
        let ids = try expected.integers("step1.input_ids").map(Int32.init), lengths = try expected.integers("step1.lengths")
        var sequences: [[Int32]] = [], offset = 0
        for l in lengths { sequences.append(Array(ids[offset..<(offset + l)])); offset += l }
        let batch = EncoderBatch(sequences: sequences, typeIds: sequences.map { [Int32](repeating: 0, count: $0.count) })
        let labels = try expected.integers("step1.labels").map(Int32.init)
        XCTAssertLessThanOrEqual(Approx.maxAbsDiff(try model.predict(batch), try expected.floats("init.logits")), 1e-4, "unchanged at the start")
        let opt = AdamWOptimizer(store: model.parameters, config: AdamWConfig(weightDecay: 0.01))
        for step in 1...3 {
            model.parameters.zeroGradients()
            let (loss, _) = try model.forwardBackward(batch, labels: .classes(labels), training: false, rng: &rng)
            XCTAssertEqual(loss, try expected.floats("step\(step).loss")[0], accuracy: 1e-5, "step \(step) loss")
            opt.step(learningRate: 1e-3)
        }
        XCTAssertLessThanOrEqual(Approx.maxAbsDiff(try model.predict(batch), try expected.floats("final.logits")), 1e-4, "trained logits")

        // Saved for the original base (rank 2r), loaded there: PEFT's trained function; merged: PEFT's merged weights.
        let saved = FileManager.default.temporaryDirectory.appendingPathComponent("pissa-saved-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: saved) }
        try PEFTAdapter.save(model, to: saved, baseModelPath: "base")
        let reloaded = try EncoderModel.load(directory: original)
        try PEFTAdapter.load(saved, into: reloaded)
        XCTAssertEqual(reloaded.loraConfig?.rank, 8)
        XCTAssertLessThanOrEqual(Approx.maxAbsDiff(try reloaded.predict(batch), try expected.floats("final.logits")), 1e-4, "converted adapter on the original base")
        for (module, adapter) in zip(modules, reloaded.adapters) {
            XCTAssertLessThanOrEqual(Approx.maxAbsDiff(Self.delta(b: adapter.b.value.toArray(), a: adapter.a.value.toArray(), adapter: adapter),
                                                       try expected.floats("final.delta.\(module)")), 1e-4, "\(module): the converted update")
        }
        reloaded.mergeAdapters()
        for module in modules {
            XCTAssertLessThanOrEqual(Approx.maxAbsDiff(reloaded.parameters[module + ".weight"]!.value.toArray(), try expected.floats("merged.\(module).weight")),
                                     1e-4, "\(module): merged weight")
        }
    }

    /// `s·B·A` of an adapter's shapes, row-major `(out, in)`.
    static func delta(b: [Float], a: [Float], adapter: LoRAAdapter) -> [Float] {
        let out = adapter.baseWeight.shape[0], inF = adapter.baseWeight.shape[1], r = b.count / out
        var d = [Float](repeating: 0, count: out * inF)
        for o in 0..<out { for i in 0..<inF {
            var v: Float = 0
            for k in 0..<r { v += b[o * r + k] * a[k * inF + i] }
            d[o * inF + i] = adapter.scale * v
        } }
        return d
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
