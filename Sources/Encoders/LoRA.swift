import Foundation
import Tensors
import InputValidation

/// The role of a Linear in an encoder layer, which is where a LoRA adapter may
/// attach (PEFT's `target_modules`). Each family names the modules of these roles
/// (`EncoderFamily.layer`).
public enum LoRATarget: String, Sendable, CaseIterable, Codable {
    /// The attention's query projection.
    case query
    /// The attention's key projection.
    case key
    /// The attention's value projection.
    case value
    /// The attention's output projection.
    case attentionOutput = "attention.output"
    /// The feed-forward's first Linear.
    case intermediate
    /// The feed-forward's output Linear.
    case output
    /// A fused query/key/value projection (ModernBERT's `Wqkv`, `(3C, C)`): one adapter for all three.
    case qkv = "attention.qkv"

    /// Parses a comma-separated list such as `query,value`: role names, or a module path of
    /// any known family (`attention.output.dense`).
    public static func parseList(_ text: String) throws -> [LoRATarget] {
        try text.split(separator: ",").map { raw in
            let s = raw.trimmingCharacters(in: .whitespaces)
            if let t = LoRATarget(rawValue: s) ?? EncoderFamily.known.lazy.compactMap({ $0.target(forModulePath: s) }).first { return t }
            // A last name several Linears of a layer share (BERT's `dense`, ModernBERT's `Wo`) needs its path.
            let shared = EncoderFamily.known.flatMap { f in
                f.layer.linears.values.filter { $0.split(separator: ".").last.map(String.init) == s }.sorted().map { "\(f.name): \($0)" }
            }
            if !shared.isEmpty {
                throw EncoderError.invalidInput("LoRA target '\(s)' names several Linears of a layer; give their paths (\(shared.joined(separator: "; ")))")
            }
            throw EncoderError.invalidInput("unknown LoRA target '\(s)'; known: \(LoRATarget.allCases.map(\.rawValue).joined(separator: ", "))")
        }
    }
}

/// LoRA hyper-parameters (PEFT's `LoraConfig`).
public struct LoRAConfig: Sendable, Codable, Equatable {
    /// Rank r.
    public var rank: Int = 8
    /// α; the update is scaled by α/r (or α/√r with `rsLoRA`).
    public var alpha: Float = 8
    /// Dropout on the adapter's input.
    public var dropout: Float = 0
    /// Target linear layers.
    public var targets: [LoRATarget] = [.query, .value]
    /// Rank-stabilised scaling α/√r.
    public var rsLoRA: Bool = false
    /// How A and B start; nil: PEFT's default (Kaiming-uniform A, zero B).
    public var initialisation: LoRAInitialisation?

    /// Creates a configuration (defaults: r = 8, α = 8, query and value, no dropout).
    public init(rank: Int = 8, alpha: Float = 8, dropout: Float = 0, targets: [LoRATarget] = [.query, .value], rsLoRA: Bool = false,
                initialisation: LoRAInitialisation? = nil) {
        self.rank = rank
        self.alpha = alpha
        self.dropout = dropout
        self.targets = targets
        self.rsLoRA = rsLoRA
        self.initialisation = initialisation
    }

    /// The scale `s` applied to `B·A·x`.
    public var scale: Float { rsLoRA ? alpha / Float(rank).squareRoot() : alpha / Float(rank) }
}

/// How a LoRA adapter's A and B start (PEFT's `init_lora_weights`).
public enum LoRAInitialisation: String, Sendable, Codable, CaseIterable {
    /// Kaiming-uniform A, zero B: training starts from the base model (PEFT's `True`).
    case standard = "default"
    /// PiSSA (Meng et al. 2024, PEFT's `"pissa"`): A and B from the top-r singular vectors and
    /// values of W, W replaced by the residual, so the model is unchanged at the start.
    case pissa
}

/// A low-rank adapter on one frozen Linear: `y = W₀x + b + s·B·A·dropout(x)`.
///
/// `A` is `(r, in)`, initialised Kaiming-uniform with a = √5 (bound `1/√in`), `B` is
/// `(out, r)`, zeros, so training starts from the pretrained function. `merge()` folds
/// `s·B·A` into W₀ so inference costs nothing extra; `unmerge()` takes it out again.
public final class LoRAAdapter: @unchecked Sendable {
    /// `lora_A.weight`, `(r, in)`.
    public let a: Parameter
    /// `lora_B.weight`, `(out, r)`.
    public let b: Parameter
    /// The adapted Linear's weight `(out, in)`.
    public let baseWeight: Parameter
    /// Rank.
    public let rank: Int
    /// Scale α/r (or α/√r).
    public let scale: Float
    /// Dropout probability on the adapter input.
    public internal(set) var dropout: Float
    /// Whether `s·B·A` is currently folded into the base weight.
    public private(set) var isMerged = false
    /// PiSSA's initial A₀ `(r, in)` and B₀ `(out, r)` (nil for a standard adapter): the base
    /// weight holds `W − s·B₀·A₀`, so the adapter a PEFT user loads on the original W is
    /// `[A; A₀]`, `[B, −B₀]` (see `PEFTAdapter.save`).
    public private(set) var pissaInitial: (a: [Float], b: [Float])?

    init(a: Parameter, b: Parameter, baseWeight: Parameter, config: LoRAConfig) {
        self.a = a
        self.b = b
        self.baseWeight = baseWeight
        self.rank = config.rank
        self.scale = config.scale
        self.dropout = config.dropout
    }

    /// Kaiming-uniform(a = √5) for A — `U(−1/√in, 1/√in)` — and zeros for B, as PEFT.
    public func initialise(rng: inout RandomGenerator) {
        let fanIn = a.shape[1]
        let bound = 1 / Float(fanIn).squareRoot()
        rng.fillUniform(a.value.pointer, count: a.count, low: -bound, high: bound)
        b.value.zero()
    }

    /// PiSSA, as PEFT's `pissa_init`: with `W = U·diag(S)·Vᵀ` (LAPACK's SVD) and the top r,
    /// `A = diag(√(S_r/s))·V_rᵀ`, `B = U_r·diag(√(S_r/s))`, and `W ← W − s·B·A`; A₀ and B₀ are
    /// kept for the conversion of the trained adapter.
    public func initialisePiSSA() throws {
        precondition(!isMerged && !baseWeight.isTransposed, "PiSSA: the adapter must be unmerged on the checkpoint layout")
        let out = baseWeight.shape[0], inF = baseWeight.shape[1], r = rank
        let svd = try SingularValueDecomposition(baseWeight.pointer, rows: out, cols: inF)
        let k = min(out, inF)
        precondition(r <= k, "PiSSA: rank \(r) above min(out, in) = \(k)")
        let ap = a.value.pointer, bp = b.value.pointer
        for i in 0..<r {
            let root = (svd.s[i] / scale).squareRoot()
            for j in 0..<inF { ap[i * inF + j] = root * svd.vt[i * inF + j] }
            for o in 0..<out { bp[o * r + i] = root * svd.u[o * k + i] }
        }
        Gemm.multiply(m: out, n: inF, k: r, a: bp, lda: r, b: ap, ldb: inF, c: baseWeight.value.pointer, ldc: inF,
                      alpha: -scale, beta: 1)
        pissaInitial = (Array(UnsafeBufferPointer(start: ap, count: a.count)), Array(UnsafeBufferPointer(start: bp, count: b.count)))
    }

    /// `W += s·B·A` (no-op if already merged).
    public func merge() {
        guard !isMerged else { return }
        addDelta(sign: 1)
        isMerged = true
    }

    /// `W -= s·B·A` (no-op if not merged).
    public func unmerge() {
        guard isMerged else { return }
        addDelta(sign: -1)
        isMerged = false
    }

    private func addDelta(sign: Float) {
        precondition(!baseWeight.isTransposed, "LoRA merge/unmerge: \(baseWeight.name) is in the inference layout")
        let out = baseWeight.shape[0], inF = baseWeight.shape[1]
        Gemm.multiply(m: out, n: inF, k: rank, a: b.pointer, lda: rank, b: a.pointer, ldb: inF,
                      c: baseWeight.value.pointer, ldc: inF, alpha: sign * scale, beta: 1)
    }
}

extension LoRAConfig {
    /// Checks the adapter's shape against the model it goes on: `1 ≤ r ≤ min(in, out)` of every
    /// target (a larger rank adds parameters and no expressiveness), α finite and > 0, dropout
    /// in [0, 1), at least one target.
    ///
    /// - Parameters:
    ///   - source: the file the values come from (`adapter_config.json`), or nil for options.
    ///   - rankKey: how the rank is named there (`r`, `--rank`).
    public func validate(for model: EncoderConfig, source: String?, rankKey: String = "--rank") throws {
        let rules = ValueRules(source: source)
        let widest = targets.contains { $0 == .intermediate || $0 == .output }
            ? min(model.hiddenSize, model.intermediateSize) : model.hiddenSize
        try rules.within(rank, 1...widest, key: rankKey, why: "at most the adapted layers' smallest dimension, \(widest)")
        try rules.positive(Double(alpha), key: source == nil ? "--alpha" : "lora_alpha")
        try rules.dropProbability(Double(dropout), key: source == nil ? "--lora-dropout" : "lora_dropout")
        let targetsKey = source == nil ? "--targets" : "target_modules"
        guard !targets.isEmpty else {
            throw InvalidValue(source: source, key: targetsKey, value: "empty", allowed: "at least one target")
        }
        let family = model.family
        let missing = targets.filter { family.layer.linears[$0] == nil }
        guard missing.isEmpty else {
            throw InvalidValue(source: source, key: targetsKey, value: missing.map(\.rawValue).joined(separator: ","),
                               allowed: "targets a \(family.name) layer has: "
                                   + family.layer.targets.map { "\($0.rawValue) (\(family.layer.path($0)))" }.joined(separator: ", "))
        }
    }
}
