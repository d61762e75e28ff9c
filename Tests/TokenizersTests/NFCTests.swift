// The NFC normalizer of GPT-NeoX-style byte-level BPE tokenizer.json files (ModernBERT's): ids as the Rust library's.
import XCTest
import Foundation
import Tokenizers
import TestSupport

final class NFCTests: XCTestCase {
    /// Hand-written cases (decomposed accents, jamo, singletons, reordered marks) and 200 RTE
    /// pairs written in NFD give the ids of Hugging Face `tokenizers` with `{"type": "NFC"}`.
    func testNFCNormalizerMatchesTheRustLibrary() throws {
        let cases = TestPaths.fixture("tokenizers/nfc_cases.json")
        guard case .success = TestPaths.require(cases, hint: "regenerate with scripts/reference/make_nfc_fixture.py") else {
            XCTFail("missing \(cases.path)"); return
        }
        let tokenizer = try Tokenizer(tokenizerJSON: TestPaths.fixture("tokenizers/tiny-bpe-nfc/tokenizer.json"))
        let root = try JSONSerialization.jsonObject(with: Data(contentsOf: cases)) as! [String: Any]
        let rows = root["cases"] as! [[String: Any]]
        XCTAssertEqual(rows.count, 220)
        var composedCases = 0
        for row in rows {
            let a = row["a"] as! String, b = row["b"] as? String
            let e = tokenizer.encode(a, pair: b, maxLength: nil)
            XCTAssertEqual(e.ids.map(Int.init), row["ids"] as! [Int], "ids of \(a.debugDescription)")
            XCTAssertEqual(e.typeIds.map(Int.init), row["type_ids"] as! [Int], "type ids of \(a.debugDescription)")
            if a.precomposedStringWithCanonicalMapping.unicodeScalars.count != a.unicodeScalars.count { composedCases += 1 }
        }
        XCTAssertGreaterThan(composedCases, 10, "cases that NFC changes")
        // Without the normalizer the decomposed texts would tokenize differently.
        let plain = try Tokenizer(tokenizerJSON: TestPaths.fixture("tokenizers/tiny-bpe/tokenizer.json"))
        XCTAssertNotEqual(plain.encode("cafe\u{301}", pair: nil, maxLength: nil).ids, tokenizer.encode("cafe\u{301}", pair: nil, maxLength: nil).ids)
    }
}
