import ArgumentParser
import Tensors

/// The `lora` command-line tool.
@main
struct Lora: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lora",
        abstract: "LoRA and full fine-tuning of BERT/RoBERTa encoders on GLUE, and the LoRA paper's study.",
        subcommands: [TrainCommand.self, StudyRunCommand.self, StudyLatencyCommand.self, EvalCommand.self, PredictCommand.self, ParamsCommand.self, MergeCommand.self, TokenizeCommand.self, BenchCommand.self, ReproduceCommand.self]
    )

    static func main() {
        BLASEnvironment.relaunchIfNeeded()
        main(nil)
    }
}
