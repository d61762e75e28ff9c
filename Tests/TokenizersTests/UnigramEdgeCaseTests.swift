import Foundation
import TestSupport
import Tokenizers
import XCTest

/// SentencePiece Unigram tokenizers (XLM-R, CamemBERT, transformers' generic SentencePiece
/// conversion, six variants and a synthetic model) against full ids, type ids and decoded text from the Rust
/// library, on the shared edge cases plus Unigram-specific ones (NFKC-sensitive characters,
/// emoji sequences, Hangul jamo, Indic conjuncts, characters outside the vocabulary, "▁" and
/// `<0xXX>` written in the text, special tokens inside text, long unknown runs, truncation).
final class UnigramEdgeCaseTests: XCTestCase {
    private func check(file reference: String) throws {
        guard let dir = UnigramFixtures.fileDirectory(reference), let cases = try UnigramFixtures.cases() else { return }
        assertEdgeCases(try loadTokenizer(directory: dir), reference: reference, cases, minimumCases: 130)
    }

    private func check(variant reference: String) throws {
        guard let dir = try UnigramFixtures.variantDirectory(reference), let cases = try UnigramFixtures.cases() else { return }
        defer { try? FileManager.default.removeItem(at: dir) }
        assertEdgeCases(try loadTokenizer(directory: dir), reference: reference, cases, minimumCases: 130)
    }

    /// XLMRobertaTokenizer's conversion: Precompiled (nmt_nfkc), WhitespaceSplit + Metaspace.
    func testTinyXLMR() throws { try check(file: "tiny_xlmr") }

    /// CamembertTokenizer's conversion: nmt_nfkc_cf charsmap, `<mask>` with lstrip, no byte fallback.
    func testTinyCamemBERT() throws { try check(file: "tiny_camembert") }

    /// transformers' generic SentencePiece conversion: Replace normalizers, Metaspace without
    /// split, byte fallback, decoder Replace + ByteFallback + Fuse + Strip.
    func testTinySentencePieceWithByteFallback() throws { try check(file: "tiny_spm") }

    /// CamemBERT with byte fallback on.
    func testCamemBERTWithByteFallback() throws { try check(variant: "tiny_camembert_bf") }

    /// Metaspace prepend_scheme "first" after WhitespaceSplit.
    func testXLMRPrependFirst() throws { try check(variant: "tiny_xlmr_first") }

    /// Added tokens: normalized ones matched in the normalized text, single_word, lstrip/rstrip.
    func testXLMRWithAddedTokens() throws { try check(variant: "tiny_xlmr_added") }

    /// Metaspace prepend_scheme "never".
    func testXLMRPrependNever() throws { try check(variant: "tiny_xlmr_never") }

    /// convert_slow_tokenizer's XLMRobertaConverter pipeline: Precompiled, Strip (right),
    /// Replace " {2,}" → "▁", Metaspace alone.
    func testXLMRConverterPipeline() throws { try check(variant: "tiny_xlmr_converter") }

    /// The generic conversion with legacy=False: prepend_scheme "first" after Replace
    /// normalizers that remove leading spaces (which moves the text's original start).
    func testSentencePiecePrependFirst() throws { try check(variant: "tiny_spm_first") }

    /// A synthetic model whose scores tie exactly ("a" + "b" == "ab") until serde_json's float
    /// parser reads them: the Rust library splits "ab", so the port must read scores as it does.
    func testScoresAreReadAsTheRustLibraryReadsThem() throws {
        guard let dir = try UnigramFixtures.syntheticDirectory("serde_tie"), let cases = try UnigramFixtures.cases() else { return }
        defer { try? FileManager.default.removeItem(at: dir) }
        let tokenizer = try loadTokenizer(directory: dir)
        XCTAssertEqual(tokenizer.encode("ab").ids, [1, 2], "serde_json's scores make a + b beat ab")
        assertEdgeCases(tokenizer, reference: "serde_tie", cases, minimumCases: 130)
    }

    /// Every reference of the fixture has a test above.
    func testEveryReferenceIsTested() throws {
        let url = try XCTUnwrap(requireResource(UnigramFixtures.edgeCasesURL, hint: Hint.unigramFixtures))
        let header = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any]
        let names = Set((header?["tokenizers"] as? [String: Any] ?? [:]).keys)
        XCTAssertEqual(names, ["tiny_xlmr", "tiny_camembert", "tiny_spm", "tiny_camembert_bf", "tiny_xlmr_first",
                               "tiny_xlmr_never", "tiny_xlmr_converter", "tiny_xlmr_added", "tiny_spm_first", "serde_tie"])
    }
}
