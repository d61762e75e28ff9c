import Foundation
import XCTest
@testable import Study
#if canImport(FoundationXML)
import FoundationXML
#endif

final class StudyReportTests: XCTestCase {
    /// XCTest makes one instance per test method, so every test gets its own folder.
    private let fixture = StudyFixture()
    private let date = Date(timeIntervalSince1970: 1_750_000_000)

    override func tearDown() {
        // STUDY_TESTS_KEEP=<dir> keeps the last generated study there, to look at the report.
        if let keep = ProcessInfo.processInfo.environment["STUDY_TESTS_KEEP"] {
            let destination = URL(fileURLWithPath: keep)
            try? FileManager.default.removeItem(at: destination)
            try? FileManager.default.copyItem(at: fixture.study, to: destination)
        }
        fixture.remove()
    }

    private func writeReport(reference: URL? = nil, options: ReportOptions? = nil) throws -> (String, StudyResults) {
        let results = try StudyReport.write(studyDirectory: fixture.study, referenceResults: reference,
                                            options: options ?? ReportOptions(date: date))
        return (try fixture.read("report.md"), results)
    }

    func testReportHasEveryTableAndTheHeader() throws {
        try fixture.writeDefaultStudy()
        let (md, _) = try writeReport()
        for heading in ["# LoRA vs full fine-tuning on GLUE: bert-tiny", "### How this differs from the paper", "## Runs",
                        "## Table 1: Trainable parameters", "## Table 2: Dev-set scores (×100)",
                        "## Table 3: Inference time on each dev set (s)", "## Table 4: Memory during training (MiB)",
                        "### Table 4b: Where the training memory goes (MiB)", "## Tables 5–6: Efficiency at iso-accuracy",
                        "### Table 5: Full fine-tuning (FFT) efficiency", "### Table 6: LoRA efficiency",
                        "## Figures", "## Hyper-parameters as run"] {
            XCTAssertTrue(md.contains(heading), "missing heading \(heading)")
        }
        XCTAssertTrue(md.contains("- **Budget:** `quick`"))
        XCTAssertTrue(md.contains("- **Machine:** 2-core test VM"))
        XCTAssertTrue(md.contains("- **Command:** `lora study --budget quick`"))
        XCTAssertTrue(md.contains("- **Generated:** 2025-06-15T15:06:40Z"))
        XCTAssertTrue(md.contains("instead of the paper's RoBERTa-base"))
        XCTAssertTrue(md.contains("RTX 3080 Ti"))
        // Every table row has as many cells as its header (a readable Markdown table).
        var columns: Int?
        for line in md.split(separator: "\n", omittingEmptySubsequences: false) {
            guard line.hasPrefix("|") else { columns = nil; continue }
            let count = line.components(separatedBy: " | ").count
            if let columns { XCTAssertEqual(count, columns, "ragged row: \(line)") } else { columns = count }
        }
    }

    func testTable1ParameterCounts() throws {
        try fixture.writeDefaultStudy()
        let (md, results) = try writeReport()
        XCTAssertEqual(results.parameters.fftTrainable, 4_386_178)
        XCTAssertEqual(results.parameters.loraAdapter, 8_192)
        XCTAssertEqual(results.parameters.loraTrainable, 24_962)
        XCTAssertEqual(tableRow(md, startingWith: "FFT (ours)", after: "Table 1"),
                       ["FFT (ours)", "4.39", "4,386,178", "4,386,178", "100.00 %"])
        XCTAssertEqual(tableRow(md, startingWith: "LoRA (ours): adapters only", after: "Table 1"),
                       ["LoRA (ours): adapters only", "0.008", "8,192", "4,394,370", "0.19 %"])
        XCTAssertEqual(tableRow(md, startingWith: "LoRA (ours): all trainable (adapters + classification head)", after: "Table 1")?[2],
                       "24,962")
        XCTAssertEqual(tableRow(md, startingWith: "LoRA(paper) (published, RoBERTa-base, GPU)", after: "Table 1")?[1], "0.3")
        XCTAssertEqual(tableRow(md, startingWith: "FFT (published, RoBERTa-base, GPU)", after: "Table 1")?[1], "124.6")
    }

    func testTable2ScoresMissingRunsAndPublishedRows() throws {
        try fixture.writeDefaultStudy()
        let (md, results) = try writeReport()
        XCTAssertEqual(results.tasks, ["SST-2", "MRPC", "CoLA", "RTE", "STS-B"])
        let header = try XCTUnwrap(md.components(separatedBy: "\n").first { $0.hasPrefix("| Method | SST-2") })
        XCTAssertEqual(header, "| Method | SST-2 (Acc) | MRPC (Acc) | CoLA (MCC) | RTE (Acc) | STS-B (Pearson) |")
        // SST-2, CoLA and STS-B were not run: "—".
        // One seed each; ↑1 marks a run whose best score came in its last evaluation, more than a point above the one before.
        XCTAssertEqual(tableRow(md, startingWith: "FFT (ours)", after: "Table 2"), ["FFT (ours)", "—", "86.0 ↑1", "—", "60.0 ↑1", "—"])
        XCTAssertEqual(tableRow(md, startingWith: "LoRA (ours)", after: "Table 2"), ["LoRA (ours)", "—", "85.0", "—", "65.0 ↑1", "—"])
        XCTAssertEqual(results.run(task: "MRPC", method: .full)?.stillImproving, true)
        XCTAssertEqual(results.run(task: "MRPC", method: .lora)?.stillImproving, false)
        XCTAssertEqual(tableRow(md, startingWith: "LoRA − FFT (ours, points)", after: "Table 2"),
                       ["LoRA − FFT (ours, points)", "—", "-1.0", "—", "+5.0", "—"])
        XCTAssertEqual(tableRow(md, startingWith: "FFT (published, RoBERTa-base, GPU)", after: "Table 2"),
                       ["FFT (published, RoBERTa-base, GPU)", "94.4", "90.2", "62.1", "75.5", "90.7"])
        XCTAssertEqual(tableRow(md, startingWith: "LoRA(paper) (published, RoBERTa-base, GPU)", after: "Table 2"),
                       ["LoRA(paper) (published, RoBERTa-base, GPU)", "95.1", "89.7", "63.4", "86.6", "91.5"])
        XCTAssertEqual(tableRow(md, startingWith: "LoRA(ref) (published, RoBERTa-base, GPU)", after: "Table 2"),
                       ["LoRA(ref) (published, RoBERTa-base, GPU)", "94.3", "88.5", "63.4", "77.6", "90.2"])
        XCTAssertEqual(tableRow(md, startingWith: "LoRA(my) (published, RoBERTa-base, GPU)", after: "Table 2"),
                       ["LoRA(my) (published, RoBERTa-base, GPU)", "94.4", "88.2", "62.6", "76.5", "89.9"])
        // Without a reference file there is no LoRA(ref) row of ours.
        XCTAssertNil(tableRow(md, startingWith: "LoRA(ref) (reference runner, this machine)"))
        // Runs of tasks that were not run say so.
        XCTAssertEqual(tableRow(md, startingWith: "SST-2", after: "## Runs")?[3], "not run")
        XCTAssertEqual(tableRow(md, startingWith: "MRPC", after: "## Runs")?[3], "finished")
    }

    func testReferenceResultsRow() throws {
        try fixture.writeDefaultStudy()
        let reference = fixture.root.appendingPathComponent("reference.json")
        try fixture.writeJSON(["runs": [
            ["task": "MRPC", "method": "lora", "best_score": 0.83, "metric": "accuracy", "train_seconds": 123.4, "epochs": 5],
            ["task": "rte", "method": "lora", "best_score": 64.2, "metric": "accuracy"],  // already ×100, other spelling
        ]], to: reference)
        let (md, results) = try writeReport(reference: reference)
        XCTAssertEqual(tableRow(md, startingWith: "LoRA(ref) (reference runner, this machine)", after: "Table 2"),
                       ["LoRA(ref) (reference runner, this machine)", "—", "83.0", "—", "64.2", "—"])
        XCTAssertEqual(results.referenceResults, reference.path)

        XCTAssertThrowsError(try StudyReport.write(studyDirectory: fixture.study,
                                                   referenceResults: fixture.root.appendingPathComponent("absent.json"))) { error in
            guard case StudyError.unreadable(let path, _) = error else { return XCTFail("\(error)") }
            XCTAssertTrue(path.hasSuffix("absent.json"))
        }
    }

    func testTable3MedianInferenceTimes() throws {
        try fixture.writeDefaultStudy()
        let (md, results) = try writeReport()
        XCTAssertEqual(tableRow(md, startingWith: "FFT model", after: "Table 3"), ["FFT model", "—", "0.400", "—", "1.200", "—"])
        // RTE-lora has no inference.json.
        XCTAssertEqual(tableRow(md, startingWith: "LoRA merged", after: "Table 3"), ["LoRA merged", "—", "0.420", "—", "—", "—"])
        XCTAssertEqual(tableRow(md, startingWith: "LoRA unmerged", after: "Table 3"), ["LoRA unmerged", "—", "0.550", "—", "—", "—"])
        XCTAssertEqual(tableRow(md, startingWith: "LoRA merged vs FFT (%)", after: "Table 3")?[2], "+5.0")
        XCTAssertEqual(tableRow(md, startingWith: "FFT (published, RoBERTa-base, GPU)", after: "Table 3"),
                       ["FFT (published, RoBERTa-base, GPU)", "0.62", "0.47", "0.36", "0.67", "1.10"])
        let inference = try XCTUnwrap(results.run(task: "MRPC", method: .lora)?.inference)
        XCTAssertEqual(inference.loraMergedMedianSeconds, 0.42)
        XCTAssertEqual(inference.loraUnmergedMedianSeconds, 0.55)
        XCTAssertEqual(inference.repeats, 3)
    }

    func testTable4Memory() throws {
        try fixture.writeDefaultStudy()
        let (md, results) = try writeReport()
        XCTAssertEqual(tableRow(md, startingWith: "FFT average RSS", after: "Table 4"), ["FFT average RSS", "—", "600.0", "—", "900.0", "—"])
        let loraAverage = try XCTUnwrap(tableRow(md, startingWith: "LoRA average RSS", after: "Table 4"))
        XCTAssertEqual(loraAverage[2], "400.0")
        XCTAssertNotEqual(loraAverage[4], "—", "RTE-lora's RSS comes from its profile summary")
        XCTAssertEqual(results.run(task: "RTE", method: .lora)?.memory?.rssSource, "profile-summary.json")
        XCTAssertEqual(tableRow(md, startingWith: "LoRA reduction vs FFT, average (%)", after: "Table 4")?[2], "33.3")
        XCTAssertEqual(tableRow(md, startingWith: "FFT peak RSS", after: "Table 4")?[2], "700.0")
        XCTAssertEqual(tableRow(md, startingWith: "FFT optimizer state", after: "Table 4b"), ["FFT optimizer state", "—", "33.4", "—", "33.4", "—"])
        XCTAssertEqual(tableRow(md, startingWith: "LoRA gradients", after: "Table 4b"), ["LoRA gradients", "—", "0.1", "—", "—", "—"])
        XCTAssertEqual(tableRow(md, startingWith: "FFT sum of the four", after: "Table 4b")?[2], "186.8")
    }

    func testTables5And6WithoutPowerGiveNotMeasuredAndALabelledEstimate() throws {
        try fixture.writeDefaultStudy()
        let (md, results) = try writeReport()
        XCTAssertEqual(tableRow(md, startingWith: "Threshold (raw primary metric)"),
                       ["Threshold (raw primary metric)", "—", "0.845", "—", "0.595", "—"])
        let mrpc = try XCTUnwrap(results.task("MRPC"))
        XCTAssertEqual(try XCTUnwrap(mrpc.threshold), 0.845, accuracy: 1e-12)

        // FFT reaches 0.845 at its third evaluation (30 s, epoch 3); LoRA at its fourth (20 s, epoch 4).
        XCTAssertEqual(tableRow(md, startingWith: "Train Time (s)", after: "### Table 5"), ["Train Time (s)", "—", "30.0", "—", "100.0", "—"])
        XCTAssertEqual(tableRow(md, startingWith: "Training Epochs", after: "### Table 5"), ["Training Epochs", "—", "3", "—", "2", "—"])
        XCTAssertEqual(tableRow(md, startingWith: "Train Time (s)", after: "### Table 6"), ["Train Time (s)", "—", "20.0", "—", "80.0", "—"])
        XCTAssertEqual(tableRow(md, startingWith: "Training Epochs", after: "### Table 6"), ["Training Epochs", "—", "4", "—", "2", "—"])
        XCTAssertEqual(tableRow(md, startingWith: "Reached at (step; dev ×100)", after: "### Table 6")?[2], "step 80; 85.0")

        XCTAssertEqual(tableRow(md, startingWith: "Power Avg (W)", after: "### Table 5"),
                       ["Power Avg (W)", "—", "not measured", "—", "not measured", "—"])
        XCTAssertEqual(tableRow(md, startingWith: "Total Energy (kJ)", after: "### Table 6"),
                       ["Total Energy (kJ)", "—", "not measured", "—", "not measured", "—"])
        // ESTIMATE = CPU-seconds × 10 W: FFT 2 cores × 33 s = 66 CPU-s → 0.660 kJ; LoRA 1.5 × 24 = 36 → 0.360 kJ.
        XCTAssertEqual(tableRow(md, startingWith: "ESTIMATE energy (kJ) = CPU-s × 10 W/core", after: "### Table 5")?[2], "0.660")
        XCTAssertEqual(tableRow(md, startingWith: "ESTIMATE energy (kJ) = CPU-s × 10 W/core", after: "### Table 6")?[2], "0.360")
        XCTAssertTrue(md.contains("energy_J = CPU-seconds × 10 W per busy core"))
        XCTAssertTrue(md.contains("is an assumption, not a measurement"))

        let lora = try XCTUnwrap(results.run(task: "MRPC", method: .lora)?.isoAccuracy)
        XCTAssertTrue(lora.reached)
        XCTAssertFalse(lora.powerMeasured)
        XCTAssertNil(lora.energyJoules)
        XCTAssertEqual(lora.reach?.trainSeconds, 20)
        XCTAssertEqual(lora.reach?.epoch, 4)
        XCTAssertEqual(lora.profileSeconds, 24)
        XCTAssertEqual(try XCTUnwrap(lora.cpuSeconds), 36, accuracy: 1e-9)
        // The published tables follow, labelled.
        XCTAssertTrue(md.contains("Paper's Table 5 (published, RoBERTa-base, GPU; not our measurements)"))
        XCTAssertEqual(tableRow(md, startingWith: "Training Epochs", after: "Paper's Table 6"),
                       ["Training Epochs", "8", "6", "56", "9", "7"])
    }

    func testTables5And6WithMeasuredPower() throws {
        try fixture.writeDefaultStudy(power: true)
        let (md, results) = try writeReport()
        // FFT: 50 W × 33 s = 1650 J; LoRA: 40 W × 24 s = 960 J.
        XCTAssertEqual(tableRow(md, startingWith: "Power Avg (W)", after: "### Table 5")?[2], "50.0")
        XCTAssertEqual(tableRow(md, startingWith: "Total Energy (kJ)", after: "### Table 5")?[2], "1.65")
        XCTAssertEqual(tableRow(md, startingWith: "Power Avg (W)", after: "### Table 6")?[2], "40.0")
        XCTAssertEqual(tableRow(md, startingWith: "Total Energy (kJ)", after: "### Table 6")?[2], "0.960")
        XCTAssertNil(tableRow(md, startingWith: "ESTIMATE energy (kJ) = CPU-s × 10 W/core"), "no estimate when measured")
        XCTAssertTrue(md.contains("- **Power:** measured with rapl on 4 of 4 profiled runs"))
        XCTAssertEqual(try XCTUnwrap(results.run(task: "MRPC", method: .full)?.isoAccuracy?.energyJoules), 1650, accuracy: 1e-6)
        XCTAssertTrue(results.plots.contains("plots/MRPC-power.svg"))
        XCTAssertFalse(results.plots.contains("plots/MRPC-cpu.svg"))
    }

    func testNeverReachingTheThresholdIsSaid() throws {
        try fixture.writeDefaultStudy()
        // A margin of −0.01 puts MRPC's threshold at 0.86: FFT reaches it, LoRA (best 0.85) never does.
        let (md, results) = try writeReport(options: ReportOptions(isoAccuracyMargin: -0.01, date: date))
        XCTAssertEqual(tableRow(md, startingWith: "Train Time (s)", after: "### Table 6")?[2], "not reached")
        XCTAssertEqual(tableRow(md, startingWith: "Train Time (s)", after: "### Table 5")?[2], "30.0")
        XCTAssertTrue(md.contains("LoRA on MRPC never reached the threshold 0.86 in its logged evaluations."))
        XCTAssertEqual(results.run(task: "MRPC", method: .lora)?.isoAccuracy?.reached, false)
    }

    func testMissingRunsAndFilesGiveDashes() throws {
        try fixture.writeDefaultStudy()
        // Drop MRPC's LoRA run entirely: no score, no threshold, no iso-accuracy for MRPC.
        try FileManager.default.removeItem(at: fixture.study.appendingPathComponent("runs/MRPC-lora"))
        let (md, results) = try writeReport()
        XCTAssertEqual(tableRow(md, startingWith: "LoRA (ours)", after: "Table 2"), ["LoRA (ours)", "—", "—", "—", "65.0 ↑1", "—"])
        XCTAssertEqual(tableRow(md, startingWith: "FFT (ours)", after: "Table 2")?[2], "86.0 ↑1")
        XCTAssertEqual(tableRow(md, startingWith: "Threshold (raw primary metric)")?[2], "—")
        XCTAssertEqual(tableRow(md, startingWith: "Train Time (s)", after: "### Table 5")?[2], "—")
        XCTAssertNil(results.task("MRPC")?.threshold)
        XCTAssertEqual(tableRow(md, startingWith: "MRPC", after: "## Runs").map { Array($0.prefix(4)) }, ["MRPC", "FFT", "42", "finished"])
    }

    func testAStudyWithNoRunsYetStillRenders() throws {
        try fixture.writeJSON(["model": "roberta-base", "model_family": "roberta", "budget": "paper"],
                              to: fixture.study.appendingPathComponent("study.json"))
        let (md, results) = try writeReport()
        XCTAssertTrue(results.runs.isEmpty)
        XCTAssertTrue(results.plots.isEmpty)
        XCTAssertEqual(tableRow(md, startingWith: "FFT (ours)", after: "Table 2"), ["FFT (ours)", "—", "—", "—", "—", "—"])
        XCTAssertEqual(tableRow(md, startingWith: "FFT (ours)", after: "Table 1")?[1], "—")
        XCTAssertTrue(md.contains("- **Model:** the paper's RoBERTa-base"))
        XCTAssertTrue(md.contains("`paper`: the paper's Table 7 epochs"))

        // A directory without even study.json works too; a missing directory is an error.
        let bare = fixture.root.appendingPathComponent("bare")
        try FileManager.default.createDirectory(at: bare, withIntermediateDirectories: true)
        XCTAssertNoThrow(try StudyReport.write(studyDirectory: bare, referenceResults: nil))
        XCTAssertThrowsError(try StudyReport.write(studyDirectory: fixture.root.appendingPathComponent("nope"), referenceResults: nil)) {
            guard case StudyError.notAStudyDirectory = $0 else { return XCTFail("\($0)") }
        }
    }

    func testARunInProgressAndUnknownRecords() throws {
        try fixture.writeDefaultStudy()
        let dir = fixture.study.appendingPathComponent("runs/RTE-lora")
        // Only a partial log: no summary, no end; a resume record and an unknown record; an
        // evaluation whose metric was undefined (null); an incomplete last line being written.
        try FileManager.default.removeItem(at: dir.appendingPathComponent("summary.json"))
        let log = """
        {"type":"start","time":100,"task":"RTE","method":"lora","trainable_parameters":24962,"total_parameters":4394370}
        {"type":"step","time":101,"step":1,"epoch":0.1,"loss":0.7,"lr":0.0001,"grad_norm":1,"tokens":500,"seconds":1,"train_seconds":1}
        {"type":"resume","time":200,"step":1}
        {"type":"heartbeat","time":201,"metrics":"not numbers"}
        {"type":"eval","time":203,"step":5,"epoch":0.5,"metrics":{"accuracy":null},"primary":null,"metric":"accuracy","train_seconds":2,"eval_seconds":0.5}
        {"type":"eval","time":205,"step":10,"epoch":1,"metrics":{"accuracy":0.61,"f1":null},"primary":0.61,"metric":"accuracy","train_seconds":4,"eval_seconds":1}
        {"type":"step","time":206,"step":11,"epo
        """
        try Data(log.utf8).write(to: dir.appendingPathComponent("log.jsonl"))
        let (md, results) = try writeReport()
        let run = try XCTUnwrap(results.run(task: "RTE", method: .lora))
        XCTAssertEqual(run.status, "running")
        XCTAssertEqual(run.bestScore, 0.61)
        XCTAssertEqual(run.evaluations, 2, "an undefined (null) score is kept but never best")
        XCTAssertTrue(results.warnings.contains { $0.contains("RTE-lora/log.jsonl: skipped an incomplete last line") })
        XCTAssertTrue(md.contains("## Warnings"))
        // Resumed: the profile time falls back to train + eval seconds = 5.
        XCTAssertEqual(run.isoAccuracy?.profileSeconds, 5)
        XCTAssertEqual(tableRow(md, startingWith: "LoRA (ours)", after: "Table 2")?[4], "61.0")
    }

    func testMalformedLogLineNamesFileAndLine() throws {
        try fixture.writeDefaultStudy()
        let url = fixture.study.appendingPathComponent("runs/MRPC-lora/log.jsonl")
        var lines = try String(contentsOf: url, encoding: .utf8).components(separatedBy: "\n")
        lines[2] = "{\"type\":\"step\",\"step\":3,,}"
        try Data(lines.joined(separator: "\n").utf8).write(to: url)
        XCTAssertThrowsError(try StudyReport.write(studyDirectory: fixture.study, referenceResults: nil)) { error in
            guard case StudyError.malformedJSON(let path, let line, _) = error else { return XCTFail("\(error)") }
            XCTAssertTrue(path.hasSuffix("runs/MRPC-lora/log.jsonl"), path)
            XCTAssertEqual(line, 3)
            XCTAssertTrue("\(error)".contains("MRPC-lora/log.jsonl:3"), "\(error)")
        }

        // An eval record without its primary score is malformed too.
        lines[2] = "{\"type\":\"eval\",\"epoch\":1,\"train_seconds\":3}"
        try Data(lines.joined(separator: "\n").utf8).write(to: url)
        XCTAssertThrowsError(try StudyReport.write(studyDirectory: fixture.study, referenceResults: nil)) { error in
            guard case StudyError.malformedJSON(_, let line, let reason) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(line, 3)
            XCTAssertTrue(reason.contains("primary"), reason)
        }

        // A record without a type.
        lines[2] = "[1, 2]"
        try Data(lines.joined(separator: "\n").utf8).write(to: url)
        XCTAssertThrowsError(try StudyReport.write(studyDirectory: fixture.study, referenceResults: nil)) { error in
            guard case StudyError.malformedJSON(_, let line, _) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(line, 3)
        }
    }

    func testMalformedJSONFilesNameFileAndLine() throws {
        try fixture.writeDefaultStudy()
        let summary = fixture.study.appendingPathComponent("runs/RTE-full/summary.json")
        try Data("{\n  \"task\": \"RTE\",\n  \"bestScore\": 0.6,\n  \"steps\": ,\n}\n".utf8).write(to: summary)
        XCTAssertThrowsError(try StudyReport.write(studyDirectory: fixture.study, referenceResults: nil)) { error in
            guard case StudyError.malformedJSON(let path, let line, _) = error else { return XCTFail("\(error)") }
            XCTAssertTrue(path.hasSuffix("runs/RTE-full/summary.json"), path)
            XCTAssertEqual(line, 4)
        }

        // A value of the wrong type names the key.
        try Data("{\"task\": \"RTE\", \"bestScore\": \"high\"}".utf8).write(to: summary)
        XCTAssertThrowsError(try StudyReport.write(studyDirectory: fixture.study, referenceResults: nil)) { error in
            guard case StudyError.malformedJSON(let path, _, let reason) = error else { return XCTFail("\(error)") }
            XCTAssertTrue(path.hasSuffix("summary.json"))
            XCTAssertTrue(reason.contains("bestScore"), reason)
        }
        try FileManager.default.removeItem(at: summary)

        let profile = fixture.study.appendingPathComponent("runs/RTE-full/profile.jsonl")
        var lines = try String(contentsOf: profile, encoding: .utf8).components(separatedBy: "\n")
        lines[4] = "{\"t\": \"soon\"}"
        try Data(lines.joined(separator: "\n").utf8).write(to: profile)
        XCTAssertThrowsError(try StudyReport.write(studyDirectory: fixture.study, referenceResults: nil)) { error in
            guard case StudyError.malformedJSON(let path, let line, _) = error else { return XCTFail("\(error)") }
            XCTAssertTrue(path.hasSuffix("runs/RTE-full/profile.jsonl"), path)
            XCTAssertEqual(line, 5)
        }
    }

    func testResultsJSONDecodesWithEveryFigure() throws {
        try fixture.writeDefaultStudy()
        let (_, written) = try writeReport()
        let data = try Data(contentsOf: fixture.study.appendingPathComponent("results.json"))
        let results = try JSONDecoder().decode(StudyResults.self, from: data)
        XCTAssertEqual(results, written)
        XCTAssertEqual(results.manifest?.model, "bert-tiny")
        XCTAssertEqual(results.manifest?.modelFamily, "bert")
        XCTAssertEqual(results.runs.count, 4)
        XCTAssertEqual(results.task("MRPC")?.fftScore, 0.86)
        XCTAssertEqual(results.task("RTE")?.loraScore, 0.65)
        XCTAssertEqual(results.task("MRPC")?.published?.loraPaperScore, 89.7)
        XCTAssertNil(results.task("SST-2")?.fftScore)
        XCTAssertEqual(results.run(task: "MRPC", method: .full)?.isoAccuracy?.reach?.epoch, 3)
        XCTAssertEqual(results.run(task: "MRPC", method: .full)?.power?.source, "not measured")
        XCTAssertEqual(results.run(task: "MRPC", method: .lora)?.options?.loraRank, 8)
        XCTAssertEqual(results.run(task: "MRPC", method: .lora)?.options?.loraTargets ?? [], ["query", "value"])
        XCTAssertEqual(results.assumedWattsPerBusyCore, 10)
        // No temporary files are left behind by the atomic writes.
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: fixture.study.path).filter { $0.contains(".tmp-") }
        XCTAssertEqual(leftovers, [])
    }

    func testPlotsExistAreWellFormedAndEmbedded() throws {
        try fixture.writeDefaultStudy()
        let (md, results) = try writeReport()
        XCTAssertEqual(Set(results.plots), [
            "plots/MRPC-curve.svg", "plots/MRPC-memory.svg", "plots/MRPC-cpu.svg",
            "plots/RTE-curve.svg", "plots/RTE-memory.svg", "plots/RTE-cpu.svg",
        ])
        for path in results.plots {
            let url = fixture.study.appendingPathComponent(path)
            let data = try Data(contentsOf: url)
            let checker = SVGChecker()
            let parser = XMLParser(data: data)
            parser.delegate = checker
            XCTAssertTrue(parser.parse(), "\(path) is not well-formed XML: \(String(describing: parser.parserError))")
            XCTAssertEqual(checker.root, "svg", path)
            XCTAssertGreaterThanOrEqual(checker.counts["polyline", default: 0], 2, "\(path): one line per method")
            XCTAssertGreaterThan(checker.counts["text", default: 0], 10, "\(path): title, labels, ticks, legend")
            XCTAssertTrue(md.contains("](\(path))"), "\(path) embedded in report.md")
        }
        let curve = try fixture.read("plots/MRPC-curve.svg")
        XCTAssertTrue(curve.contains("threshold 84.5"))
        XCTAssertTrue(curve.contains(">FFT<") && curve.contains(">LoRA<"))
        let cpu = try fixture.read("plots/MRPC-cpu.svg")
        XCTAssertTrue(cpu.contains("power not measured"))
    }

    func testChartEscapesTextAndHandlesNoData() {
        var chart = SVGChart(title: "a < b & \"c\"", xLabel: "x", yLabel: "y")
        chart.series.append(.init(name: "empty", points: [], color: "#000"))
        let svg = chart.render()
        XCTAssertTrue(svg.contains("a &lt; b &amp; &quot;c&quot;"))
        XCTAssertTrue(svg.contains("no data"))
        let parser = XMLParser(data: Data(svg.utf8))
        XCTAssertTrue(parser.parse())
    }
}

/// Records the root element and element counts of an XML document.
private final class SVGChecker: NSObject, XMLParserDelegate {
    var root: String?
    var counts: [String: Int] = [:]

    func parser(_ parser: XMLParser, didStartElement elementName: String, namespaceURI: String?,
                qualifiedName qName: String?, attributes attributeDict: [String: String] = [:]) {
        if root == nil { root = elementName }
        counts[elementName, default: 0] += 1
    }
}
