import ArgumentParser
import Foundation
import Tokenizers
import DataFiles
import Training

/// `lora tokenize`: ids of each line of standard input.
///
/// Each line is one input; a tab separates the two sequences of a pair (at the first tab).
/// The output has one line per input: the ids separated by spaces (with `--type-ids`, a tab
/// and then the type ids). With `--benchmark`, nothing is printed per line: the lines are
/// encoded `--repeats` times and the best rate is reported.
struct TokenizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokenize",
        abstract: "Print the token ids of each line of stdin (a tab separates a pair).",
        discussion: """
        The tokenizer directory holds tokenizer.json, or vocab.txt (BERT), or vocab.json and \
        merges.txt (RoBERTa/GPT-2). Example:
          printf 'Hello world\\tSecond sentence\\n' | lora tokenize --tokenizer models/all-MiniLM-L6-v2
        Throughput on SST-2 (sentence column, header skipped):
          cut -f1 ../shared/glue/SST-2/train.tsv | tail -n +2 | lora tokenize --tokenizer DIR --benchmark
        """
    )

    @Option(help: "Directory with tokenizer.json, vocab.txt, or vocab.json + merges.txt.")
    var tokenizer: String

    @Option(help: "Truncate each input (special tokens included) to this many tokens, longest first.")
    var maxLength: Int?

    @Flag(help: "Also print the type ids, after a tab.")
    var typeIds = false

    @Flag(help: "Time the encoding of all input lines instead of printing ids.")
    var benchmark = false

    @Option(help: "Timed repetitions with --benchmark (the best is reported).")
    var repeats: Int = 5

    @Option(help: "Threads for batch encoding (default: all cores).")
    var threads: Int?

    @Option(help: "Read and tokenize a labelled CSV/TSV/JSON Lines file as `lora train` does (streaming, all cores) and print rows/s and peak memory.")
    var file: String?

    @OptionGroup var dataFile: DataFileOptions

    func validate() throws {
        if let maxLength, maxLength < 1 { throw ValidationError("--max-length must be at least 1") }
        if repeats < 1 { throw ValidationError("--repeats must be at least 1") }
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
    }

    func run() throws {
        let tok = try loadTokenizer(directory: URL(fileURLWithPath: tokenizer))
        if let file {
            let start = DispatchTime.now().uptimeNanoseconds
            let read = try UserData.readTraining(try dataFile.open(file), columns: dataFile.columns(), taskType: nil, metric: nil,
                                                 tokenizer: tok, maxLength: maxLength ?? 512)
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            let tokens = read.examples.reduce(0) { $0 + $1.ids.count }
            var usage = rusage()
            getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
            print(String(format: "%@: %d rows, %d tokens, %.2f s, %.0f rows/s, peak RSS %.0f MiB (%@)", file, read.examples.count, tokens, seconds,
                         Double(read.examples.count) / seconds, Double(usage.ru_maxrss) / 1024, read.columns))
            return
        }
        if benchmark {
            var inputs: [(String, String?)] = []
            while let line = readLine(strippingNewline: true) { inputs.append(Self.split(line)) }
            try runBenchmark(tok, inputs)
            return
        }
        var batch: [(String, String?)] = []
        batch.reserveCapacity(4096)
        func flush() {
            let encodings = tok.encodeBatch(batch, maxLength: maxLength, threads: threads)
            var out = ""
            for e in encodings {
                out += e.ids.map(String.init).joined(separator: " ")
                if typeIds { out += "\t" + e.typeIds.map(String.init).joined(separator: " ") }
                out += "\n"
            }
            FileHandle.standardOutput.write(Data(out.utf8))
            batch.removeAll(keepingCapacity: true)
        }
        while let line = readLine(strippingNewline: true) {
            batch.append(Self.split(line))
            if batch.count == 4096 { flush() }
        }
        if !batch.isEmpty { flush() }
    }

    /// A line, split at its first tab into a pair.
    static func split(_ line: String) -> (String, String?) {
        guard let tab = line.utf8.firstIndex(of: 0x09) else { return (line, nil) }
        let a = String(line[..<tab])
        let b = String(line[line.utf8.index(after: tab)...])
        return (a, b)
    }

    private func runBenchmark(_ tok: Tokenizer, _ inputs: [(String, String?)]) throws {
        guard !inputs.isEmpty else { throw ValidationError("--benchmark: no input lines on stdin") }
        func time(threads: Int?) -> (Double, Int) {
            var best = Double.infinity
            var tokens = 0
            for _ in 0..<repeats {
                let start = DispatchTime.now().uptimeNanoseconds
                let encodings = tok.encodeBatch(inputs, maxLength: maxLength, threads: threads)
                let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
                best = min(best, seconds)
                tokens = encodings.reduce(0) { $0 + $1.count }
            }
            return (best, tokens)
        }
        let (batch, tokens) = time(threads: threads)
        let (single, _) = time(threads: 1)
        let cores = ProcessInfo.processInfo.activeProcessorCount
        let name = URL(fileURLWithPath: tokenizer).lastPathComponent
        print("swift Tokenizers (\(cores) CPUs), \(name), \(inputs.count) inputs, \(tokens) tokens, "
              + "max length \(maxLength.map(String.init) ?? "none")")
        print(String(format: "batch:    %.0f sentences/s (%.1f ms)", Double(inputs.count) / batch, batch * 1e3))
        print(String(format: "1 thread: %.0f sentences/s (%.1f ms)", Double(inputs.count) / single, single * 1e3))
    }
}
