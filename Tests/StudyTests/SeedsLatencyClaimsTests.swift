// Seeds (median run, min–max), Table 3's interleaved latency figures, and the claims' verdicts.
import Foundation
import XCTest
@testable import Study

final class SeedsLatencyClaimsTests: XCTestCase {
    func run(_ task: String, _ method: StudyMethod, seed: UInt64, score: Double, averageRSS: Double? = nil,
             trainable: Int = 100, total: Int = 10_000) -> RunData {
        var r = RunData(task: task, method: method, directory: URL(fileURLWithPath: "/study/runs/\(task)-\(method.rawValue)-seed\(seed)"),
                        summary: RunSummary(trainableParameters: trainable, totalParameters: total, bestScore: score,
                                            bestMetric: PaperFigures.metric(task: task)))
        r.seed = seed
        if let averageRSS {
            r.memory = MemoryBreakdown(weightsBytes: 80 * 1_048_576, gradientsBytes: 1_048_576, optimizerBytes: 2 * 1_048_576,
                                       activationsPeakBytes: 40 * 1_048_576, peakRSSBytes: (averageRSS + 50) * 1_048_576,
                                       averageRSSBytes: averageRSS * 1_048_576)
        }
        return r
    }

    func testRunNamesCarryTheSeed() throws {
        let a = try XCTUnwrap(StudyData.parseRunName("STS-B-lora-seed43"))
        XCTAssertEqual(a.task, "STS-B")
        XCTAssertEqual(a.method, .lora)
        XCTAssertEqual(a.seed, 43)
        let b = try XCTUnwrap(StudyData.parseRunName("SST-2-full"))
        XCTAssertEqual(b.task, "SST-2")
        XCTAssertNil(b.seed)
        XCTAssertNil(StudyData.parseRunName("MRPC-seed42"))
        XCTAssertNil(StudyData.parseRunName("MRPC-lora-seedx"))
    }

    /// Three seeds: Table 2 shows the median and the range; Tables 3–6 use the median run.
    func testMedianOverSeedsAndTheMedianRun() throws {
        let study = StudyData(directory: URL(fileURLWithPath: "/study"), runs: [
            run("MRPC", .full, seed: 42, score: 0.80), run("MRPC", .full, seed: 43, score: 0.70), run("MRPC", .full, seed: 44, score: 0.90),
            run("MRPC", .lora, seed: 42, score: 0.60), run("MRPC", .lora, seed: 43, score: 0.75),
        ])
        XCTAssertEqual(study.medianRun(task: "MRPC", method: .full)?.seed, 42)
        XCTAssertEqual(study.medianRun(task: "MRPC", method: .lora)?.seed, 42, "even count: the lower middle run")
        let results = StudyAnalysis.analyze(study)
        let mrpc = try XCTUnwrap(results.task("MRPC"))
        XCTAssertEqual(try XCTUnwrap(mrpc.fftScore), 0.80, accuracy: 1e-12)
        XCTAssertEqual(try XCTUnwrap(mrpc.loraScore), 0.675, accuracy: 1e-12, "even count: the mean of the middle two")
        XCTAssertEqual(mrpc.fftSeedScores.map(\.seed), [42, 43, 44])
        XCTAssertEqual(results.run(task: "MRPC", method: .full)?.seed, 42)
        XCTAssertEqual(results.runs.filter(\.isMedian).map(\.directory), ["MRPC-full-seed42", "MRPC-lora-seed42"])
        let md = MarkdownReport.render(results)
        XCTAssertEqual(tableRow(md, startingWith: "FFT (ours)", after: "Table 2")?[2], "80.0 [70.0–90.0]")
        XCTAssertEqual(tableRow(md, startingWith: "LoRA (ours)", after: "Table 2")?[2], "67.5 [60.0–75.0]")
    }

    /// A reference run that trained other epochs than the study's plan is left out, with a warning.
    func testReferenceRunsOfAnotherPlanAreLeftOut() throws {
        var ours = run("MRPC", .lora, seed: 42, score: 0.8)
        ours.summary?.options = RunOptions(epochs: 7)
        let study = StudyData(directory: URL(fileURLWithPath: "/study"), manifest: StudyManifest(seeds: [42, 43]), runs: [ours])
        let reference = ReferenceResults(runs: [
            .init(task: "MRPC", method: "lora", bestScore: 0.81, epochs: 8, seed: 42),
            .init(task: "MRPC", method: "lora", bestScore: 0.79, epochs: 7, seed: 43),
        ])
        let results = StudyAnalysis.analyze(study, reference: reference, referencePath: "ref.json")
        XCTAssertEqual(try XCTUnwrap(results.task("MRPC")?.loraReferenceScore), 0.79, accuracy: 1e-12)
        XCTAssertEqual(results.task("MRPC")?.loraReferenceSeeds, [43])
        XCTAssertTrue(results.warnings.contains { $0.contains("MRPC lora: the reference run (seed 42) trained 8 epochs, this study's runs 7") },
                      "\(results.warnings)")
    }

    /// The LoRA(ref) row is the reference runner's median over the study's seeds.
    func testReferenceRowIsTheMedianOverTheStudysSeeds() throws {
        let study = StudyData(directory: URL(fileURLWithPath: "/study"), manifest: StudyManifest(seeds: [42, 43, 44]),
                              runs: [run("RTE", .lora, seed: 42, score: 0.6)])
        let reference = ReferenceResults(runs: [
            .init(task: "RTE", method: "lora", bestScore: 0.50, seed: 42), .init(task: "RTE", method: "lora", bestScore: 0.58, seed: 43),
            .init(task: "RTE", method: "lora", bestScore: 0.99, seed: 99), .init(task: "RTE", method: "lora", bestScore: 0.54, seed: 44),
        ])
        let results = StudyAnalysis.analyze(study, reference: reference, referencePath: "ref.json")
        XCTAssertEqual(try XCTUnwrap(results.task("RTE")?.loraReferenceScore), 0.54, accuracy: 1e-12)
        XCTAssertEqual(results.task("RTE")?.loraReferenceSeeds, [42, 43, 44])
        XCTAssertEqual(results.referenceResults, "ref.json")
    }

    /// Paired rounds: the merged-vs-FFT difference is the median of each round's ratio, its
    /// interval the range over the rounds, with coverage 1 − 2^(1−n).
    func testLatencyFiguresPairTheRounds() throws {
        let m = LatencyMeasurement(task: "SST-2", devExamples: 872, batchSize: 32, rounds: 5, fftRun: "SST-2-full-seed43", loraRun: "SST-2-lora-seed42",
                                   configurations: [
                                       "fft": .init(devPassSeconds: [2.0, 2.2, 2.0, 2.1, 1.9], singleExampleP50Seconds: 0.004, singleExampleP95Seconds: 0.006),
                                       "lora_merged": .init(devPassSeconds: [2.02, 2.2, 1.96, 2.142, 1.9]),
                                       "lora_unmerged": .init(devPassSeconds: [2.2, 2.42, 2.156, 2.3562, 2.09]),
                                   ])
        let r = StudyAnalysis.latencyResult(m)
        XCTAssertEqual(try XCTUnwrap(r.fft?.devPassMedianSeconds), 2.0, accuracy: 1e-12)
        XCTAssertEqual(try XCTUnwrap(r.fft?.devPassMinSeconds), 1.9, accuracy: 1e-12)
        // Paired ratios − 1: +1 %, 0, −2 %, +2 %, 0 → median 0, range [−2, +2].
        XCTAssertEqual(try XCTUnwrap(r.mergedVsFFTPercent), 0, accuracy: 1e-9)
        XCTAssertEqual(try XCTUnwrap(r.mergedVsFFTIntervalPercent?.first), -2, accuracy: 1e-9)
        XCTAssertEqual(try XCTUnwrap(r.mergedVsFFTIntervalPercent?.last), 2, accuracy: 1e-9)
        XCTAssertEqual(try XCTUnwrap(r.intervalCoverage), 0.9375, accuracy: 1e-12)
        XCTAssertEqual(try XCTUnwrap(r.unmergedOverheadPercent), 10, accuracy: 1e-9)
    }

    func study(latencyMergedSeconds: Double, loraRSS: Double) -> StudyData {
        var runs: [RunData] = []
        var latency: [String: LatencyMeasurement] = [:]
        for task in PaperFigures.tasks {
            runs.append(run(task, .full, seed: 42, score: 0.80, averageRSS: 600, trainable: 1_000_000, total: 1_000_000))
            runs.append(run(task, .lora, seed: 42, score: task == "CoLA" ? 0.77 : 0.795, averageRSS: loraRSS, trainable: 3000, total: 1_003_000))
            latency[task] = LatencyMeasurement(task: task, rounds: 5, configurations: [
                "fft": .init(devPassSeconds: Array(repeating: 1.0, count: 5)),
                "lora_merged": .init(devPassSeconds: Array(repeating: latencyMergedSeconds, count: 5)),
                "lora_unmerged": .init(devPassSeconds: Array(repeating: 1.2, count: 5)),
            ])
        }
        return StudyData(directory: URL(fileURLWithPath: "/study"), runs: runs, latency: latency)
    }

    /// Each claim's verdict is computed, and can come out either way.
    func testClaimsAreComputedAndCanFail() throws {
        let good = StudyAnalysis.analyze(study(latencyMergedSeconds: 1.02, loraRSS: 300))
        XCTAssertEqual(good.claims.map(\.id), ["parameters", "scores", "inference_latency", "memory", "energy"])
        let byID = Dictionary(uniqueKeysWithValues: good.claims.map { ($0.id, $0) })
        XCTAssertEqual(byID["parameters"]?.holds, true)
        XCTAssertEqual(try XCTUnwrap(byID["parameters"]?.figures["reduction_percent"]), 99.7, accuracy: 1e-9)
        // CoLA: 3 points below FFT: the scores claim fails on it.
        XCTAssertEqual(byID["scores"]?.holds, false)
        XCTAssertEqual(try XCTUnwrap(byID["scores"]?.figures["CoLA_lora_minus_fft_points"]), -3, accuracy: 1e-9)
        XCTAssertEqual(byID["inference_latency"]?.holds, true)
        XCTAssertEqual(byID["memory"]?.holds, true)
        XCTAssertEqual(try XCTUnwrap(byID["memory"]?.figures["mean_average_rss_reduction_percent"]), 50, accuracy: 1e-9)
        XCTAssertNil(byID["energy"]?.holds, "no power meter, no profile: not measured")
        XCTAssertNil(good.task("MRPC")?.memoryNote)

        let bad = StudyAnalysis.analyze(study(latencyMergedSeconds: 1.08, loraRSS: 700))
        let badByID = Dictionary(uniqueKeysWithValues: bad.claims.map { ($0.id, $0) })
        XCTAssertEqual(badByID["inference_latency"]?.holds, false)
        XCTAssertEqual(badByID["memory"]?.holds, false)
        let note = try XCTUnwrap(bad.task("MRPC")?.memoryNote)
        XCTAssertTrue(note.contains("average RSS 700 MiB ≥ FFT's 600 MiB"), note)

        // results.json writes `holds` as null when not measured.
        let json = String(decoding: try JSONEncoder().encode(good.claims), as: UTF8.self)
        XCTAssertTrue(json.contains("\"holds\":null"), json)
        let md = MarkdownReport.render(good)
        XCTAssertTrue(md.contains("## Claims"))
        XCTAssertTrue(md.contains("**scores**: LoRA scores within 2 points of FFT on every task and on average (median over seeds): **does not hold**"), md)
        XCTAssertLessThan(md.range(of: "## Claims")!.lowerBound, md.range(of: "## Table 1")!.lowerBound, "the report opens with the claims")
    }
}
