import XCTest
import Foundation
import Tensors
import SafeTensors
import Encoders
import TestSupport

/// Interoperability with PEFT and transformers (fixtures from
/// scripts/reference/make_interop_fixtures.py, described in scripts/reference/README.md):
/// the adapter `lora train` wrote, loaded in PEFT on all-MiniLM-L6-v2, gives our logits;
/// the directory `lora merge` writes (`saveModel` after `mergeAdapters`) gives transformers'
/// logits; a PEFT-trained adapter loads here (`lora predict --adapter`) and gives PEFT's logits.
final class InteropTests: XCTestCase {
    static let hint = "regenerate with scripts/reference/make_interop_fixtures.py"

    func interopFixture(_ relative: String) throws -> URL {
        switch TestPaths.require(TestPaths.fixture("interop/" + relative), hint: Self.hint) {
        case let .success(u): return u
        case let .failure(e): XCTFail(e.message); throw e
        }
    }

    /// all-MiniLM-L6-v2; a missing model is a failure, never a skip.
    func requireMiniLM() throws -> URL {
        let dir = TestPaths.miniLMDirectory
        switch TestPaths.require(dir.appendingPathComponent("model.safetensors"),
                                 hint: "run scripts/fetch-model.sh (the README's test command does)") {
        case .success: return dir
        case let .failure(e): XCTFail(e.message); throw e
        }
    }

    func expected() throws -> SafeTensorsFile {
        try SafeTensorsFile(url: try interopFixture("expected.safetensors"))
    }

    /// The base with our committed adapter attached (not merged).
    func miniLMWithAdapter() throws -> EncoderModel {
        let model = try EncoderModel.load(directory: try requireMiniLM(), labelCount: 2)
        try PEFTAdapter.load(try interopFixture("minilm-mrpc-adapter"), into: model)
        return model
    }

    /// The adapter `lora train` wrote, read back by us, gives what PEFT computes with it on
    /// the same base — unmerged and merged.
    func testOurAdapterMatchesPEFT() throws {
        let expected = try expected()
        let reference = try expected.floats("peft_logits")
        let batch = try fixtureBatch(expected)
        XCTAssertEqual(batch.count, 24)
        let model = try miniLMWithAdapter()
        XCTAssertEqual(model.adapters.count, 12, "query and value in 6 layers")
        XCTAssertGreaterThan(model.adapters.map { $0.b.value.toArray().map(abs).max() ?? 0 }.max() ?? 0, 1e-3,
                             "the fixture adapter must have a non-zero lora_B")

        let unmerged = try model.predict(batch)
        let d1 = Approx.maxAbsDiff(unmerged, reference)
        XCTAssertLessThanOrEqual(d1, 1e-4, "unmerged adapter vs PEFT: max abs diff \(d1)")

        model.mergeAdapters()
        let merged = try model.predict(batch)
        let d2 = Approx.maxAbsDiff(merged, reference)
        XCTAssertLessThanOrEqual(d2, 1e-4, "merged adapter vs PEFT: max abs diff \(d2)")

        // The inference layout (transposed Linear weights, NN products) computes the same
        // logits; training and saving then refuse instead of reading transposed weights.
        model.useInferenceLayout()
        XCTAssertTrue(model.usesInferenceLayout)
        let transposed = try model.predict(batch)
        let d3 = Approx.maxAbsDiff(transposed, reference)
        XCTAssertLessThanOrEqual(d3, 1e-4, "inference layout vs PEFT: max abs diff \(d3)")
        XCTAssertLessThanOrEqual(Approx.maxAbsDiff(transposed, merged), 1e-5)
        var rng = RandomGenerator(seed: 1)
        XCTAssertThrowsError(try model.forwardBackward(batch, labels: .classes([Int32](repeating: 0, count: batch.count)), rng: &rng))
        XCTAssertThrowsError(try model.saveModel(to: FileManager.default.temporaryDirectory.appendingPathComponent("never-written")))
    }

    /// What `lora merge` writes (merge, then `saveModel`) reloads here as a plain model and
    /// gives the logits transformers computed on `lora merge`'s output directory.
    func testMergedModelDirectoryMatchesTransformers() throws {
        let expected = try expected()
        let batch = try fixtureBatch(expected)
        let model = try miniLMWithAdapter()
        model.mergeAdapters()
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("interop-merged-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: out) }
        try model.saveModel(to: out)

        let reloaded = try EncoderModel.load(directory: out)
        XCTAssertEqual(reloaded.config.labelCount, 2)
        XCTAssertTrue(reloaded.newlyInitialised.isEmpty, "the merged directory carries the trained head: \(reloaded.newlyInitialised)")
        XCTAssertTrue(reloaded.adapters.isEmpty)
        let file = try SafeTensorsFile(url: out.appendingPathComponent("model.safetensors"))
        XCTAssertFalse(file.tensors.keys.contains { $0.contains("lora_") }, "no adapter tensors in a merged model")

        let logits = try reloaded.predict(batch)
        let d = Approx.maxAbsDiff(logits, try expected.floats("merged_logits"))
        XCTAssertLessThanOrEqual(d, 1e-4, "reloaded merged model vs transformers on the `lora merge` directory: max abs diff \(d)")
    }

    /// The PEFT-trained tiny roberta adapter (`PeftModel.save_pretrained` output) loads and
    /// gives PEFT's logits, unmerged and merged.
    func testPEFTTrainedAdapterLoads() throws {
        let dir = try requireFixture("lora/peft-tiny-roberta")
        let batch = try fixtureBatch(try SafeTensorsFile(url: dir.appendingPathComponent("expected.safetensors")), prefix: "step1.")
        let reference = try expected().floats("tiny_peft_logits")
        let model = try EncoderModel.load(directory: dir.appendingPathComponent("base"))
        try PEFTAdapter.load(dir.appendingPathComponent("adapter_final"), into: model)
        XCTAssertEqual(model.adapters.count, 4, "query and value in 2 layers")
        let d1 = Approx.maxAbsDiff(try model.predict(batch), reference)
        XCTAssertLessThanOrEqual(d1, 1e-5, "PEFT-trained adapter, unmerged: max abs diff \(d1)")
        model.mergeAdapters()
        let d2 = Approx.maxAbsDiff(try model.predict(batch), reference)
        XCTAssertLessThanOrEqual(d2, 1e-5, "PEFT-trained adapter, merged: max abs diff \(d2)")
    }

    /// The library calls `lora predict --model DIR --adapter DIR` makes (CLI.loadModel: the
    /// head size from the adapter, load, attach; then merge and predict).
    func predictPath(model modelDir: URL, adapter: URL, batch: EncoderBatch) throws -> [Float] {
        let labels = try PEFTAdapter.describe(adapter).headLabelCount
        XCTAssertEqual(labels, 2, "head size read from the adapter")
        let model = try EncoderModel.load(directory: modelDir, labelCount: labels)
        try PEFTAdapter.load(adapter, into: model)
        model.mergeAdapters()
        return try model.predict(batch)
    }

    func testPredictWithAdapterPath() throws {
        let expected = try expected()
        // A PEFT-trained adapter.
        let tiny = try requireFixture("lora/peft-tiny-roberta")
        let tinyBatch = try fixtureBatch(try SafeTensorsFile(url: tiny.appendingPathComponent("expected.safetensors")), prefix: "step1.")
        let tinyLogits = try predictPath(model: tiny.appendingPathComponent("base"),
                                         adapter: tiny.appendingPathComponent("adapter_final"), batch: tinyBatch)
        let d1 = Approx.maxAbsDiff(tinyLogits, try expected.floats("tiny_peft_logits"))
        XCTAssertLessThanOrEqual(d1, 1e-5, "predict --adapter (PEFT-trained) vs PEFT: max abs diff \(d1)")

        // Ours on MiniLM, whose checkpoint has no head: the adapter's head is used.
        let logits = try predictPath(model: try requireMiniLM(), adapter: try interopFixture("minilm-mrpc-adapter"),
                                     batch: try fixtureBatch(expected))
        let reference = try expected.floats("peft_logits")
        let d2 = Approx.maxAbsDiff(logits, reference)
        XCTAssertLessThanOrEqual(d2, 1e-4, "predict --adapter (ours) vs PEFT: max abs diff \(d2)")
        for i in 0..<(reference.count / 2) where abs(reference[2 * i] - reference[2 * i + 1]) > 1e-3 {
            XCTAssertEqual(logits[2 * i] > logits[2 * i + 1], reference[2 * i] > reference[2 * i + 1], "predicted label of row \(i)")
        }
    }
}
