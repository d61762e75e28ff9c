// The int8 model directory `lora quantize` writes and `EncoderModel.load` reads back without quantising again.
import Foundation
import SafeTensors
import Tensors

/// An int8 model is a Hugging Face model directory whose `config.json` carries
/// `"quantization_config": {"quant_method": "swift-lora-int8", …}` and whose
/// `model.safetensors` stores each encoder Linear's weight as an `I8` tensor `(out, in)` under
/// its usual name, with its per-output-channel scales as an `F32` tensor `(out)` named
/// `<name>_scale` (the weight is `scale[o] · q[o, i]`). Every other tensor is `F32` as in the
/// fp32 model. Activations are quantised per row at run time, so nothing else is stored.
public enum QuantizedCheckpoint {
    /// `quantization_config.quant_method` of the format.
    public static let method = "swift-lora-int8"
    /// Suffix of a scale tensor's name.
    public static let scaleSuffix = "_scale"

    /// `quantization_config` as written into `config.json`.
    static var configEntry: JSONValue {
        .object([
            "quant_method": .string(method),
            "format_version": .number(1),
            "weights": .string("int8, symmetric, per output channel; I8 tensor <name> (out, in) and F32 <name>_scale (out)"),
            "activations": .string("int8, symmetric, per row, at run time"),
            "modules": .string("the encoder layers' Linears (and ELECTRA's embeddings projection); embeddings, LayerNorms and the head are F32"),
        ])
    }

    /// Whether `config` describes an int8 model; throws for a `quantization_config` of another
    /// method (bitsandbytes, GPTQ, …), whose tensors this tool cannot read.
    static func isQuantized(_ config: EncoderConfig, path: String) throws -> Bool {
        guard let entry = config.rawJSON["quantization_config"] else { return false }
        guard case let .object(o) = entry, case let .string(m)? = o["quant_method"] else {
            throw EncoderError.invalidConfig(path: path, reason: "quantization_config has no quant_method string")
        }
        guard m == method else {
            throw EncoderError.invalidConfig(path: path, reason: "quantization_config.quant_method '\(m)' is not supported (only '\(method)', written by lora quantize)")
        }
        return true
    }

    /// Reads the `I8` weight `name` and its scales, checked: values in −127…127, one finite
    /// scale > 0 per row.
    static func read(_ file: SafeTensorsFile, name: String, shape: [Int], path: String) throws -> QuantizedWeight {
        let values = try file.int8s(name)
        if let bad = values.firstIndex(of: -128) {
            throw EncoderError.invalidInput("\(path): tensor '\(name)' holds -128 at element \(bad); the format's weights are in -127...127")
        }
        let scaleName = name + scaleSuffix
        guard let info = file.tensors[scaleName] else { throw EncoderError.missingTensor(file: path, tensor: scaleName) }
        guard info.shape == [shape[0]] else {
            throw EncoderError.shapeMismatch(file: path, tensor: scaleName, expected: [shape[0]], actual: info.shape)
        }
        let scales = try file.floats(scaleName)
        if let i = scales.firstIndex(where: { !($0.isFinite && $0 > 0) }) {
            throw EncoderError.invalidInput("\(path): tensor '\(scaleName)' holds \(scales[i]) at element \(i); scales must be finite and > 0")
        }
        return QuantizedWeight(values: values, scales: scales, rows: shape[0], cols: shape[1])
    }
}

extension EncoderModel {
    /// Writes the int8 model directory (see `QuantizedCheckpoint`), atomically per file.
    public func saveQuantizedModel(to directory: URL) throws {
        guard isQuantized else { throw EncoderError.invalidInput("saveQuantizedModel: quantise the model first (quantizeLinears)") }
        var quantized: [String: QuantizedWeight] = [:]
        for layer in layers { for lin in layer.linears { quantized[lin.weight.name] = lin.quantized } }
        if let q = embeddingProjection?.quantized { quantized[embeddingProjection!.weight.name] = q }
        var records: [SafeTensorRecord] = []
        for p in parameters.all where !p.name.contains(".lora_") {
            if let q = quantized[p.name] {
                records.append(SafeTensorRecord(name: p.name, shape: p.shape, int8s: q.values))
                records.append(SafeTensorRecord(name: p.name + QuantizedCheckpoint.scaleSuffix, shape: [q.rows],
                                                floats: Array(UnsafeBufferPointer(start: q.scales, count: q.rows))))
            } else {
                precondition(!p.isTransposed, "saveQuantizedModel: \(p.name) is in the inference layout")
                records.append(SafeTensorRecord(name: p.name, shape: p.shape, pointer: p.pointer))
            }
        }
        var json = config.exportJSON()
        json["quantization_config"] = QuantizedCheckpoint.configEntry
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try SafeTensorsWriter.write(records, metadata: ["format": "pt", "quantization": QuantizedCheckpoint.method],
                                    to: directory.appendingPathComponent("model.safetensors"))
        try AtomicFile.write(JSONValue.encodeObject(json, decimalPaths: config.decimalPaths), to: directory.appendingPathComponent("config.json"))
    }
}
