import Foundation
@testable import Tokenizers
import JSONText
import XCTest

/// Unit tests of the pieces: truncation rule, GPT-2 pattern, JSON parser, hash map,
/// WordPiece decoder cleanup.
final class ComponentTests: XCTestCase {
    func testLongestFirstTruncationFollowsTheRustRule() {
        // (n1, n2, budget) → (kept1, kept2), computed by hand from the Rust library's rule.
        let table: [(Int, Int, Int, Int, Int)] = [
            (10, 10, 10, 5, 5),
            (10, 10, 11, 5, 6),    // tie: the second sequence gets the odd token
            (10, 7, 9, 5, 4),      // longer first: it gets the odd token
            (7, 10, 9, 4, 5),
            (3, 10, 9, 3, 6),      // the short side is kept whole
            (3, 10, 5, 2, 3),      // n1 ≤ max but n1 + max(n1, max − n1) > max: both halved
            (10, 3, 5, 3, 2),
            (4, 4, 8, 4, 4),       // fits: untouched
            (20, 30, 0, 0, 0),
            (20, 30, 1, 0, 1),
            (0, 30, 6, 0, 6),
        ]
        for (n1, n2, budget, k1, k2) in table {
            var a = (0..<n1).map(Int32.init), b: [Int32]? = (0..<n2).map { Int32(100 + $0) }
            truncateLongestFirst(&a, &b, maxLength: budget)
            XCTAssertEqual(a.count, k1, "(\(n1), \(n2), \(budget)) first")
            XCTAssertEqual(b?.count, k2, "(\(n1), \(n2), \(budget)) second")
            XCTAssertEqual(a, Array((0..<Int32(k1))), "keeps the head")
        }
        var single: [Int32] = Array(0..<10), none: [Int32]? = nil
        truncateLongestFirst(&single, &none, maxLength: 4)
        XCTAssertEqual(single, [0, 1, 2, 3])
        XCTAssertNil(none)
    }

    private func gpt2Split(_ s: String) -> [String] {
        var out: [String] = []
        let bytes = Array(s.utf8)
        CharClass.basicPlane.withUnsafeBufferPointer { bp in
            bytes.withUnsafeBufferPointer { p in
                var i = 0
                while i < p.count {
                    let e = GPT2Pattern.matchEnd(p, from: i, basicPlane: bp)
                    out.append(String(decoding: p[i..<e], as: UTF8.self))
                    i = e
                }
            }
        }
        return out
    }

    func testGPT2Pattern() {
        XCTAssertEqual(gpt2Split("Hello world"), ["Hello", " world"])
        XCTAssertEqual(gpt2Split("it's they'll I'M"), ["it", "'s", " they", "'ll", " I", "'", "M"])
        XCTAssertEqual(gpt2Split("a   b"), ["a", "  ", " b"])
        XCTAssertEqual(gpt2Split("x  "), ["x", "  "])
        XCTAssertEqual(gpt2Split("a\n\nb"), ["a", "\n", "\n", "b"])
        XCTAssertEqual(gpt2Split("abc123 45!? ..."), ["abc", "123", " 45", "!?", " ..."])
        XCTAssertEqual(gpt2Split(" \u{00E9}t\u{00E9} \u{4E2D}"), [" \u{00E9}t\u{00E9}", " \u{4E2D}"])
        XCTAssertEqual(gpt2Split(""), [])
    }

    func testJSONParser() throws {
        let v = try JSONParser.parse(Array(#"{"a": [1, -2.5e1, true, null], "b": "x\u00e9\ud83d\ude00\n\"", "c": {}}"#.utf8))
        XCTAssertEqual(v["a"], .array([.number(1), .number(-25), .bool(true), .null]))
        XCTAssertEqual(v["b"]?.string, "xé😀\n\"")
        XCTAssertEqual(v["c"], .object([:]))
        XCTAssertEqual(v["a"]?.array?.first?.int, 1)
        for (bad, line, column) in [("{\n  \"a\": tru\n}", 2, 8), ("[1,\n2,,3]", 2, 3), ("\"\\ud800\"", 1, 8), ("{} x", 1, 4)] {
            XCTAssertThrowsError(try JSONParser.parse(Array(bad.utf8)), bad) { error in
                guard let e = error as? JSONSyntaxError else { return XCTFail("\(error)") }
                XCTAssertEqual(e.line, line, bad)
                XCTAssertEqual(e.column, column, bad)
            }
        }
    }

    func testByteKeyMap() {
        var m = ByteKeyMap(capacity: 2)
        for i in 0..<1000 { m.insert(Array("key\(i)".utf8), payload: Int32(i)) }
        XCTAssertEqual(m.count, 1000)
        for i in 0..<1000 { XCTAssertEqual(m.find(Array("key\(i)".utf8)), Int32(i)) }
        XCTAssertEqual(m.find(Array("missing".utf8)), -1)
        XCTAssertEqual(m.find([]), -1)
        XCTAssertFalse(m.insert(Array("key5".utf8), payload: 7))
        XCTAssertEqual(m.find(Array("key5".utf8)), 7)
        m.insert([UInt8](), payload: 42)
        XCTAssertEqual(m.find([]), 42)
    }

    func testWordPieceDecoderCleansUpPerToken() {
        let d = TokenDecoder.wordPiece(prefix: "##", cleanup: true)
        XCTAssertEqual(d.decode(["hel", "##lo", ",", "world", "!"]), "hello, world!")
        XCTAssertEqual(d.decode(["it", "'", "s"]), "it ' s")        // " '" alone is not " ' "
        XCTAssertEqual(d.decode(["x", "n't", "i", "'m"]), "xn't i'm")
        XCTAssertEqual(d.decode(["##a", "##b"]), "##ab")            // the first token keeps its prefix
        XCTAssertEqual(TokenDecoder.spaceSeparated.decode(["a", "b"]), "a b")
    }

    func testByteLevelAlphabet() {
        XCTAssertEqual(ByteLevelAlphabet.characters[0x20], 0x120)   // Ġ
        XCTAssertEqual(ByteLevelAlphabet.characters[0x0A], 0x10A)   // Ċ
        XCTAssertEqual(ByteLevelAlphabet.characters[0x41], 0x41)
        XCTAssertEqual(Set(ByteLevelAlphabet.characters).count, 256)
        for b in 0..<256 { XCTAssertEqual(ByteLevelAlphabet.byte(for: ByteLevelAlphabet.characters[b]), UInt8(b)) }
    }

    func testUnicodeClassesMatchTheRustLibrary() {
        // Spot checks of the generated tables (the generator checks every code point).
        func c(_ v: UInt32) -> CharClass { CharClass.basicPlane.withUnsafeBufferPointer { CharClass.of(v, basicPlane: $0) } }
        XCTAssertTrue(c(0x200B).contains(.bertRemoved))       // zero width space (Cf)
        XCTAssertTrue(c(0xFFFD).contains(.bertRemoved))
        XCTAssertFalse(c(0x0378).contains(.bertRemoved))      // unassigned: kept
        XCTAssertTrue(c(0x3000).contains(.bertWhitespace))
        XCTAssertTrue(c(0x24).contains(.bertPunctuation))     // '$' is ASCII punctuation
        XCTAssertFalse(c(0x00A2).contains(.bertPunctuation))  // '¢' is a symbol
        XCTAssertTrue(c(0x4E2D).contains(.bertCJK))
        XCTAssertFalse(c(0x3042).contains(.bertCJK))          // hiragana
        XCTAssertTrue(c(0x0301).contains(.nonspacingMark))
        XCTAssertTrue(c(0x00E9).contains(.letter))
        XCTAssertTrue(c(0x0663).contains(.number))
        XCTAssertTrue(c(0x0085).contains(.space))
        XCTAssertTrue(c(0x20000).contains(.bertCJK))
        XCTAssertTrue(c(0x1F600).isDisjoint(with: [.letter, .number, .space, .bertRemoved]))
        var out: [UInt32] = []
        Lowercase.append(0x130, to: &out)
        Lowercase.append(0x3A3, to: &out)
        Lowercase.append(0x41, to: &out)
        XCTAssertEqual(out, [0x69, 0x307, 0x3C3, 0x61])
    }
}
