import ArgumentParser
import Foundation
import Encoders
import GLUE
import Tokenizers
import Training
import Tensors

/// `--rank --alpha --targets --lora-dropout --rslora`: the LoRA adapter's shape.
struct LoRAOptions: ParsableArguments {
    @Option(help: "LoRA rank r.")
    var rank: Int = 8

    @Option(help: "LoRA alpha; the update is scaled by alpha/r (alpha/sqrt(r) with --rslora).")
    var alpha: Float = 8

    @Option(help: "Comma-separated LoRA targets: query, key, value, attention.output, intermediate, output.")
    var targets: String = "query,value"

    @Option(help: "Dropout on the adapter input.")
    var loraDropout: Float = 0

    @Flag(help: "Rank-stabilised scaling alpha/sqrt(r).")
    var rslora = false

    func config() throws -> LoRAConfig {
        guard rank > 0 else { throw ValidationError("--rank must be positive") }
        guard loraDropout >= 0 && loraDropout < 1 else { throw ValidationError("--lora-dropout must be in [0, 1)") }
        return LoRAConfig(rank: rank, alpha: alpha, dropout: loraDropout, targets: try LoRATarget.parseList(targets), rsLoRA: rslora)
    }
}

/// Helpers shared by the commands.
enum CLI {
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

    /// The tokenizer stored with a model (tokenizer.json, vocab.txt, or vocab.json + merges.txt).
    static func tokenizer(_ directory: String) throws -> Tokenizer {
        try loadTokenizer(directory: URL(fileURLWithPath: directory))
    }

    /// Writes a line to standard error.
    static func note(_ text: String) {
        FileHandle.standardError.write(Data((text + "\n").utf8))
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

