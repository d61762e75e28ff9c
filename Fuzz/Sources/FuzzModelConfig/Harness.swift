// libFuzzer harness: config.json decoding and validation (EncoderConfig) on arbitrary bytes.
import Foundation
import Encoders
import FuzzSupport

/// Any input must decode and validate, or throw; a validated config must give sizes the
/// encoder can allocate (checked arithmetic only, nothing is allocated here).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let url = Scratch.write(UnsafeRawBufferPointer(start: data, count: size), to: "config.json")
    guard let config = try? EncoderConfig.load(from: url) else { return 0 }
    precondition(config.headCount >= 1 && config.hiddenSize % config.headCount == 0, "validated config has bad heads")
    precondition(config.labelCount >= 1 && config.layerCount >= 1, "validated config has bad counts")
    if let modern = config.modernBERT {
        precondition(modern.globalLayers.count == config.layerCount, "ModernBERT layer pattern of the wrong length")
        precondition(config.headDim % 2 == 0, "validated ModernBERT config with an odd head width")
    }
    _ = JSONValue.encodeObject(config.exportJSON(), decimalPaths: config.decimalPaths)
    return 0
}
