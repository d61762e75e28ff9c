import ArgumentParser
import Foundation
import InputValidation
import SafeTensors
import Tensors

/// The `lora` command-line tool.
@main
struct Lora: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lora",
        abstract: "LoRA and full fine-tuning of BERT/RoBERTa encoders on GLUE, and the LoRA paper's study.",
        subcommands: [TrainCommand.self, StudyRunCommand.self, StudyLatencyCommand.self, EvalCommand.self, PredictCommand.self, ParamsCommand.self, MergeCommand.self, QuantizeCommand.self, ServeCommand.self, TokenizeCommand.self, BenchCommand.self, ReproduceCommand.self]
    )

    static func main() {
        BLASEnvironment.relaunchIfNeeded()
        TemporaryFiles.installSignalHandlers()
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch {
            // A value out of range: the option's (usage, 64) or a file's (1), in one line.
            if let invalid = error as? InvalidValue {
                CLI.note("Error: \(invalid)")
                Foundation.exit(invalid.source == nil ? 64 : 1)
            }
            // File-system errors name the file and the cause, not an NSCocoaError code.
            if let text = FileErrors.describe(error) {
                CLI.note("Error: \(text)")
                Foundation.exit(1)
            }
            exit(withError: error)
        }
    }
}
