import Foundation
import Tensors
import SafeTensors

/// Reads and writes LoRA adapters in PEFT's format, so that `PeftModel.from_pretrained`
/// loads what swift-lora trains and swift-lora loads what PEFT trains.
///
/// A PEFT adapter directory holds `adapter_config.json` and `adapter_model.safetensors`.
/// Tensor names are `base_model.model.` + the module path, without PEFT's adapter name
/// (`…query.lora_A.weight`); the trained head (`modules_to_save`) is stored under its plain
/// name (`base_model.model.classifier.dense.weight`).
public enum PEFTAdapter {
    /// Prefix PEFT puts before every module path.
    public static let namePrefix = "base_model.model."

    /// PEFT's `target_modules` for our targets: plain names where they are unambiguous
    /// suffixes (query, key, value), else a regular expression matched against full names.
    static func targetModules(_ targets: [LoRATarget]) -> JSONValue {
        if targets.allSatisfy({ [.query, .key, .value].contains($0) }) {
            return .array(targets.map { .string($0.rawValue) })
        }
        let alternatives = targets.map { $0.modulePath.replacingOccurrences(of: ".", with: "\\.") }.joined(separator: "|")
        return .string(".*\\.layer\\.\\d+\\.(\(alternatives))")
    }

    /// Writes the adapters and the head of `model` to `directory` (atomically per file).
    public static func save(_ model: EncoderModel, to directory: URL, baseModelPath: String) throws {
        guard let lora = model.loraConfig else { throw EncoderError.invalidInput("PEFTAdapter.save: the model has no LoRA adapters") }
        guard !model.adapters.contains(where: \.isMerged) else {
            throw EncoderError.invalidInput("PEFTAdapter.save: unmerge the adapters first")
        }
        var records: [SafeTensorRecord] = []
        for p in model.parameters.all where p.name.contains(".lora_") || model.headParameterNames.contains(p.name) {
            records.append(SafeTensorRecord(name: namePrefix + p.name, shape: p.shape, pointer: p.pointer))
        }
        let config: [String: JSONValue] = [
            "peft_type": .string("LORA"),
            "task_type": .string("SEQ_CLS"),
            "base_model_name_or_path": .string(baseModelPath),
            "r": .number(Double(lora.rank)),
            "lora_alpha": .number(Double(lora.alpha)),
            "lora_dropout": .number(Double(lora.dropout)),
            "use_rslora": .bool(lora.rsLoRA),
            "target_modules": targetModules(lora.targets),
            "modules_to_save": .array([.string("classifier"), .string("score")]),
            "bias": .string("none"),
            "fan_in_fan_out": .bool(false),
            "inference_mode": .bool(true),
            "init_lora_weights": .bool(true),
            "use_dora": .bool(false),
            "lora_bias": .bool(false),
            "layers_to_transform": .null,
            "layers_pattern": .null,
            "rank_pattern": .object([:]),
            "alpha_pattern": .object([:]),
            "revision": .null,
        ]
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try SafeTensorsWriter.write(records, metadata: ["format": "pt"], to: directory.appendingPathComponent("adapter_model.safetensors"))
        try AtomicFile.write(JSONValue.encodeObject(config), to: directory.appendingPathComponent("adapter_config.json"))
    }

    /// What an adapter directory holds.
    public struct Description: Sendable {
        /// LoRA settings (targets inferred from the tensors present).
        public var lora: LoRAConfig
        /// Output count of the stored head, when the adapter carries one.
        public var headLabelCount: Int?
    }

    /// Reads `adapter_config.json` and the tensor names of an adapter directory.
    public static func describe(_ directory: URL) throws -> Description {
        let configURL = directory.appendingPathComponent("adapter_config.json")
        guard let data = try? Data(contentsOf: configURL) else {
            throw EncoderError.missingFile(path: configURL.path, hint: "a PEFT adapter directory needs adapter_config.json")
        }
        guard let json = try? JSONDecoder().decode([String: JSONValue].self, from: data) else {
            throw EncoderError.invalidConfig(path: configURL.path, reason: "not a JSON object")
        }
        guard case .string("LORA") = json["peft_type"] ?? .null else {
            throw EncoderError.invalidConfig(path: configURL.path, reason: "peft_type is not LORA")
        }
        guard case let .number(r) = json["r"] ?? .null, case let .number(alpha) = json["lora_alpha"] ?? .null else {
            throw EncoderError.invalidConfig(path: configURL.path, reason: "r and lora_alpha are required")
        }
        for key in ["rank_pattern", "alpha_pattern"] {
            if case let .object(o) = json[key] ?? .null, !o.isEmpty {
                throw EncoderError.invalidConfig(path: configURL.path, reason: "\(key) (per-module ranks) is not supported")
            }
        }
        if case .bool(true) = json["use_dora"] ?? .null {
            throw EncoderError.invalidConfig(path: configURL.path, reason: "DoRA adapters are not supported")
        }
        var rs = false
        if case let .bool(b) = json["use_rslora"] ?? .null { rs = b }
        var dropout: Float = 0
        if case let .number(d) = json["lora_dropout"] ?? .null { dropout = Float(d) }
        let weightsURL = directory.appendingPathComponent("adapter_model.safetensors")
        guard FileManager.default.fileExists(atPath: weightsURL.path) else {
            if FileManager.default.fileExists(atPath: directory.appendingPathComponent("adapter_model.bin").path) {
                throw EncoderError.pickleCheckpoint(path: directory.appendingPathComponent("adapter_model.bin").path)
            }
            throw EncoderError.missingFile(path: weightsURL.path, hint: "a PEFT adapter directory needs adapter_model.safetensors")
        }
        let file = try SafeTensorsFile(url: weightsURL)
        var targets: [LoRATarget] = []
        for t in LoRATarget.allCases {
            // `output.dense` is also a suffix of `attention.output.dense`: match whole paths.
            let hit = file.tensors.keys.contains { name in
                guard let range = name.range(of: "." + t.modulePath + ".lora_A") else { return false }
                return t != .output || !name[..<range.lowerBound].hasSuffix(".attention")
            }
            if hit { targets.append(t) }
        }
        guard !targets.isEmpty else {
            throw EncoderError.invalidConfig(path: weightsURL.path, reason: "no lora_A tensors for query/key/value/attention.output/intermediate/output")
        }
        var headLabels: Int?
        for name in ["classifier.weight", "classifier.out_proj.weight"] {
            if let info = file.tensors[namePrefix + name] { headLabels = info.shape.first }
        }
        return Description(lora: LoRAConfig(rank: Int(r), alpha: Float(alpha), dropout: dropout, targets: targets, rsLoRA: rs),
                           headLabelCount: headLabels)
    }

    /// Attaches the adapter in `directory` to `model` (which must have none) and loads its
    /// weights and head.
    public static func load(_ directory: URL, into model: EncoderModel) throws {
        let description = try describe(directory)
        var rng = RandomGenerator(seed: 0)
        model.attachLoRA(description.lora, rng: &rng)
        let weightsURL = directory.appendingPathComponent("adapter_model.safetensors")
        let file = try SafeTensorsFile(url: weightsURL)
        for p in model.parameters.all where p.name.contains(".lora_") || model.headParameterNames.contains(p.name) {
            let name = namePrefix + p.name
            guard let info = file.tensors[name] else {
                if model.headParameterNames.contains(p.name) { continue }
                throw EncoderError.missingTensor(file: weightsURL.path, tensor: name)
            }
            guard info.shape == p.shape else {
                throw EncoderError.shapeMismatch(file: weightsURL.path, tensor: name, expected: p.shape, actual: info.shape)
            }
            try file.readFloats(name, into: p.value.pointer, count: p.count)
        }
    }
}
