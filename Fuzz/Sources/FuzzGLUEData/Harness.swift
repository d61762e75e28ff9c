// libFuzzer harness: the GLUE TSV parser on arbitrary bytes, for every task's layout.
import Foundation
import GLUE

/// The first byte picks the task and split; the rest is the file's content. A parse must
/// give examples or throw a `GLUEError` naming the line.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size >= 1 else { return 0 }
    let task = GLUETask.all[Int(data[0] / 2) % GLUETask.all.count]
    let split: Split = data[0] % 2 == 0 ? .train : .dev
    let body = Data(UnsafeRawBufferPointer(start: data + 1, count: size - 1))
    guard let examples = try? task.parse(body, split: split, source: "fuzz.tsv") else { return 0 }
    for e in examples {
        if case let .score(s) = e.label { precondition(s.isFinite, "a non-finite score was accepted") }
    }
    return 0
}
