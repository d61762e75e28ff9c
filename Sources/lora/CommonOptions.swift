import ArgumentParser
import Foundation
import Encoders
import GLUE
import Tokenizers
import Training
import Tensors
import InputValidation
import Collectives

/// `--rank --alpha --targets --lora-dropout --rslora`: the LoRA adapter's shape.
struct LoRAOptions: ParsableArguments {
    @Option(help: "LoRA rank r.")
    var rank: Int = 8

    @Option(help: "LoRA alpha; the update is scaled by alpha/r (alpha/sqrt(r) with --rslora).")
    var alpha: Float = 8

    @Option(help: "Comma-separated LoRA targets: query, key, value, attention.qkv, attention.output, intermediate, output, or a family's module paths or unique module names (q_lin, Wqkv, attn.Wo). Default: the family's: query,value for bert, roberta, xlm-roberta, camembert and electra (PEFT's defaults); q_lin,v_lin for distilbert and Wqkv for modernbert (PEFT has none for them).")
    var targets: String?

    @Option(help: "Dropout on the adapter input.")
    var loraDropout: Float = 0

    @Flag(help: "Rank-stabilised scaling alpha/sqrt(r).")
    var rslora = false

    @Option(name: .customLong("init"),
            help: "How A and B start: 'default' (Kaiming-uniform A, zero B) or 'pissa' (the top-r singular vectors and values of each adapted weight, which becomes the residual; the saved adapter is converted for the original base model, as PEFT does).")
    var initialisation: LoRAInitialisation = .standard

    /// The adapter settings; without `--targets`, `family`'s default targets (query and value
    /// when the family is not known yet).
    func config(family: EncoderFamily? = nil) throws -> LoRAConfig {
        LoRAConfig(rank: rank, alpha: alpha, dropout: loraDropout,
                   targets: try targets.map(LoRATarget.parseList) ?? family?.defaultTargets ?? [.query, .value], rsLoRA: rslora,
                   initialisation: initialisation == .pissa ? .pissa : nil)
    }

    /// The model-independent checks (the rank's upper bound needs the model:
    /// `LoRAConfig.validate(for:)` runs once it is loaded).
    func validate() throws {
        let rules = ValueRules(source: nil)
        try CLI.usage {
            try rules.within(rank, 1...65_536, key: "--rank")
            try rules.positive(Double(alpha), key: "--alpha")
            try rules.dropProbability(Double(loraDropout), key: "--lora-dropout")
            _ = try config()
        }
    }
}

/// Helpers shared by the commands.
enum CLI {
    /// Runs option checks, turning an `InvalidValue` or `EncoderError` into the parser's usage
    /// error (exit status 64), for `validate()`.
    static func usage(_ checks: () throws -> Void) throws {
        do { try checks() } catch let e as InvalidValue {
            throw ValidationError(e.description)
        } catch let e as EncoderError {
            throw ValidationError(e.description)
        }
    }

    /// A value whose checks throw `InvalidValue`, as a usage error (exit status 64).
    static func usageValue<T>(_ make: () throws -> T) throws -> T {
        var value: T?
        try usage { value = try make() }
        return value!
    }

    /// A task name for `validate()`: an unknown one is a usage error (64) listing the known names.
    static func usageTask(_ name: String) throws -> GLUETask {
        do { return try task(name) } catch { throw ValidationError("\(error)") }
    }

    /// `--threads`: at least 1 when given.
    static func validateThreads(_ threads: Int?) throws {
        if let threads { try usage { try ValueRules(source: nil).within(threads, 1...4_096, key: "--threads") } }
    }

    /// Refuses an output directory that is one of the inputs, or that already holds files
    /// (unless `force`), so that no writer overwrites a model or a previous result.
    static func checkOutputDirectory(_ out: String, inputs: [String], force: Bool) throws {
        let target = URL(fileURLWithPath: out).standardizedFileURL.resolvingSymlinksInPath().path
        for input in inputs where URL(fileURLWithPath: input).standardizedFileURL.resolvingSymlinksInPath().path == target {
            throw ValidationError("--out \(out) is the input directory \(input); write to another directory")
        }
        if !force, let contents = try? FileManager.default.contentsOfDirectory(atPath: out), !contents.isEmpty {
            throw ValidationError("--out \(out) already holds files (\(contents.sorted().prefix(3).joined(separator: ", "))\(contents.count > 3 ? ", …" : "")); "
                + "choose an empty or new directory, or pass --force to overwrite")
        }
    }

    /// Resolves a GLUE task name or throws a usage error listing the known names.
    static func task(_ name: String) throws -> GLUETask {
        try GLUETask.named(name)
    }

    /// Loads the model in `directory` for `task` (head size and label names from the task),
    /// optionally with a PEFT adapter on top.
    static func loadModel(_ directory: String, task: GLUETask?, adapter: String? = nil, labelCount: Int? = nil, seed: UInt64 = 0) throws -> EncoderModel {
        let dir = URL(fileURLWithPath: directory)
        var labels = labelCount ?? task?.numLabels
        if let adapter, labels == nil {
            labels = try PEFTAdapter.describe(URL(fileURLWithPath: adapter)).headLabelCount
        }
        let model = try EncoderModel.load(directory: dir, labelCount: labels, labelNames: task.map { $0.isRegression ? ["score"] : $0.labelNames }, seed: seed)
        if let adapter { try PEFTAdapter.load(URL(fileURLWithPath: adapter), into: model) }
        return model
    }

    /// Loads `directory` with `adapter` merged in, for a command that writes a model: warns when
    /// the head is random (the adapter, or the model without one, has none).
    static func loadMerged(_ directory: String, adapter: String?, writing what: String) throws -> EncoderModel {
        let m = try loadModel(directory, task: nil, adapter: adapter)
        if !m.newlyInitialised.isEmpty {
            note("warning: \(adapter ?? directory) has no classification head; the \(what)'s head is random (\(m.newlyInitialised.joined(separator: ", ")))")
        }
        m.mergeAdapters()
        return m
    }

    /// Merges the adapters (unless `merge` is false) and sets the model up to infer: the
    /// transposed fp32 layout, or int8 Linears with `int8`.
    static func prepareForInference(_ m: EncoderModel, int8: Bool, merge: Bool = true) {
        if merge { m.mergeAdapters() }
        // A model loaded from `lora quantize`'s output is int8 already.
        if int8 || m.isQuantized { m.quantizeLinears() } else { m.useInferenceLayout() }
    }

    /// The tokenizer stored with a model (tokenizer.json, vocab.txt, or vocab.json + merges.txt).
    static func tokenizer(_ directory: String) throws -> Tokenizer {
        try loadTokenizer(directory: URL(fileURLWithPath: directory))
    }

    /// Writes a line to standard error.
    static func note(_ text: String) {
        guard !silent else { return }
        FileHandle.standardError.write(Data((text + "\n").utf8))
    }

    /// Set on data-parallel processes other than 0: their notes would repeat process 0's.
    nonisolated(unsafe) static var silent = false

    /// Whether this process is one of an `mpirun` job other than process 0 (it writes no files
    /// and does not check the output directory, which process 0 may already be writing).
    static var isSecondaryProcess: Bool { (MPIProcessGroup.launchedRank() ?? 0) != 0 }

    /// Threads for each of `group`'s processes, which share this host's cores; nil for a
    /// process alone (all cores).
    static func threadsPerProcess(_ group: ProcessGroup) -> Int? {
        group.size > 1 ? max(1, System.coreCount / group.localSize) : nil
    }

    /// Runs `body` as `lora COMMAND` on one process of `group`. Alone, errors go up as they are.
    /// Under mpirun, an error every process raises together (`stopsEveryProcess`) ends them all
    /// normally, reported by process 0; any other error may leave the others waiting in a
    /// collective, so it is printed with this process's rank and ends the job (`MPI_Abort`).
    static func runAsProcess(of group: ProcessGroup, command: String, stopsEveryProcess: (Error) -> Bool,
                             _ body: () throws -> Void) throws {
        guard group.size > 1 else { return try body() }
        do {
            try body()
        } catch where stopsEveryProcess(error) {
            if group.isWriter { throw error }
            throw ExitCode(1)
        } catch {
            FileHandle.standardError.write(Data("lora \(command): process \(group.rank) of \(group.size): \(error)\n".utf8))
            group.abort(code: 1)
        }
    }

    /// Formats a parameter count as "124,647,170".
    static func grouped(_ n: Int) -> String {
        let s = String(n)
        var out = ""
        for (i, ch) in s.reversed().enumerated() {
            if i > 0 && i % 3 == 0 { out.append(",") }
            out.append(ch)
        }
        return String(out.reversed())
    }
}

extension LoRAInitialisation: ExpressibleByArgument {}

/// `--fp32-gemm`: the library behind the fp32 products of inference Linears.
struct FP32GemmOptions: ParsableArguments {
    @Option(name: .customLong("fp32-gemm"),
            help: "The fp32 Linear products at inference: auto (oneDNN when libdnnl.so.2 is installed, else OpenBLAS), openblas or onednn.")
    var fp32Gemm: String = "auto"

    /// Chooses the backend (call after `Threads.configure`): `onednn` fails when oneDNN is absent.
    func apply() throws {
        switch fp32Gemm {
        case "auto": Linear.useBackend(.oneDNN)
        case "openblas": Linear.useBackend(.openBLAS)
        case "onednn": if let why = Linear.useBackend(.oneDNN) { throw ValidationError("--fp32-gemm onednn: \(why)") }
        default: throw ValidationError("--fp32-gemm must be auto, openblas or onednn, not '\(fp32Gemm)'")
        }
    }
}

