// libFuzzer harness: the tokenizer file loaders (tokenizer.json, vocab.txt, vocab.json + merges.txt).
import Foundation
import FuzzSupport
import Tokenizers

/// The first byte picks the file the rest becomes; the other files of that format are fixed
/// and valid. A loaded tokenizer must encode a few strings without trapping.
let fixedVocabJSON = Data(#"{"<s>":0,"<pad>":1,"</s>":2,"<unk>":3,"a":4,"b":5,"ab":6,"Ġ":7,"Ġa":8}"#.utf8)
let fixedMerges = Data("#version: 0.2\na b\nĠ a\n".utf8)

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size >= 1 else { return 0 }
    let body = Data(UnsafeRawBufferPointer(start: data + 1, count: size - 1))
    let kind = data[0] % 4
    let dir = Scratch.directory.appendingPathComponent("tokenizer-\(kind)")
    try? FileManager.default.removeItem(at: dir)
    switch kind {
    case 0: Scratch.write(body, to: "tokenizer-0/tokenizer.json")
    case 1: Scratch.write(body, to: "tokenizer-1/vocab.txt")
    case 2:
        Scratch.write(body, to: "tokenizer-2/vocab.json")
        Scratch.write(fixedMerges, to: "tokenizer-2/merges.txt")
    default:
        Scratch.write(fixedVocabJSON, to: "tokenizer-3/vocab.json")
        Scratch.write(body, to: "tokenizer-3/merges.txt")
    }
    guard let tokenizer = try? loadTokenizer(directory: dir) else { return 0 }
    for text in ["", "a b ab", "Héllo, wörld! 🙂", String(decoding: body.prefix(64), as: UTF8.self)] {
        let e = tokenizer.encode(text, pair: "b a", maxLength: 16)
        precondition(e.ids.count == e.typeIds.count, "ids and type ids differ in length")
        _ = tokenizer.decode(e.ids)
    }
    return 0
}
