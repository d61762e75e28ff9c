// `lora predict --file`: one prediction per row of a data file, as JSON Lines or CSV, written atomically.
import Foundation
import DataFiles
import Encoders
import SafeTensors
import Tensors
import Training

/// Predictions for the rows of a data file, with label names and the id column carried through.
enum FilePrediction {
    /// Predicts every row of `file` and writes the rows to `output` (JSON Lines, or CSV when it
    /// ends in `.csv`; standard output when nil). Output files are written to a temporary name
    /// and renamed, so a failure leaves no half-written file.
    static func run(model m: EncoderModel, rows: UserData.Unlabelled, batchSize: Int, output: String?, source: String, randomHead: Bool) throws {
        let k = m.config.labelCount
        let regression = m.config.isRegression
        let names = m.config.labelNames ?? (0..<k).map(String.init)
        let csv = output.map { $0.lowercased().hasSuffix(".csv") } ?? false
        var text = ""
        if csv {
            var header = rows.ids == nil ? [] : ["id"]
            header += regression ? ["score"] : ["label"] + names.map { "probability_\($0)" }
            if randomHead { header.append("random_head") }
            text += CSVWriting.row(header)
        }
        func emit(_ line: String) {
            if output == nil { FileHandle.standardOutput.write(Data(line.utf8)) } else { text += line }
        }
        var start = 0
        while start < rows.encodings.count {
            let end = min(start + batchSize, rows.encodings.count)
            let batch = rows.encodings[start..<end]
            let logits = try m.predict(EncoderBatch(sequences: batch.map(\.ids), typeIds: batch.map(\.typeIds)))
            for i in 0..<(end - start) {
                let row = Array(logits[(i * k)..<((i + 1) * k)])
                let r = start + i
                if let bad = row.first(where: { !$0.isFinite }) {
                    throw EncoderError.invalidInput("\(source):\(rows.lines[r]): the model gave a non-finite logit (\(bad)); its weights or the input are broken")
                }
                let id = rows.ids?[r]
                if regression {
                    let score = Double(row[0])
                    if csv {
                        emit(CSVWriting.row((id.map { [$0] } ?? []) + [format(score)] + (randomHead ? ["true"] : [])))
                    } else {
                        emit("{" + (id.map { "\"id\": \(JSONValue.quoted($0)), " } ?? "") + "\"score\": \(format(score))" + (randomHead ? ", \"random_head\": true" : "") + "}\n")
                    }
                } else {
                    let p = softmax(row)
                    let best = p.indices.max { p[$0] < p[$1] } ?? 0
                    if csv {
                        emit(CSVWriting.row((id.map { [$0] } ?? []) + [names[best]] + p.map(format) + (randomHead ? ["true"] : [])))
                    } else {
                        emit("{" + (id.map { "\"id\": \(JSONValue.quoted($0)), " } ?? "") + "\"label\": \(JSONValue.quoted(names[best])), \"probabilities\": ["
                             + p.map(format).joined(separator: ", ") + "]" + (randomHead ? ", \"random_head\": true" : "") + "}\n")
                    }
                }
            }
            start = end
        }
        if let output {
            try AtomicFile.write(Data(text.utf8), to: URL(fileURLWithPath: output))
            CLI.note("\(rows.encodings.count) predictions written to \(output)")
        }
    }

    static func softmax(_ logits: [Float]) -> [Double] {
        let top = Double(logits.max() ?? 0)
        let e = logits.map { Foundation.exp(Double($0) - top) }
        let sum = e.reduce(0, +)
        return e.map { $0 / sum }
    }

    static func format(_ value: Double) -> String { String(format: "%.6g", value) }

}
