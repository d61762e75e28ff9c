import Foundation

/// The ids of one encoded input: a single sequence or a pair, with special tokens.
///
/// BERT: `[CLS] A [SEP]` and `[CLS] A [SEP] B [SEP]` with type ids 0 for `[CLS] A [SEP]` and
/// 1 for `B [SEP]`. RoBERTa: `<s> A </s>` and `<s> A </s></s> B </s>`, type ids all 0.
public struct Encoding: Equatable, Hashable, Sendable {
    /// Token ids, special tokens included.
    public var ids: [Int32]
    /// Token type (segment) ids, one per token.
    public var typeIds: [Int32]

    /// Number of tokens.
    public var count: Int { ids.count }

    /// An encoding from its ids and type ids (which must be equally long).
    public init(ids: [Int32], typeIds: [Int32]) {
        precondition(ids.count == typeIds.count, "Encoding: \(ids.count) ids but \(typeIds.count) type ids")
        self.ids = ids
        self.typeIds = typeIds
    }
}

/// A tokenizer that turns text into model ids and back.
///
/// Conforming types must give the same ids as the Hugging Face fast tokenizers (the Rust
/// `tokenizers` library) for the same vocabulary files.
public protocol TextTokenizer: Sendable {
    /// Encodes one sequence, or a pair when `pair` is given, adding the special tokens.
    ///
    /// - Parameters:
    ///   - text: the first sequence.
    ///   - pair: the second sequence of a pair task, or nil.
    ///   - maxLength: when given, the total length (special tokens included) is cut to at
    ///     most this many tokens with the `longest_first` strategy of the Rust library. A
    ///     maximum smaller than the number of special tokens leaves the input untruncated,
    ///     as in the Rust library.
    func encode(_ text: String, pair: String?, maxLength: Int?) -> Encoding

    /// Turns ids back into text.
    ///
    /// - Parameters:
    ///   - ids: token ids; ids outside the vocabulary are skipped.
    ///   - skipSpecialTokens: leave out special tokens such as `[CLS]` and `</s>`.
    func decode(_ ids: [Int32], skipSpecialTokens: Bool) -> String

    /// Encodes many inputs, in parallel where the conformer can; the result equals calling
    /// `encode` on each input, in input order.
    ///
    /// - Parameters:
    ///   - inputs: (text, pair) tuples; `pair` nil for single-sequence tasks.
    ///   - maxLength: as in `encode`.
    func encodeBatch(_ inputs: [(String, String?)], maxLength: Int?) -> [Encoding]

    /// Number of ids: the vocabulary plus added tokens (the largest id + 1).
    var vocabularySize: Int { get }
    /// Id of the padding token, if the vocabulary has one.
    var padTokenId: Int32? { get }
    /// Id of the classification token (`[CLS]`, `<s>`), if any.
    var clsTokenId: Int32? { get }
    /// Id of the separator token (`[SEP]`, `</s>`), if any.
    var sepTokenId: Int32? { get }
    /// Id of the unknown token (`[UNK]`, `<unk>`), if any.
    var unkTokenId: Int32? { get }
    /// Id of the mask token (`[MASK]`, `<mask>`), if any.
    var maskTokenId: Int32? { get }
}

extension TextTokenizer {
    /// Encodes one sequence without truncation.
    public func encode(_ text: String) -> Encoding {
        encode(text, pair: nil, maxLength: nil)
    }

    /// Decodes ids, keeping special tokens (as the Hugging Face default does).
    public func decode(_ ids: [Int32]) -> String {
        decode(ids, skipSpecialTokens: false)
    }

    /// Default `encodeBatch`: `encode` on every input, on all cores.
    public func encodeBatch(_ inputs: [(String, String?)], maxLength: Int?) -> [Encoding] {
        parallelMap(count: inputs.count, makeState: {}) { _, i in encode(inputs[i].0, pair: inputs[i].1, maxLength: maxLength) }
    }
}

/// Runs `body(&state, i)` for every `i` in `0..<count` on all cores and returns the results
/// in order. Each worker thread gets its own `state` from `makeState` (scratch buffers,
/// caches), so `body` needs no locks.
func parallelMap<State, T>(count: Int, threads: Int? = nil, makeState: @Sendable () -> State,
                           _ body: @Sendable (inout State, Int) -> T) -> [T] {
    let workers = max(1, min(threads ?? ProcessInfo.processInfo.activeProcessorCount, count / 32))
    if workers == 1 {
        var state = makeState()
        return (0..<count).map { body(&state, $0) }
    }
    return [T](unsafeUninitializedCapacity: count) { buffer, initialized in
        nonisolated(unsafe) let results = buffer
        // Interleaved blocks keep the workers' shares equally expensive on sorted inputs.
        let block = 16
        DispatchQueue.concurrentPerform(iterations: workers) { w in
            var state = makeState()
            var start = w * block
            while start < count {
                for i in start..<min(start + block, count) {
                    (results.baseAddress.unsafelyUnwrapped + i).initialize(to: body(&state, i))
                }
                start += workers * block
            }
        }
        initialized = count
    }
}
