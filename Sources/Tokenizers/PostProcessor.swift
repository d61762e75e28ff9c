/// How special tokens and type ids wrap one sequence or a pair (`post_processor` of
/// `tokenizer.json`): a template of special tokens and the sequence slots `A` and `B`.
public struct PostProcessor: Equatable, Sendable {
    /// One element of a template.
    public enum Item: Equatable, Sendable {
        /// Special token ids, each with type id `typeId`.
        case special(ids: [Int32], typeId: Int32)
        /// The first (`A`) or second (`B`) sequence, every token with type id `typeId`.
        case sequence(isFirst: Bool, typeId: Int32)
    }

    /// Template of a single sequence.
    public var single: [Item]
    /// Template of a pair.
    public var pair: [Item]

    /// A processor from its two templates.
    public init(single: [Item], pair: [Item]) {
        self.single = single
        self.pair = pair
    }

    /// BERT: `[CLS] A [SEP]`, `[CLS] A [SEP] B [SEP]`; type ids 0 up to the first `[SEP]`, then 1.
    public static func bert(cls: Int32, sep: Int32) -> PostProcessor {
        PostProcessor(
            single: [.special(ids: [cls], typeId: 0), .sequence(isFirst: true, typeId: 0), .special(ids: [sep], typeId: 0)],
            pair: [.special(ids: [cls], typeId: 0), .sequence(isFirst: true, typeId: 0), .special(ids: [sep], typeId: 0),
                   .sequence(isFirst: false, typeId: 1), .special(ids: [sep], typeId: 1)])
    }

    /// RoBERTa: `<s> A </s>`, `<s> A </s></s> B </s>`; all type ids 0.
    public static func roberta(cls: Int32, sep: Int32) -> PostProcessor {
        PostProcessor(
            single: [.special(ids: [cls], typeId: 0), .sequence(isFirst: true, typeId: 0), .special(ids: [sep], typeId: 0)],
            pair: [.special(ids: [cls], typeId: 0), .sequence(isFirst: true, typeId: 0), .special(ids: [sep, sep], typeId: 0),
                   .sequence(isFirst: false, typeId: 0), .special(ids: [sep], typeId: 0)])
    }

    /// No special tokens (GPT-2); the second sequence of a pair gets type id 1.
    public static let withoutSpecialTokens = PostProcessor(
        single: [.sequence(isFirst: true, typeId: 0)],
        pair: [.sequence(isFirst: true, typeId: 0), .sequence(isFirst: false, typeId: 1)])

    /// Number of special tokens the template adds.
    public func addedTokenCount(pair isPair: Bool) -> Int {
        (isPair ? pair : single).reduce(0) { n, item in
            if case .special(let ids, _) = item { return n + ids.count }
            return n
        }
    }

    /// Wraps `a` (and `b`) in the template.
    func apply(_ a: [Int32], _ b: [Int32]?) -> Encoding {
        let template = b == nil ? single : pair
        var ids: [Int32] = [], types: [Int32] = []
        let total = a.count + (b?.count ?? 0) + addedTokenCount(pair: b != nil)
        ids.reserveCapacity(total)
        types.reserveCapacity(total)
        for item in template {
            switch item {
            case .special(let s, let t):
                ids.append(contentsOf: s)
                types.append(contentsOf: repeatElement(t, count: s.count))
            case .sequence(let isFirst, let t):
                let seq = isFirst ? a : (b ?? [])
                ids.append(contentsOf: seq)
                types.append(contentsOf: repeatElement(t, count: seq.count))
            }
        }
        return Encoding(ids: ids, typeIds: types)
    }
}

/// Truncation with the `longest_first` strategy, exactly as the Rust library computes it.
///
/// `maxLength` is the budget for the sequences alone (the caller has subtracted the special
/// tokens). A single sequence keeps its first `maxLength` tokens. For a pair with lengths
/// n₁ ≤ n₂ (swapped back afterwards): the shorter keeps n₁ when n₁ ≤ max and the longer
/// gets max(n₁, max − n₁); if the two still exceed the budget, the shorter gets ⌊max/2⌋ and
/// the longer ⌊max/2⌋ + max mod 2. On a tie (n₁ = n₂) the *second* sequence is the one
/// that gets the extra token.
func truncateLongestFirst(_ a: inout [Int32], _ b: inout [Int32]?, maxLength: Int) {
    let budget = maxLength
    guard var second = b else {
        if a.count > budget { a.removeSubrange(budget...) }
        return
    }
    if a.count + second.count <= budget { return }
    var n1 = a.count, n2 = second.count
    let swapped = n1 > n2
    if swapped { swap(&n1, &n2) }
    if n1 > budget {
        n2 = n1
    } else {
        n2 = max(n1, budget - n1)
    }
    if n1 + n2 > budget {
        n1 = budget / 2
        n2 = n1 + budget % 2
    }
    if swapped { swap(&n1, &n2) }
    if a.count > n1 { a.removeSubrange(n1...) }
    if second.count > n2 { second.removeSubrange(n2...) }
    b = second
}
