import Foundation
import Tensors
import SafeTensors
import InputValidation

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
    static func targetModules(_ targets: [LoRATarget], family: EncoderFamily) -> JSONValue {
        let names = targets.compactMap(family.peftName)
        if names.count == targets.count { return .array(names.map { .string($0) }) }
        let alternatives = targets.map { family.layer.path($0).replacingOccurrences(of: ".", with: "\\.") }.joined(separator: "|")
        let layerPattern = family.layerPrefix.replacingOccurrences(of: ".", with: "\\.")
        return .string(".*\\.\(layerPattern)\\d+\\.(\(alternatives))")
    }

    /// Writes the adapters and the head of `model` to `directory` (atomically per file).
    ///
    /// PiSSA adapters are written for the original base model, as PEFT's
    /// `path_initial_model_for_weight_conversion` converts them: the trained model is
    /// `(W − s·B₀A₀) + s·BA = W + s·[B, −B₀]·[A; A₀]`, so the file holds rank 2r with
    /// `A' = [A; A₀]`, `B' = [B, −B₀]`, `r' = 2r` and `α' = 2α` (α·√2 with rsLoRA), which keep
    /// the scale, and `init_lora_weights: true`.
    public static func save(_ model: EncoderModel, to directory: URL, baseModelPath: String) throws {
        guard var lora = model.loraConfig else { throw EncoderError.invalidInput("PEFTAdapter.save: the model has no LoRA adapters") }
        guard !model.adapters.contains(where: \.isMerged) else {
            throw EncoderError.invalidInput("PEFTAdapter.save: unmerge the adapters first")
        }
        var initialA: [String: LoRAAdapter] = [:], initialB: [String: LoRAAdapter] = [:]
        for a in model.adapters where a.pissaInitial != nil {
            initialA[a.a.name] = a
            initialB[a.b.name] = a
        }
        var records: [SafeTensorRecord] = []
        for p in model.parameters.all where p.name.contains(".lora_") || model.headParameterNames.contains(p.name) {
            if let ad = initialA[p.name], let a0 = ad.pissaInitial?.a {
                // [A; A₀]: the rows of A, then those of A₀.
                records.append(SafeTensorRecord(name: namePrefix + p.name, shape: [2 * p.shape[0], p.shape[1]],
                                                floats: p.value.toArray() + a0))
            } else if let ad = initialB[p.name], let b0 = ad.pissaInitial?.b {
                // [B, −B₀]: each row of B followed by the negated row of B₀.
                let out = p.shape[0], r = p.shape[1], b = p.value.toArray()
                var rows = [Float](); rows.reserveCapacity(2 * out * r)
                for o in 0..<out {
                    rows.append(contentsOf: b[(o * r)..<((o + 1) * r)])
                    rows.append(contentsOf: b0[(o * r)..<((o + 1) * r)].map { -$0 })
                }
                records.append(SafeTensorRecord(name: namePrefix + p.name, shape: [out, 2 * r], floats: rows))
            } else {
                records.append(SafeTensorRecord(name: namePrefix + p.name, shape: p.shape, pointer: p.pointer))
            }
        }
        if !initialA.isEmpty {
            lora.alpha = lora.rsLoRA ? lora.alpha * Float(2).squareRoot() : 2 * lora.alpha
            lora.rank *= 2
        }
        let config: [String: JSONValue] = [
            "peft_type": .string("LORA"),
            "task_type": .string("SEQ_CLS"),
            "base_model_name_or_path": .string(baseModelPath),
            "r": .number(Double(lora.rank)),
            "lora_alpha": .number(Double(lora.alpha)),
            "lora_dropout": .number(Double(lora.dropout)),
            "use_rslora": .bool(lora.rsLoRA),
            "target_modules": targetModules(lora.targets, family: model.config.family),
            "modules_to_save": .array(model.config.family.modulesToSave.map { .string($0) }),
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
        if let names = model.config.labelNames, !model.config.isRegression {
            try AtomicFile.write(labelsJSON(names), to: directory.appendingPathComponent(labelsFileName))
        }
    }

    /// The file beside `adapter_config.json` that names the head's classes (PEFT has no place
    /// for them): `{"id2label": {"0": "negative", …}, "label2id": {"negative": 0, …}}`, as in a
    /// transformers config.json.
    public static let labelsFileName = "labels.json"

    static func labelsJSON(_ names: [String]) throws -> Data {
        var id2label: [String: JSONValue] = [:], label2id: [String: JSONValue] = [:]
        for (i, n) in names.enumerated() {
            id2label[String(i)] = .string(n)
            label2id[n] = .number(Double(i))
        }
        return try JSONValue.encodeObject(["id2label": .object(id2label), "label2id": .object(label2id)])
    }

    /// The class names in an adapter's `labels.json`, or `nil` when it has none.
    /// - Throws: `EncoderError.invalidInput` naming the file for a malformed one or one whose
    ///   count differs from `labelCount`.
    static func readLabelNames(_ directory: URL, labelCount: Int) throws -> [String]? {
        let url = directory.appendingPathComponent(labelsFileName)
        guard FileManager.default.fileExists(atPath: url.path) else { return nil }
        let path = url.relativePath
        guard let data = FileManager.default.contents(atPath: url.path),
              case let .object(root)? = try? JSONDecoder().decode(JSONValue.self, from: data),
              case let .object(id2label)? = root["id2label"] else {
            throw EncoderError.invalidInput("\(path): expected a JSON object with an \"id2label\" object")
        }
        var names: [String] = []
        for i in 0..<id2label.count {
            guard case let .string(name)? = id2label[String(i)] else {
                throw EncoderError.invalidInput("\(path): id2label has no name for class \(i) (its keys must be 0…\(id2label.count - 1))")
            }
            names.append(name)
        }
        guard names.count == labelCount else {
            throw EncoderError.invalidInput("\(path): \(names.count) class names for a head with \(labelCount) outputs")
        }
        return names
    }

    /// What an adapter directory holds.
    public struct Description: Sendable {
        /// LoRA settings (targets inferred from the tensors present).
        public var lora: LoRAConfig
        /// Output count of the stored head, when the adapter carries one.
        public var headLabelCount: Int?
    }

    /// PEFT options this implementation does not have: refused by name rather than ignored.
    static let unsupportedOptions: [(key: String, isSet: @Sendable (JSONValue) -> Bool, why: String)] = [
        ("use_dora", { $0 == .bool(true) }, "DoRA adapters are not supported"),
        ("fan_in_fan_out", { $0 == .bool(true) }, "fan_in_fan_out (Conv1D weights) is not supported"),
        ("lora_bias", { $0 == .bool(true) }, "LoRA biases (lora_bias) are not supported"),
        ("layers_to_transform", { $0 != .null }, "layers_to_transform (adapters on some layers only) is not supported"),
        ("layers_pattern", { $0 != .null }, "layers_pattern is not supported"),
        ("rank_pattern", { if case let .object(o) = $0 { return !o.isEmpty }; return $0 != .null }, "rank_pattern (per-module ranks) is not supported"),
        ("alpha_pattern", { if case let .object(o) = $0 { return !o.isEmpty }; return $0 != .null }, "alpha_pattern (per-module alphas) is not supported"),
        ("bias", { $0 != .string("none") && $0 != .null }, "trained biases (bias other than \"none\") are not supported"),
        ("use_qalora", { $0 == .bool(true) }, "QA-LoRA is not supported"),
    ]

    /// Reads and validates `adapter_config.json` and the tensor names of an adapter directory:
    /// `r` ≥ 1, `lora_alpha` > 0, `lora_dropout` in [0, 1), unsupported PEFT options refused by
    /// name, and `target_modules` agreeing with the targets the tensors hold.
    ///
    /// - Parameter family: the base model's family; nil takes it from the tensor names.
    public static func describe(_ directory: URL, family: EncoderFamily? = nil) throws -> Description {
        let configURL = directory.appendingPathComponent("adapter_config.json")
        let source = configURL.relativePath
        guard FileManager.default.fileExists(atPath: configURL.path) else {
            throw EncoderError.missingFile(path: source, hint: "a PEFT adapter directory needs adapter_config.json")
        }
        let data = try Data(contentsOf: configURL)
        guard let json = try? JSONDecoder().decode([String: JSONValue].self, from: data) else {
            throw EncoderError.invalidConfig(path: source, reason: "not a JSON object")
        }
        guard case .string("LORA") = json["peft_type"] ?? .null else {
            throw EncoderError.invalidConfig(path: source, reason: "peft_type is not LORA")
        }
        guard case let .number(r) = json["r"] ?? .null, case let .number(alpha) = json["lora_alpha"] ?? .null else {
            throw EncoderError.invalidConfig(path: source, reason: "r and lora_alpha are required numbers")
        }
        let rules = ValueRules(source: source)
        guard r == r.rounded(), abs(r) < 1e9 else {
            throw InvalidValue(source: source, key: "r", value: String(r), allowed: "an integer ≥ 1")
        }
        try rules.within(Int(r), 1...65_536, key: "r")
        try rules.positive(alpha, key: "lora_alpha")
        // Stored as a Float: 1e50 is a finite Double but an infinite scale (found by fuzzing).
        guard Float(alpha).isFinite else {
            throw InvalidValue(source: source, key: "lora_alpha", value: String(alpha), allowed: "a finite number > 0 within a 32-bit float's range (≤ 3.4e38)")
        }
        for option in unsupportedOptions {
            if let value = json[option.key], option.isSet(value) {
                throw EncoderError.invalidConfig(path: source, reason: "\(option.key): \(option.why)")
            }
        }
        var rs = false
        if case let .bool(b) = json["use_rslora"] ?? .null { rs = b }
        var dropout: Float = 0
        if case let .number(d) = json["lora_dropout"] ?? .null {
            try rules.dropProbability(d, key: "lora_dropout")
            dropout = Float(d)
        }
        let weightsURL = directory.appendingPathComponent("adapter_model.safetensors")
        guard FileManager.default.fileExists(atPath: weightsURL.path) else {
            if FileManager.default.fileExists(atPath: directory.appendingPathComponent("adapter_model.bin").path) {
                throw EncoderError.pickleCheckpoint(path: directory.appendingPathComponent("adapter_model.bin").relativePath)
            }
            throw EncoderError.missingFile(path: weightsURL.relativePath, hint: "a PEFT adapter directory needs adapter_model.safetensors")
        }
        let file = try SafeTensorsFile(url: weightsURL)
        let names = file.tensors.keys
        let family = family ?? EncoderFamily.known.first { f in names.contains { $0.hasPrefix(namePrefix + f.checkpointPrefix) } } ?? EncoderFamily.known[0]
        // Whole module paths after the layer number: `output.dense` is also a suffix of `attention.output.dense`.
        var adapted = Set<String>()
        for name in names where name.hasSuffix(".lora_A.weight") {
            guard let rest = family.layerAndRest(of: name)?.rest else { continue }
            adapted.insert(String(rest.dropLast(".lora_A.weight".count)))
        }
        let targets = family.layer.targets.filter { adapted.contains(family.layer.path($0)) }
        guard !targets.isEmpty else {
            throw EncoderError.invalidConfig(path: weightsURL.relativePath, reason: "no lora_A tensors for "
                + family.layer.targets.map { family.layer.path($0) }.joined(separator: "/") + " of a \(family.name) model")
        }
        if let configured = try configuredTargets(json["target_modules"] ?? .null, family: family, source: source), Set(configured) != Set(targets) {
            throw EncoderError.invalidConfig(path: source, reason: "target_modules names \(configured.map(\.rawValue).sorted().joined(separator: ", ")) "
                + "but \(weightsURL.relativePath) holds adapters for \(targets.map(\.rawValue).sorted().joined(separator: ", "))")
        }
        var headLabels: Int?
        if let info = file.tensors[namePrefix + family.head.out + ".weight"] { headLabels = info.shape.first }
        return Description(lora: LoRAConfig(rank: Int(r), alpha: Float(alpha), dropout: dropout, targets: targets, rsLoRA: rs),
                           headLabelCount: headLabels)
    }

    /// The targets `target_modules` selects: a list of module-name suffixes (PEFT's rule) or a
    /// regular expression matched against whole module names; nil when absent.
    static func configuredTargets(_ value: JSONValue, family: EncoderFamily, source: String) throws -> [LoRATarget]? {
        func fullNames(_ t: LoRATarget) -> [String] {
            [family.layerModule(0, family.layer.path(t))]
        }
        switch value {
        case .null: return nil
        case let .array(items):
            let names = try items.map { item -> String in
                guard case let .string(s) = item else {
                    throw EncoderError.invalidConfig(path: source, reason: "target_modules holds a non-string entry")
                }
                return s
            }
            return family.layer.targets.filter { t in fullNames(t).contains { full in names.contains { full == $0 || full.hasSuffix("." + $0) } } }
        case let .string(pattern):
            guard let regex = try? NSRegularExpression(pattern: "^(?:" + pattern + ")$") else {
                throw EncoderError.invalidConfig(path: source, reason: "target_modules is not a valid regular expression")
            }
            return family.layer.targets.filter { t in
                fullNames(t).contains { regex.firstMatch(in: $0, range: NSRange($0.startIndex..., in: $0)) != nil }
            }
        default:
            throw EncoderError.invalidConfig(path: source, reason: "target_modules is neither a list nor a string")
        }
    }

    /// What to do with an adapter's head whose shapes are not the model's (another label count).
    public enum HeadOfAnotherSize: Sendable {
        /// A shape error naming the tensor (loading an adapter to use it).
        case refuse
        /// Keep the model's head, as initialised, and say so in `LoadedAdapter` (a warm start
        /// on another task).
        case reinitialise
    }

    /// What `load` took from an adapter's head.
    public struct LoadedAdapter: Sendable, Equatable {
        /// Head parameters read from the adapter.
        public var loadedHead: [String]
        /// Output count of the adapter's head when it has one.
        public var adapterHeadLabels: Int?
        /// Whether the adapter's head was left out because its shapes are not the model's.
        public var headReinitialised: Bool
    }

    /// An adapter's tensors read and checked against a base model, held apart from it: what
    /// `load` copies into the model, and what `lora serve` keeps per adapter beside one shared
    /// base.
    public struct Weights: Sendable {
        /// LoRA settings from `adapter_config.json` (targets from the tensors).
        public let lora: LoRAConfig
        /// Per layer, per target: `A` `(r, in)` and `B` `(out, r)`, row-major.
        public let layers: [[LoRATarget: (a: [Float], b: [Float])]]
        /// The head tensors the file holds, by the model's parameter name, with their shapes
        /// (the output Linear's rows are the adapter's label count).
        public let head: [String: (shape: [Int], values: [Float])]
        /// Output count of the adapter's head, nil when it has none.
        public let headLabelCount: Int?
        /// Class names from `labels.json` (classification heads only), nil when absent.
        public let labelNames: [String]?
        /// Floats held (A, B and head).
        public var floatCount: Int {
            layers.reduce(0) { $0 + $1.values.reduce(0) { $0 + $1.a.count + $1.b.count } } + head.values.reduce(0) { $0 + $1.values.count }
        }
    }

    /// Reads and checks the adapter in `directory` for `model`'s architecture without changing
    /// the model: `adapter_config.json` as `describe` checks it, the rank against the model, a
    /// `lora_A`/`lora_B` pair of the right shapes for every layer and target, head tensors of
    /// the model's shapes (but for the output Linear's label count, which must agree between
    /// its weight and bias), finite values, and no tensor beyond these.
    public static func read(_ directory: URL, for model: EncoderModel) throws -> Weights {
        let description = try describe(directory, family: model.config.family)
        let weightsURL = directory.appendingPathComponent("adapter_model.safetensors")
        let path = weightsURL.relativePath
        try description.lora.validate(for: model.config, source: directory.appendingPathComponent("adapter_config.json").relativePath, rankKey: "r")
        let file = try SafeTensorsFile(url: weightsURL)
        let family = model.config.family, r = description.lora.rank
        var expected = Set<String>()
        func tensor(_ name: String, shape: [Int]) throws -> [Float] {
            guard let info = file.tensors[name] else { throw EncoderError.missingTensor(file: path, tensor: name) }
            guard info.shape == shape else { throw EncoderError.shapeMismatch(file: path, tensor: name, expected: shape, actual: info.shape) }
            var values = [Float](repeating: 0, count: shape.reduce(1, *))
            try values.withUnsafeMutableBufferPointer { buffer in
                try file.readFloats(name, into: buffer.baseAddress!, count: buffer.count)
                try FiniteCheck.require(buffer.baseAddress!, count: buffer.count, tensor: name, file: path)
            }
            return values
        }
        var layers: [[LoRATarget: (a: [Float], b: [Float])]] = []
        for l in 0..<model.config.layerCount {
            var perTarget: [LoRATarget: (a: [Float], b: [Float])] = [:]
            for target in family.layer.targets where description.lora.targets.contains(target) {
                let lin = model.linear(of: target, layer: l)
                let base = namePrefix + family.layerModule(l, family.layer.path(target))
                let aName = base + ".lora_A.weight", bName = base + ".lora_B.weight"
                expected.formUnion([aName, bName])
                perTarget[target] = (try tensor(aName, shape: [r, lin.inFeatures]), try tensor(bName, shape: [lin.outFeatures, r]))
            }
            layers.append(perTarget)
        }
        // The head: the output Linear's rows are the adapter's label count; every other shape is the model's.
        var head: [String: (shape: [Int], values: [Float])] = [:]
        let labels = description.headLabelCount
        for name in model.headParameterNames {
            guard let p = model.parameters[name] else { continue }
            let fileName = namePrefix + name
            expected.insert(fileName)
            guard file.tensors[fileName] != nil else { continue }
            var shape = p.shape
            if name.hasPrefix(family.head.out + "."), let labels { shape[0] = labels }
            head[name] = (shape, try tensor(fileName, shape: shape))
        }
        let extra = file.tensors.keys.filter { !expected.contains($0) }.sorted()
        if !extra.isEmpty {
            let shown = extra.prefix(4).joined(separator: ", ") + (extra.count > 4 ? ", … (\(extra.count) in all)" : "")
            throw EncoderError.invalidInput("\(path): tensors beyond this model and adapter (\(model.config.layerCount) layers; targets "
                + "\(description.lora.targets.map(\.rawValue).joined(separator: ", ")); head): \(shown)")
        }
        var names: [String]? = nil
        if let labels, labels > 1 { names = try readLabelNames(directory, labelCount: labels) }
        return Weights(lora: description.lora, layers: layers, head: head, headLabelCount: labels, labelNames: names)
    }

    /// Attaches the adapter in `directory` to `model` (which must have none) and loads its
    /// weights and head, as `read` checks them; a head the adapter lacks stays in
    /// `model.newlyInitialised` (callers warn or refuse). A head of another label count is an
    /// error, or (`headOfAnotherSize: .reinitialise`) left out whole.
    @discardableResult
    public static func load(_ directory: URL, into model: EncoderModel, headOfAnotherSize: HeadOfAnotherSize = .refuse) throws -> LoadedAdapter {
        let weights = try read(directory, for: model)
        let path = directory.appendingPathComponent("adapter_model.safetensors").relativePath
        let differing = model.headParameterNames.first { name in
            guard let tensor = weights.head[name], let p = model.parameters[name] else { return false }
            return p.shape != tensor.shape
        }
        let headDiffers = differing != nil
        if let name = differing, headOfAnotherSize == .refuse {
            throw EncoderError.shapeMismatch(file: path, tensor: namePrefix + name, expected: model.parameters[name]!.shape,
                                             actual: weights.head[name]!.shape)
        }
        var rng = RandomGenerator(seed: 0)
        try model.attachLoRA(weights.lora, rng: &rng)
        for (l, perTarget) in weights.layers.enumerated() {
            for (target, ab) in perTarget {
                let adapter = model.linear(of: target, layer: l).adapter!
                adapter.a.value.pointer.update(from: ab.a, count: ab.a.count)
                adapter.b.value.pointer.update(from: ab.b, count: ab.b.count)
            }
        }
        var loadedHead: [String] = []
        if !headDiffers {
            for name in model.headParameterNames {
                guard let tensor = weights.head[name], let p = model.parameters[name] else { continue }
                p.value.pointer.update(from: tensor.values, count: p.count)
                loadedHead.append(name)
            }
        }
        // The adapter's head replaces the base model's; without one the base's stays, and it
        // is still random if the base had none (`newlyInitialised` keeps saying so).
        model.newlyInitialised.removeAll { loadedHead.contains($0) }
        if !loadedHead.isEmpty, !model.config.isRegression, let names = weights.labelNames {
            model.setLabelNames(names)
        }
        return LoadedAdapter(loadedHead: loadedHead, adapterHeadLabels: weights.headLabelCount, headReinitialised: headDiffers)
    }
}
