// Warm starts from a PEFT adapter (--init-adapter), --keep last|best, and LoRA+'s learning-rate groups.
import XCTest
import Foundation
import Tensors
import SafeTensors
import Encoders
import GLUE
import Training
import TestSupport

final class WarmStartTests: XCTestCase {
    var out: URL!

    override func setUpWithError() throws {
        out = FileManager.default.temporaryDirectory.appendingPathComponent("warmstart-\(UUID().uuidString)")
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: out) }

    func trainer(_ dir: URL, task: GLUETask = .rte, labels: Int = 2, configure: (inout TrainingOptions) -> Void = { _ in }) throws -> Trainer {
        let model = try EncoderModel.load(directory: TestPaths.fixture("lora/peft-tiny-bert/base"), labelCount: labels)
        var o = TrainingOptions()
        o.lora = LoRAConfig(rank: 4, alpha: 8, dropout: 0)
        o.epochs = 2
        o.batchSize = 8
        o.learningRate = 5e-3
        o.seed = 7
        configure(&o)
        let examples = syntheticExamples(count: 40, seed: 1).map { e -> TokenizedExample in
            var e = e
            if case let .classIndex(c) = e.label { e.label = .classIndex(c % labels) }
            return e
        }
        let t = try Trainer(model: model, task: task, train: examples, dev: syntheticExamples(count: 16, seed: 2), options: o,
                            outputDirectory: dir, baseModelPath: "base")
        t.progress = { _ in }
        return t
    }

    /// A run that starts from an adapter holds its A, B and head before the first step; one
    /// on a task with another label count keeps A and B and re-initialises the head, and says so.
    func testWarmStartLoadsTheAdapterAndReinitialisesAHeadOfAnotherSize() throws {
        let first = out.appendingPathComponent("first")
        _ = try trainer(first).run()
        let adapter = first.appendingPathComponent("adapter")
        let file = try SafeTensorsFile(url: adapter.appendingPathComponent("adapter_model.safetensors"))

        let same = try trainer(out.appendingPathComponent("same")) { $0.initAdapter = adapter.path }
        XCTAssertEqual(same.warmStart?.headReinitialised, false)
        for p in same.model.parameters.trainable {
            XCTAssertEqual(p.value.toArray(), try file.floats(PEFTAdapter.namePrefix + p.name), "\(p.name) comes from the adapter")
        }

        let other = out.appendingPathComponent("three-labels")
        let t = try trainer(other, task: .mnli, labels: 3) { $0.initAdapter = adapter.path }
        XCTAssertEqual(t.warmStart?.headReinitialised, true)
        XCTAssertEqual(t.warmStart?.adapterHeadLabels, 2)
        for p in t.model.parameters.trainable where p.name.contains(".lora_") {
            XCTAssertEqual(p.value.toArray(), try file.floats(PEFTAdapter.namePrefix + p.name), "\(p.name) comes from the adapter")
        }
        XCTAssertEqual(t.model.parameters["classifier.weight"]?.shape, [3, 36])
        XCTAssertFalse(t.model.newlyInitialised.isEmpty, "the head is the model's new one")
        _ = try t.run()
        let log = try String(contentsOf: other.appendingPathComponent("log.jsonl"), encoding: .utf8)
        XCTAssertTrue(log.contains("\"type\":\"warm_start\"") && log.contains("\"head_reinitialised\":true"), log)

        // An adapter of another shape than the run's settings is refused by option.
        XCTAssertThrowsError(try trainer(out.appendingPathComponent("bad")) { $0.initAdapter = adapter.path; $0.lora.rank = 2 }) {
            XCTAssertTrue("\($0)".contains("--init-adapter"), "\($0)")
        }
    }

    /// --keep last writes the last step's weights; best (the default) those of the best evaluation.
    func testKeepLastWritesTheLastStepsWeights() throws {
        let last = out.appendingPathComponent("last"), best = out.appendingPathComponent("best")
        let lt = try trainer(last) { $0.keep = .last }
        _ = try lt.run()
        let saved = try SafeTensorsFile(url: last.appendingPathComponent("adapter/adapter_model.safetensors"))
        for p in lt.model.parameters.trainable {
            XCTAssertEqual(try saved.floats(PEFTAdapter.namePrefix + p.name), p.value.toArray(), "\(p.name): the last step's value")
        }
        let bt = try trainer(best)
        let summary = try bt.run()
        XCTAssertEqual(summary.options.keep, nil)
        XCTAssertTrue(FileManager.default.fileExists(atPath: best.appendingPathComponent("adapter/adapter_model.safetensors").path))
    }

    /// LoRA+ against PEFT: from the same adapter (read as a warm start reads it), three
    /// full-batch AdamW steps with `create_loraplus_optimizer(lr 1e-3, ratio 16,
    /// loraplus_weight_decay 0.01)` on a dropout-free tiny RoBERTa end within 1e-5 of PEFT's
    /// weights (float64 reference).
    func testLoRAPlusThreeStepsMatchPEFT() throws {
        let dir = TestPaths.fixture("lora/peft-tiny-loraplus")
        let expected = try SafeTensorsFile(url: dir.appendingPathComponent("expected.safetensors"))
        let model = try EncoderModel.load(directory: dir.appendingPathComponent("base"))
        try PEFTAdapter.load(dir.appendingPathComponent("adapter_init"), into: model)
        let opt = AdamWOptimizer(store: model.parameters, config: AdamWConfig(weightDecay: 0.01))
        opt.useLoRAPlus(ratio: 16)
        let ids = try expected.integers("step1.input_ids").map(Int32.init), lengths = try expected.integers("step1.lengths")
        var sequences: [[Int32]] = [], offset = 0
        for l in lengths { sequences.append(Array(ids[offset..<(offset + l)])); offset += l }
        let batch = EncoderBatch(sequences: sequences, typeIds: sequences.map { [Int32](repeating: 0, count: $0.count) })
        let labels = try expected.integers("step1.labels").map(Int32.init)
        var rng = RandomGenerator(seed: 0)
        for step in 1...3 {
            model.parameters.zeroGradients()
            let (loss, logits) = try model.forwardBackward(batch, labels: .classes(labels), training: false, rng: &rng)
            XCTAssertEqual(loss, try expected.floats("step\(step).loss")[0], accuracy: 1e-5, "step \(step) loss")
            XCTAssertLessThanOrEqual(Approx.maxAbsDiff(logits, try expected.floats("step\(step).logits")), 1e-5, "step \(step) logits")
            opt.step(learningRate: 1e-3)
        }
        XCTAssertEqual(model.parameters.trainable.count, 12)
        for p in model.parameters.trainable {
            let ref = try expected.floats("final." + PEFTAdapter.namePrefix + p.name)
            XCTAssertLessThanOrEqual(Approx.maxAbsDiff(p.value.toArray(), ref), 1e-5, "\(p.name) after 3 LoRA+ steps")
        }
    }

    /// LoRA+: B matrices and biases step at λ·lr, A matrices and head weights at lr.
    func testLoRAPlusGroups() throws {
        let t = try trainer(out.appendingPathComponent("plus")) { $0.loraPlusRatio = 16 }
        let opt = AdamWOptimizer(store: t.model.parameters, config: AdamWConfig())
        opt.useLoRAPlus(ratio: 16)
        for (p, scale) in zip(opt.parameters, opt.learningRateScales!) {
            let expected: Double = p.name.hasSuffix("lora_B.weight") || p.name.hasSuffix(".bias") ? 16 : 1
            XCTAssertEqual(scale, expected, p.name)
        }
        var bad = TrainingOptions()
        bad.method = .full
        bad.loraPlusRatio = 16
        XCTAssertThrowsError(try bad.validate()) { XCTAssertTrue("\($0)".contains("--loraplus-ratio"), "\($0)") }
        bad.method = .lora
        bad.loraPlusRatio = -1
        XCTAssertThrowsError(try bad.validate())
    }
}
