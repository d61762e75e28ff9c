import XCTest
import Foundation
import Tensors
import SafeTensors
import Encoders
import GLUE
import Training
import TestSupport

final class PEFTTrainingParityTests: XCTestCase {
    /// Three AdamW steps of LoRA (r = 4, α = 8, query/value, dropout 0) plus the head,
    /// from PEFT's initial weights: every trained tensor matches PEFT's within 1e-5.
    func checkThreeSteps(_ name: String) throws {
        let dir = TestPaths.fixture("lora/\(name)")
        let initial = try SafeTensorsFile(url: dir.appendingPathComponent("initial.safetensors"))
        let expected = try SafeTensorsFile(url: dir.appendingPathComponent("expected.safetensors"))
        let model = try EncoderModel.load(directory: dir.appendingPathComponent("base"))
        var rng = RandomGenerator(seed: 0)
        try model.attachLoRA(LoRAConfig(rank: 4, alpha: 8, targets: model.config.family.defaultTargets), rng: &rng)
        for p in model.parameters.trainable {
            try initial.readFloats(PEFTAdapter.namePrefix + p.name, into: p.value.pointer, count: p.count)
        }
        let opt = AdamWOptimizer(parameters: model.parameters.trainable, config: AdamWConfig(weightDecay: 0.01))
        for step in 1...3 {
            let ids = try expected.integers("step\(step).input_ids").map(Int32.init)
            let types = try expected.integers("step\(step).token_type_ids").map(Int32.init)
            let lengths = try expected.integers("step\(step).lengths")
            var seqs: [[Int32]] = [], tseqs: [[Int32]] = []
            var o = 0
            for l in lengths { seqs.append(Array(ids[o..<(o + l)])); tseqs.append(Array(types[o..<(o + l)])); o += l }
            let labels = try expected.integers("step\(step).labels").map(Int32.init)
            model.parameters.zeroGradients()
            let (loss, _) = try model.forwardBackward(EncoderBatch(sequences: seqs, typeIds: tseqs), labels: .classes(labels), training: false, rng: &rng)
            XCTAssertEqual(loss, try expected.floats("step\(step).loss")[0], accuracy: 1e-5, "\(name) step \(step) loss")
            opt.step(learningRate: 1e-3)
        }
        for p in model.parameters.trainable {
            let ref = try expected.floats("final." + PEFTAdapter.namePrefix + p.name)
            XCTAssertLessThanOrEqual(Approx.maxAbsDiff(p.value.toArray(), ref), 1e-5, "\(name): \(p.name) after 3 steps")
        }
    }

    func testRobertaThreeAdamWStepsMatchPEFT() throws { try checkThreeSteps("peft-tiny-roberta") }
    func testBertThreeAdamWStepsMatchPEFT() throws { try checkThreeSteps("peft-tiny-bert") }
    func testElectraThreeAdamWStepsMatchPEFT() throws { try checkThreeSteps("peft-tiny-electra") }
    func testDistilbertThreeAdamWStepsMatchPEFT() throws { try checkThreeSteps("peft-tiny-distilbert") }
    /// ModernBERT: one adapter on the fused `Wqkv`, the classifier trained, the pretrained head frozen.
    func testModernBertThreeAdamWStepsMatchPEFT() throws { try checkThreeSteps("peft-tiny-modernbert") }
    func testXLMRobertaThreeAdamWStepsMatchPEFT() throws { try checkThreeSteps("peft-tiny-xlm-roberta") }
    func testCamembertThreeAdamWStepsMatchPEFT() throws { try checkThreeSteps("peft-tiny-camembert") }

    /// The adapter PEFT saved after training loads here and holds PEFT's final weights.
    func testPEFTAdapterLoads() throws {
        let dir = TestPaths.fixture("lora/peft-tiny-roberta")
        let model = try EncoderModel.load(directory: dir.appendingPathComponent("base"))
        try PEFTAdapter.load(dir.appendingPathComponent("adapter_final"), into: model)
        XCTAssertEqual(model.loraConfig?.rank, 4)
        XCTAssertEqual(model.loraConfig?.targets, [.query, .value])
        let expected = try SafeTensorsFile(url: dir.appendingPathComponent("expected.safetensors"))
        for p in model.parameters.trainable {
            XCTAssertEqual(p.value.toArray(), try expected.floats("final." + PEFTAdapter.namePrefix + p.name), p.name)
        }
    }
}

/// The newer families' PEFT fixtures: PEFT's trained adapter loads with PEFT's final weights,
/// and LoRA trains exactly as many parameters as PEFT did.
final class FamilyAdapterTests: XCTestCase {
    func testPEFTAdaptersOfEveryFamilyLoadAndCountAsPEFT() throws {
        for name in ["peft-tiny-electra", "peft-tiny-distilbert", "peft-tiny-modernbert", "peft-tiny-xlm-roberta", "peft-tiny-camembert"] {
            let dir = TestPaths.fixture("lora/\(name)")
            let meta = try JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent("meta.json"))) as! [String: Any]
            let counted = try EncoderModel.load(directory: dir.appendingPathComponent("base"))
            var rng = RandomGenerator(seed: 0)
            try counted.attachLoRA(LoRAConfig(rank: 4, alpha: 8, targets: counted.config.family.defaultTargets), rng: &rng)
            XCTAssertEqual(counted.parameters.trainableCount, (meta["trainable_parameters"] as! NSNumber).intValue, "\(name): trainable count")

            let model = try EncoderModel.load(directory: dir.appendingPathComponent("base"))
            try PEFTAdapter.load(dir.appendingPathComponent("adapter_final"), into: model)
            XCTAssertEqual(model.loraConfig?.rank, 4, name)
            XCTAssertEqual(model.loraConfig?.targets, model.config.family.defaultTargets, name)
            XCTAssertTrue(model.newlyInitialised.isEmpty, "\(name): the adapter's head replaces the base's")
            let expected = try SafeTensorsFile(url: dir.appendingPathComponent("expected.safetensors"))
            for p in model.parameters.trainable {
                XCTAssertEqual(p.value.toArray(), try expected.floats("final." + PEFTAdapter.namePrefix + p.name), "\(name): \(p.name)")
            }
        }
    }
}

extension FamilyAdapterTests {
    /// An adapter swift-lora writes for the newer families is PEFT's file again: the same tensor
    /// names and values as the adapter PEFT saved, the same `target_modules`, and every module
    /// PEFT saved in `modules_to_save`.
    func testAdaptersWeWriteMatchWhatPEFTWrote() throws {
        for name in ["peft-tiny-electra", "peft-tiny-distilbert", "peft-tiny-modernbert", "peft-tiny-xlm-roberta", "peft-tiny-camembert"] {
            let dir = TestPaths.fixture("lora/\(name)")
            let model = try EncoderModel.load(directory: dir.appendingPathComponent("base"))
            try PEFTAdapter.load(dir.appendingPathComponent("adapter_final"), into: model)
            let out = FileManager.default.temporaryDirectory.appendingPathComponent("family-adapter-\(UUID().uuidString)")
            defer { try? FileManager.default.removeItem(at: out) }
            try PEFTAdapter.save(model, to: out, baseModelPath: "base")
            let ours = try SafeTensorsFile(url: out.appendingPathComponent("adapter_model.safetensors"))
            let theirs = try SafeTensorsFile(url: dir.appendingPathComponent("adapter_final/adapter_model.safetensors"))
            XCTAssertEqual(Set(ours.names), Set(theirs.names), name)
            for tensor in theirs.names { XCTAssertEqual(try ours.floats(tensor), try theirs.floats(tensor), "\(name): \(tensor)") }
            func config(_ url: URL) throws -> [String: Any] {
                try JSONSerialization.jsonObject(with: Data(contentsOf: url.appendingPathComponent("adapter_config.json"))) as! [String: Any]
            }
            let ourConfig = try config(out), theirConfig = try config(dir.appendingPathComponent("adapter_final"))
            XCTAssertEqual(Set(ourConfig["target_modules"] as! [String]), Set(theirConfig["target_modules"] as! [String]), name)
            XCTAssertTrue(Set(theirConfig["modules_to_save"] as! [String]).isSubset(of: Set(ourConfig["modules_to_save"] as! [String])),
                          "\(name): \(String(describing: ourConfig["modules_to_save"])) vs \(String(describing: theirConfig["modules_to_save"]))")
            XCTAssertEqual(ourConfig["r"] as? Int, theirConfig["r"] as? Int)
            XCTAssertEqual((ourConfig["lora_alpha"] as? NSNumber)?.doubleValue, (theirConfig["lora_alpha"] as? NSNumber)?.doubleValue)
        }
    }
}

/// A small synthetic classification task on the tiny BERT fixture.
func syntheticExamples(count: Int, seed: UInt64) -> [TokenizedExample] {
    var rng = RandomGenerator(seed: seed)
    return (0..<count).map { _ in
        let len = 3 + Int(rng.next() % 9)
        var ids: [Int32] = [2]
        for _ in 0..<(len - 2) { ids.append(Int32(5 + rng.next() % 95)) }
        ids.append(3)
        // Label depends on the tokens, so the task is learnable.
        let label = ids.dropFirst().first.map { Int($0) % 2 } ?? 0
        return TokenizedExample(ids: ids, typeIds: [Int32](repeating: 0, count: ids.count), label: .classIndex(label))
    }
}

final class TrainerTests: XCTestCase {
    var out: URL!

    override func setUpWithError() throws {
        out = FileManager.default.temporaryDirectory.appendingPathComponent("trainer-\(UUID().uuidString)")
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: out) }

    func makeTrainer(_ dir: URL, method: FineTuningMethod = .lora, configure: (inout TrainingOptions) -> Void = { _ in }) throws -> Trainer {
        let model = try EncoderModel.load(directory: TestPaths.fixture("lora/peft-tiny-bert/base"))
        var o = TrainingOptions()
        o.method = method
        o.lora = LoRAConfig(rank: 4, alpha: 8, dropout: 0.1)
        o.epochs = 2
        o.batchSize = 8
        o.learningRate = 5e-3
        o.seed = 7
        o.checkpointEvery = 3
        configure(&o)
        let trainer = try Trainer(model: model, task: .rte, train: syntheticExamples(count: 40, seed: 1),
                                  dev: syntheticExamples(count: 16, seed: 2), options: o, outputDirectory: dir, baseModelPath: "base")
        trainer.progress = { _ in }
        return trainer
    }

    func losses(_ dir: URL) throws -> [Double] {
        try String(contentsOf: dir.appendingPathComponent("log.jsonl"), encoding: .utf8).split(separator: "\n").compactMap { line in
            let obj = try JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
            return obj["type"] as? String == "step" ? (obj["loss"] as! NSNumber).doubleValue : nil
        }
    }

    func testSameSeedSameLossCurveBitForBit() throws {
        let a = out.appendingPathComponent("a"), b = out.appendingPathComponent("b")
        _ = try makeTrainer(a).run()
        _ = try makeTrainer(b).run()
        let la = try losses(a), lb = try losses(b)
        XCTAssertEqual(la.count, 10)
        XCTAssertEqual(la, lb)
        let c = out.appendingPathComponent("c")
        _ = try makeTrainer(c) { $0.seed = 8 }.run()
        XCTAssertNotEqual(try losses(c), la, "another seed gives another curve")
    }

    func testWritesLogSummaryAndPEFTAdapter() throws {
        let dir = out.appendingPathComponent("run")
        let summary = try makeTrainer(dir).run()
        XCTAssertEqual(summary.steps, 10)
        XCTAssertEqual(summary.adapterParameters, 2 * 2 * (4 * 36 + 36 * 4))
        XCTAssertEqual(summary.trainableParameters, summary.adapterParameters + 2 * 36 + 2)
        let log = try String(contentsOf: dir.appendingPathComponent("log.jsonl"), encoding: .utf8)
        XCTAssertEqual(log.components(separatedBy: "\"type\":\"eval\"").count - 1, 2, "one evaluation per epoch")
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir.appendingPathComponent("summary.json").path))
        let described = try PEFTAdapter.describe(dir.appendingPathComponent("adapter"))
        XCTAssertEqual(described.lora.rank, 4)
        XCTAssertEqual(described.headLabelCount, 2)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir.appendingPathComponent("checkpoint.safetensors").path))
    }

    /// A run killed after step 5 and resumed ends with the same weights as an uninterrupted run.
    func testResumeGivesTheSameFinalWeights() throws {
        for method in [FineTuningMethod.lora, .full] {
            let full = out.appendingPathComponent("full-\(method)"), split = out.appendingPathComponent("split-\(method)")
            let t1 = try makeTrainer(full, method: method)
            _ = try t1.run()
            _ = try makeTrainer(split, method: method) { $0.stopAfterSteps = 5 }.run()
            XCTAssertTrue(FileManager.default.fileExists(atPath: split.appendingPathComponent("checkpoint.safetensors").path))
            let t2 = try makeTrainer(split, method: method)
            _ = try t2.run(resume: true)
            for (p, q) in zip(t1.model.parameters.trainable, t2.model.parameters.trainable) {
                XCTAssertEqual(p.value.toArray(), q.value.toArray(), "\(method): \(p.name) differs after resume")
            }
            XCTAssertEqual(try losses(full), try losses(split), "\(method): the resumed log equals the uninterrupted one")
        }
    }

    func testNaNLossStopsWithStep() throws {
        let dir = out.appendingPathComponent("nan")
        let trainer = try makeTrainer(dir) { $0.learningRate = 1e-3 }
        trainer.model.parameters["classifier.weight"]!.value.pointer[0] = .nan
        XCTAssertThrowsError(try trainer.run()) { error in
            guard case let TrainingError.nonFiniteLoss(step, _, _) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(step, 1)
            XCTAssertTrue("\(error)".contains("step 1"))
        }
    }

    func testIsoAccuracyStopsWhenScoreReached() throws {
        let dir = out.appendingPathComponent("iso")
        let summary = try makeTrainer(dir) { $0.stopAtScore = 0; $0.evalEvery = 2 }.run()
        XCTAssertTrue(summary.stoppedEarly)
        XCTAssertEqual(summary.steps, 2)
        XCTAssertNotNil(summary.reachedScoreAtSeconds)
    }
}
