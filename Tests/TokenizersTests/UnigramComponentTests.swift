import Foundation
import TestSupport
@testable import Tokenizers
import XCTest

/// Unit tests of the SentencePiece pieces: grapheme clusters, serde_json's float reading, the
/// Unigram Viterbi, the Precompiled charsmap's quirks, Metaspace splitting and the decoders.
/// Expected values come from the Rust library (tokenizers 0.23.3) unless stated otherwise.
final class UnigramComponentTests: XCTestCase {
    /// Cluster lengths of every pair and triple of category representatives (and random
    /// sequences) as regex's `\X` finds them for Unicode 17.0.0 (grapheme_clusters.json, from
    /// scripts/reference/make_grapheme_tables.py; regex passes all of GraphemeBreakTest.txt).
    func testGraphemeClustersFollowUnicode17() throws {
        struct File: Decodable { var cases: [[[UInt32]]] }
        guard let url = requireResource(TestPaths.fixture("tokenizers/grapheme_clusters.json"),
                                        hint: "regenerate with scripts/reference/make_grapheme_tables.py") else { return }
        let file = try JSONDecoder().decode(File.self, from: Data(contentsOf: url))
        XCTAssertGreaterThan(file.cases.count, 6000)
        var failures = 0
        for c in file.cases {
            let scalars = c[0], want = c[1].map(Int.init)
            var got: [Int] = []
            scalars.withUnsafeBufferPointer { s in
                var i = 0
                while i < s.count {
                    let end = GraphemeClusters.clusterEnd(s, from: i)
                    got.append(end - i)
                    i = end
                }
            }
            if got != want {
                failures += 1
                if failures <= 10 {
                    XCTFail("\(scalars.map { String($0, radix: 16) }): clusters \(got), expected \(want)")
                }
            }
        }
        XCTAssertEqual(failures, 0)
    }

    func testScoresAreReadWithSerdeJSONsDefaultParser() {
        // Rust's reading of these tokenizer.json scores (Tokenizer.from_str, then to_str).
        XCTAssertEqual(serdeJSONDouble(-15.159088134765625), -15.159088134765623)
        XCTAssertEqual(serdeJSONDouble(-10.225494384765625), -10.225494384765623)
        XCTAssertEqual(serdeJSONDouble(-15.675971984863281), -15.67597198486328)
        XCTAssertEqual(serdeJSONDouble(-19.655710220336914), -19.65571022033691)
        for exact in [0.0, -100.0, -1e-05, -3.0831544399261475, -12.33729076385498, -0.5] {
            XCTAssertEqual(serdeJSONDouble(exact), exact, "\(exact)")
        }
    }

    private func unigram(_ pieces: [(String, Double)], unknown: Int32 = 0, byteFallback: Bool = false) -> UnigramModel {
        UnigramModel(pieces: pieces.map { (piece: $0.0, score: $0.1) }, unknownId: unknown, byteFallback: byteFallback)
    }

    private func ids(_ model: UnigramModel, _ text: String) -> [Int32] {
        var out: [Int32] = []
        var scratch = UnigramScratch()
        Array(text.utf8).withUnsafeBufferPointer { model.tokenize($0, into: &out, scratch: &scratch) }
        return out
    }

    /// The Rust library's own doc example: "abcdacdxx" → abcd, a, cd, xx (unknowns fused).
    func testViterbiAsInTheRustDocumentation() {
        let m = unigram([("<unk>", 0), ("a", 0), ("b", 0), ("c", 0), ("d", 0), ("cd", 1), ("ab", 2), ("abc", 5), ("abcd", 10)])
        XCTAssertEqual(ids(m, "abcdacdxx"), [8, 1, 5, 0])
        XCTAssertEqual(ids(m, ""), [])
        XCTAssertEqual(m.unknownScore, -10, "min score − 10")
    }

    func testTiesGoToThePieceStartingEarliest() {
        // a + b == ab exactly: the candidate seen first (ab, from position 0) is kept.
        let m = unigram([("<unk>", 0), ("a", -1), ("b", -1), ("ab", -2)])
        XCTAssertEqual(ids(m, "ab"), [3])
        let n = unigram([("<unk>", 0), ("a", -1), ("b", -1), ("ab", -2.5)])
        XCTAssertEqual(ids(n, "ab"), [1, 2])
    }

    func testUnknownRunsAndByteFallback() {
        var pieces: [(String, Double)] = [("<unk>", 0), ("a", -1)]
        for b in 0..<256 { pieces.append((String(format: "<0x%02X>", b), -5)) }
        let plain = unigram(pieces)
        XCTAssertEqual(ids(plain, "a☃☃a"), [1, 0, 1], "one fused unknown")
        let fallback = unigram(pieces, byteFallback: true)
        // ☃ is E2 98 83: each byte's <0xXX> piece (ids 2 + byte).
        let snowman: [Int32] = [2 + 0xE2, 2 + 0x98, 2 + 0x83]
        XCTAssertEqual(ids(fallback, "a☃☃a"), [1] + snowman + snowman + [1])
        // A missing byte piece sends the whole run to <unk>.
        let partial = unigram(Array(pieces.filter { $0.0 != "<0x98>" }), byteFallback: true)
        XCTAssertEqual(ids(partial, "a☃"), [1, 0])
    }

    func testRepeatedPieceKeepsItsLastId() {
        let m = unigram([("<unk>", 0), ("a", -1), ("a", -3)])
        XCTAssertEqual(ids(m, "a"), [2])
    }

    /// Values of tokenizers' `normalizers.Precompiled` with the tiny-xlmr (nmt_nfkc) charsmap.
    func testPrecompiledWorksPerGraphemeClusterWithTheShortestKey() throws {
        guard let dir = UnigramFixtures.fileDirectory("tiny_xlmr") else { return }
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent("tokenizer.json"))) as? [String: Any]
        let text = try XCTUnwrap((json?["normalizer"] as? [String: Any])?["precompiled_charsmap"] as? String)
        let map = try PrecompiledCharsMap(bytes: [UInt8](try XCTUnwrap(Data(base64Encoded: text))))
        let normalizer = SentencePieceNormalizer(steps: [.precompiled(map)])
        func n(_ s: String) -> [UInt32] { normalizer.normalize(s) }
        XCTAssertEqual(n("\u{FF21}\u{301}"), [0x41], "a 5-byte cluster: the key Ａ matches and the accent is dropped")
        XCTAssertEqual(n("\u{FF37}\u{301}\u{301}"), [0x57, 0x301, 0x301], "7 bytes: per scalar")
        XCTAssertEqual(n("e\u{301}"), [0xE9])
        XCTAssertEqual(n("\u{FB01}"), [0x66, 0x69])
        XCTAssertEqual(n("\u{2460}"), [0x31])
        XCTAssertEqual(n("a\u{0}b"), [0x61, 0, 0x62], "a NUL ends the key")
        XCTAssertEqual(n("\u{200B}"), [0x20])
        XCTAssertEqual(n("x\u{7}"), [0x78])
        XCTAssertEqual(n("\u{FF76}\u{FF9E}"), [0x30AB, 0x3099])
        XCTAssertEqual(n("\r\n"), [0x20], "CR LF is one cluster")
    }

    func testMetaspacePieces() {
        func pieces(_ text: String, _ options: MetaspaceOptions, origins: [Int32]? = nil, start: Int = 0) -> [String] {
            var out: [String] = []
            var bytes: [UInt8] = []
            let scalars = text.unicodeScalars.map(\.value)
            CharClass.basicPlane.withUnsafeBufferPointer { bp in
                scalars.withUnsafeBufferPointer { s in
                    let o = origins ?? Array(0..<Int32(scalars.count))
                    o.withUnsafeBufferPointer { o in
                        options.pieces(s, origins: o, segmentStart: start, bytes: &bytes, basicPlane: bp) {
                            out.append(String(decoding: $0, as: UTF8.self))
                        }
                    }
                }
            }
            return out
        }
        XCTAssertEqual(pieces("Hey   friend!", MetaspaceOptions()), ["▁Hey", "▁", "▁", "▁friend!"])
        XCTAssertEqual(pieces("▁a b▁", MetaspaceOptions()), ["▁a", "▁b", "▁"])
        XCTAssertEqual(pieces("a b", MetaspaceOptions(split: false)), ["▁a▁b"])
        XCTAssertEqual(pieces("a b", MetaspaceOptions(prependScheme: .never)), ["a", "▁b"])
        XCTAssertEqual(pieces(" a\tb ", MetaspaceOptions(whitespaceSplit: true)), ["▁a", "▁b"])
        // "first": only a split whose original offset is 0.
        XCTAssertEqual(pieces("a b", MetaspaceOptions(prependScheme: .first, whitespaceSplit: true)), ["▁a", "b"])
        XCTAssertEqual(pieces("a b", MetaspaceOptions(prependScheme: .first, split: false), start: 3), ["a▁b"])
        XCTAssertEqual(pieces("a b", MetaspaceOptions(prependScheme: .first, split: false), origins: [2, 3, 4]), ["a▁b"])
    }

    func testDecoderSteps() {
        XCTAssertEqual(DecoderStep.byteToken("<0x41>"), 0x41)
        XCTAssertEqual(DecoderStep.byteToken("<0xe2>"), 0xE2)
        XCTAssertEqual(DecoderStep.byteToken("<0x+F>"), 0x0F, "Rust's from_str_radix accepts a plus sign")
        XCTAssertNil(DecoderStep.byteToken("<0x4>"))
        XCTAssertNil(DecoderStep.byteToken("<0xZZ>"))
        XCTAssertNil(DecoderStep.byteToken("<0x-1>"))
        XCTAssertEqual(DecoderStep.byteFallback.apply(["a", "<0xE2>", "<0x98>", "<0x83>", "b"]), ["a", "☃", "b"])
        XCTAssertEqual(DecoderStep.byteFallback.apply(["<0xE2>", "<0x98>"]), ["\u{FFFD}", "\u{FFFD}"])
        XCTAssertEqual(DecoderStep.strip(content: " ", start: 1, stop: 0).apply(["  a ", "b"]), [" a ", "b"])
        XCTAssertEqual(DecoderStep.metaspace(replacement: "▁", prependScheme: .always).apply(["▁a▁b", "▁c"]), ["ab", " c"], "every ▁ of the first token goes")
        XCTAssertEqual(DecoderStep.metaspace(replacement: "▁", prependScheme: .never).apply(["▁a"]), [" a"])
        let d = TokenDecoder.steps([.replace(pattern: "▁", content: " "), .byteFallback, .fuse, .strip(content: " ", start: 1, stop: 0)])
        XCTAssertEqual(d.decode(["▁Hi", "<0x21>", "▁x"]), "Hi! x")
    }
}
