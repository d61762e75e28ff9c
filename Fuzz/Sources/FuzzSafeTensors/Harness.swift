// libFuzzer harness: the safetensors reader (header JSON, offsets, dtypes, shapes) on arbitrary bytes.
import Foundation
import FuzzSupport
import SafeTensors

/// Any input must either open (then every tensor reads back within its range) or throw a
/// `SafeTensorsError`; a crash, trap or sanitizer report is a bug.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let url = Scratch.write(UnsafeRawBufferPointer(start: data, count: size), to: "model.safetensors")
    guard let file = try? SafeTensorsFile(url: url) else { return 0 }
    for name in file.names {
        guard let info = try? file.info(name), info.dtype == .f32 else { continue }
        let count = info.shape.reduce(1, *)
        guard count <= 1 << 20 else { continue }
        let buffer = UnsafeMutablePointer<Float>.allocate(capacity: max(1, count))
        defer { buffer.deallocate() }
        _ = try? file.readFloats(name, into: buffer, count: count)
    }
    return 0
}
