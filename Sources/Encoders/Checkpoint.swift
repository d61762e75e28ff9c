import Foundation
import Tensors
import SafeTensors
import InputValidation

/// How the names of a Hugging Face checkpoint map onto swift-lora's canonical names.
///
/// One explicit table: a canonical name (`bert.encoder.layer.0.attention.self.query.weight`)
/// is found in a checkpoint under any of its accepted spellings — with the model prefix
/// (`*ForSequenceClassification`), without it (`BertModel`/`RobertaModel` checkpoints such as
/// all-MiniLM-L6-v2), and with the old TensorFlow-era LayerNorm names `gamma`/`beta`.
public enum CheckpointNames {
    /// The spellings under which `canonical` may appear, most specific first.
    public static func candidates(for canonical: String, family: EncoderFamily) -> [String] {
        let prefix = family.checkpointPrefix
        var bases = [canonical]
        if canonical.hasPrefix(prefix) { bases.append(String(canonical.dropFirst(prefix.count))) }
        var out = bases
        for b in bases {
            if b.hasSuffix("LayerNorm.weight") { out.append(String(b.dropLast("weight".count)) + "gamma") }
            if b.hasSuffix("LayerNorm.bias") { out.append(String(b.dropLast("bias".count)) + "beta") }
        }
        return out
    }
}

extension EncoderModel {
    /// Loads a Hugging Face model directory (`config.json` + `model.safetensors`).
    ///
    /// - Parameters:
    ///   - labelCount: number of outputs the head must have; when the checkpoint's head is
    ///     missing or has another size, a new head is initialised (normal(0,
    ///     initializer_range), zero bias) from `seed`, as transformers does.
    ///   - labelNames: names for a new head's labels (written to an exported config).
    /// - Throws: `EncoderError` naming the file and tensor for a missing file, a pickle-only
    ///   directory, a missing encoder tensor or a shape mismatch; `SafeTensorsError` for a
    ///   malformed file.
    public static func load(directory: URL, labelCount: Int? = nil, labelNames: [String]? = nil, seed: UInt64 = 0) throws -> EncoderModel {
        let fm = FileManager.default
        var isDir: ObjCBool = false
        guard fm.fileExists(atPath: directory.path, isDirectory: &isDir), isDir.boolValue else {
            throw EncoderError.missingFile(path: directory.path, hint: "expected a model directory with config.json and model.safetensors")
        }
        var config = try EncoderConfig.load(from: directory.appendingPathComponent("config.json"))
        let weightsURL = directory.appendingPathComponent("model.safetensors")
        guard fm.fileExists(atPath: weightsURL.path) else {
            if fm.fileExists(atPath: directory.appendingPathComponent("pytorch_model.bin").path) {
                throw EncoderError.pickleCheckpoint(path: directory.appendingPathComponent("pytorch_model.bin").path)
            }
            throw EncoderError.missingFile(path: weightsURL.path, hint: "the model directory needs model.safetensors")
        }
        let checkpointLabels = config.labelCount
        if let labelCount {
            try ValueRules(source: nil).within(labelCount, 1...100_000, key: "number of labels")
        }
        if let labelCount, labelCount != config.labelCount {
            config.labelCount = labelCount
            config.labelNames = labelNames
        } else if let labelNames, labelNames.count == config.labelCount {
            config.labelNames = labelNames
        }
        let file = try SafeTensorsFile(url: weightsURL)
        try config.validate(against: file, configPath: directory.appendingPathComponent("config.json").relativePath,
                            checkpointPath: weightsURL.relativePath)
        let model = EncoderModel(config: config)
        let quantizedFile = try QuantizedCheckpoint.isQuantized(config, path: directory.appendingPathComponent("config.json").relativePath)
        var stored: [String: QuantizedWeight] = [:]
        let head = Set(model.headParameterNames)
        // A base-model checkpoint may lack the head's first Linear even where it is pretrained (a pooler).
        let optional = Set([config.family.head.dense, config.family.head.norm].compactMap { $0 }.flatMap { [$0 + ".weight", $0 + ".bias"] })
        var missingHead: [String] = []
        for p in model.parameters.all {
            let found = CheckpointNames.candidates(for: p.name, family: config.family).first { file.tensors[$0] != nil }
            if head.contains(p.name), checkpointLabels != config.labelCount {
                missingHead.append(p.name)
                continue
            }
            guard let name = found else {
                if head.contains(p.name) || optional.contains(p.name) {
                    missingHead.append(p.name)
                    continue
                }
                throw EncoderError.missingTensor(file: weightsURL.path, tensor: p.name)
            }
            let info = try file.info(name)
            guard info.shape == p.shape else {
                throw EncoderError.shapeMismatch(file: weightsURL.path, tensor: name, expected: p.shape, actual: info.shape)
            }
            if info.dtype == .i8, quantizedFile, p.shape.count == 2 {
                // The fp32 parameter holds the dequantised weight (for anything that reads it).
                let q = try QuantizedCheckpoint.read(file, name: name, shape: p.shape, path: weightsURL.relativePath)
                q.dequantize(into: p.value.pointer)
                stored[p.name] = q
                continue
            }
            try file.readFloats(name, into: p.value.pointer, count: p.count)
            try FiniteCheck.require(p.value.pointer, count: p.count, tensor: name, file: weightsURL.relativePath)
        }
        if quantizedFile {
            let linears = model.layers.flatMap(\.linears) + (model.embeddingProjection.map { [$0] } ?? [])
            if let plain = linears.first(where: { stored[$0.weight.name] == nil }) {
                throw EncoderError.invalidInput("\(weightsURL.relativePath): an int8 model (quantization_config) stores '\(plain.weight.name)' as "
                    + "\((try? file.info(plain.weight.name).dtype.rawValue) ?? "nothing"); every encoder Linear must be I8 with its _scale")
            }
            model.quantizeLinears(stored: stored)
        }
        var rng = RandomGenerator(seed: seed)
        model.initialiseHead(names: missingHead, rng: &rng)
        model.newlyInitialised = missingHead
        return model
    }

    /// The tensors of the whole model under Hugging Face names (adapters merged into their
    /// weights if attached and merged; unmerged adapters are left out).
    public func modelRecords() -> [SafeTensorRecord] {
        parameters.all.filter { !$0.name.contains(".lora_") }.map { SafeTensorRecord(name: $0.name, shape: $0.shape, pointer: $0.pointer) }
    }

    /// Writes a Hugging Face model directory (`config.json` + `model.safetensors`), atomically
    /// per file. LoRA adapters must be merged first for their effect to be included.
    public func saveModel(to directory: URL) throws {
        if usesInferenceLayout {
            throw EncoderError.invalidInput("saveModel: this model was switched to the inference layout; save it before useInferenceLayout()")
        }
        if adapters.contains(where: { !$0.isMerged }) {
            throw EncoderError.invalidInput("saveModel: merge the LoRA adapters first (the plain model format has no place for them)")
        }
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try SafeTensorsWriter.write(modelRecords(), metadata: ["format": "pt"], to: directory.appendingPathComponent("model.safetensors"))
        try AtomicFile.write(JSONValue.encodeObject(config.exportJSON(), decimalPaths: config.decimalPaths),
                             to: directory.appendingPathComponent("config.json"))
    }

    /// Tokenizer files a Hugging Face model directory may hold.
    public static let tokenizerFileNames = ["tokenizer.json", "tokenizer_config.json", "vocab.txt", "vocab.json", "merges.txt", "special_tokens_map.json"]

    /// Copies the tokenizer files of `source` that `destination` lacks, so that a written
    /// model directory is self-contained.
    public static func copyTokenizerFiles(from source: URL, to destination: URL) throws {
        let fm = FileManager.default
        for name in tokenizerFileNames {
            let src = source.appendingPathComponent(name), dst = destination.appendingPathComponent(name)
            if fm.fileExists(atPath: src.path) && !fm.fileExists(atPath: dst.path) { try fm.copyItem(at: src, to: dst) }
        }
    }

    /// Parameter counts: trainable, total (base model plus adapters) and the trainable share.
    public var parameterCounts: (trainable: Int, total: Int) {
        (parameters.trainableCount, parameters.totalCount)
    }
}
