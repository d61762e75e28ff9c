// libFuzzer harness: adapter_config.json decoding and validation (PEFTAdapter.describe) on arbitrary bytes.
import Foundation
import Encoders
import FuzzSupport
import SafeTensors

/// A tiny valid adapter_model.safetensors (query and value of one layer, r = 2, width 4) sits
/// beside each input written as adapter_config.json.
let adapterDirectory: URL = {
    let dir = Scratch.directory.appendingPathComponent("adapter")
    var records: [SafeTensorRecord] = []
    for module in ["query", "value"] {
        let path = "base_model.model.bert.encoder.layer.0.attention.self.\(module)"
        records.append(SafeTensorRecord(name: path + ".lora_A.weight", shape: [2, 4], floats: Array(repeating: 0.1, count: 8)))
        records.append(SafeTensorRecord(name: path + ".lora_B.weight", shape: [4, 2], floats: Array(repeating: 0, count: 8)))
    }
    try? SafeTensorsWriter.write(records, to: dir.appendingPathComponent("adapter_model.safetensors"))
    return dir
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let dir = adapterDirectory
    try? Data(UnsafeRawBufferPointer(start: data, count: size)).write(to: dir.appendingPathComponent("adapter_config.json"))
    guard let description = try? PEFTAdapter.describe(dir) else { return 0 }
    precondition(description.lora.rank >= 1, "validated adapter has rank < 1")
    precondition(description.lora.alpha.isFinite && description.lora.alpha > 0, "validated adapter has a bad alpha")
    return 0
}
