// libFuzzer harness: the CSV, TSV and JSON Lines readers, column choice and label collection on arbitrary bytes.
import DataFiles
import Foundation
import FuzzSupport

/// The first byte picks the format; the rest is the file. Reading must give rows or throw a
/// `DataFileError`; the label scheme must be classes or finite scores.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size >= 1 else { return 0 }
    let format = DataFormat.allCases[Int(data[0]) % DataFormat.allCases.count]
    let url = Scratch.write(UnsafeRawBufferPointer(start: data + 1, count: size - 1), to: "input.\(format.rawValue)")
    guard let file = try? DataFileReader(path: url.path),
          let choice = try? ColumnChoice.choose(in: file, options: ColumnOptions(), needLabel: data[0] & 0x80 == 0) else { return 0 }
    var collector = LabelCollector(path: url.path, column: "label")
    var wanted = [choice.text]
    if let label = choice.label { wanted.append(label) }
    let read: Void? = try? file.forEachRow(wanted) { line, values in
        precondition(values.count == wanted.count, "row at line \(line) has \(values.count) values for \(wanted.count) columns")
        if choice.label != nil { try collector.add(values[1], line: line) }
    }
    guard read != nil, choice.label != nil else { return 0 }
    if let (_, labels) = try? collector.finish(taskType: data[0] & 0x40 == 0 ? nil : .regression) {
        for label in labels {
            if case let .score(s) = label { precondition(s.isFinite, "a non-finite score was accepted") }
        }
    }
    return 0
}
