import Foundation
import Profiling

/// Settings of the analysis and report.
public struct ReportOptions: Sendable, Equatable {
    /// Assumed watts of one busy core for the energy ESTIMATE where power is not measured
    /// (an assumption, not a measurement). Default 10 W.
    public var assumedWattsPerBusyCore: Double
    /// The iso-accuracy margin below the lower best score. Default 0.005, as in the paper.
    public var isoAccuracyMargin: Double
    /// The generation date written in the header (tests pin it).
    public var date: Date
    /// The most points a profile line of a plot keeps (longer series are thinned, keeping
    /// each bucket's extremes).
    public var maxPlotPoints: Int
    /// How the report names the study directory (as the user gave it); default its path.
    public var studyDirectoryLabel: String?
    /// How the report names the reference results file (as the user gave it).
    public var referenceLabel: String?

    /// Creates options; the defaults are the paper's margin, 10 W per core, now, 800 points.
    public init(assumedWattsPerBusyCore: Double = 10, isoAccuracyMargin: Double = IsoAccuracy.defaultMargin,
                date: Date = Date(), maxPlotPoints: Int = 800, studyDirectoryLabel: String? = nil, referenceLabel: String? = nil) {
        self.assumedWattsPerBusyCore = assumedWattsPerBusyCore
        self.isoAccuracyMargin = isoAccuracyMargin
        self.date = date
        self.maxPlotPoints = maxPlotPoints
        self.studyDirectoryLabel = studyDirectoryLabel
        self.referenceLabel = referenceLabel
    }
}

/// Turns a study's runs into the report's figures. Pure: reads nothing from disk.
public enum StudyAnalysis {
    /// Computes every figure of the report.
    ///
    /// - Parameters:
    ///   - study: The runs and manifest.
    ///   - reference: Results of the reference runner, for the LoRA(ref) row.
    ///   - referencePath: Where they came from (recorded in the results).
    ///   - options: Margin, energy-estimate assumption and date.
    public static func analyze(_ study: StudyData, reference: ReferenceResults? = nil, referencePath: String? = nil,
                               options: ReportOptions = ReportOptions()) -> StudyResults {
        let tasks = study.tasks
        var warnings = study.warnings
        var runs: [RunResult] = study.runs.map { runResult($0, options: options, warnings: &warnings) }
        var taskResults: [TaskResult] = []

        for task in tasks {
            let metric = PaperFigures.taskIndex(task) != nil
                ? PaperFigures.metric(task: task)
                : (study.run(task: task, method: .full) ?? study.run(task: task, method: .lora))
                    .flatMap { primaryMetric(of: $0) } ?? "accuracy"
            let full = study.medianRun(task: task, method: .full)
            let lora = study.medianRun(task: task, method: .lora)
            for median in [full, lora].compactMap({ $0 }) {
                if let index = runs.firstIndex(where: { $0.directory == median.directory.lastPathComponent }) { runs[index].isMedian = true }
            }
            var result = TaskResult(task: task, metric: metric)
            func seedScores(_ method: StudyMethod) -> [SeedScore] {
                study.runs(task: task, method: method).compactMap { run in bestScore(of: run, metric: metric).map { SeedScore(seed: run.seed, score: $0) } }
            }
            result.fftSeedScores = seedScores(.full)
            result.loraSeedScores = seedScores(.lora)
            result.fftScore = InferenceTimings.median(result.fftSeedScores.map(\.score))
            result.loraScore = InferenceTimings.median(result.loraSeedScores.map(\.score))
            result.fftMedianSeed = full?.seed
            result.loraMedianSeed = lora?.seed
            result.fftBestPrimary = full.flatMap { bestPrimary(of: $0) }
            result.loraBestPrimary = lora.flatMap { bestPrimary(of: $0) }
            let seeds = study.manifest?.seeds.map(Set.init)
            // A reference run counts only if it trained for the epochs our runs planned.
            func matchingPlan(_ method: StudyMethod) -> [ReferenceResults.Run] {
                guard let refs = reference?.runs(task: task, method: method, seeds: seeds) else { return [] }
                let planned = Set(study.runs(task: task, method: method).compactMap { $0.summary?.options?.epochs })
                return refs.filter { ref in
                    guard let epochs = ref.epochs, planned.count == 1, let ours = planned.first, Double(ours) != epochs else { return true }
                    warnings.append("\(task) \(method.rawValue): the reference run (seed \(ref.seed.map(String.init) ?? "?")) trained \(String(format: "%g", epochs)) epochs, "
                        + "this study's runs \(ours); it is left out of the LoRA(ref)/FFT(ref) row")
                    return false
                }
            }
            let loraRefs = matchingPlan(.lora)
            if !loraRefs.isEmpty {
                result.loraReferenceScore = InferenceTimings.median(loraRefs.compactMap { $0.bestScore.map(rawScale) })
                result.loraReferenceSeeds = loraRefs.compactMap(\.seed)
            }
            let fftRefs = matchingPlan(.full)
            if !fftRefs.isEmpty {
                result.fftReferenceScore = InferenceTimings.median(fftRefs.compactMap { $0.bestScore.map(rawScale) })
            }
            result.published = PublishedTask(task: task)
            result.latency = study.latency[task].map(latencyResult)
            if let f = result.fftBestPrimary, let l = result.loraBestPrimary {
                let threshold = IsoAccuracy.threshold(bestFFT: f, bestLoRA: l, margin: options.isoAccuracyMargin)
                result.threshold = threshold
                if let full, let lora, let mf = primaryMetric(of: full), let ml = primaryMetric(of: lora), mf != ml {
                    warnings.append("\(task): FFT and LoRA report different primary metrics (\(mf), \(ml)); the threshold compares them anyway")
                }
                for run in study.runs(task: task, method: .full) + study.runs(task: task, method: .lora) {
                    if let index = runs.firstIndex(where: { $0.directory == run.directory.lastPathComponent }) {
                        runs[index].isoAccuracy = isoAccuracy(run, threshold: threshold, options: options)
                    }
                }
            }
            // The methods beyond the paper, each against FFT with its own threshold.
            for method in StudyMethod.allCases where !StudyMethod.paperMethods.contains(method) {
                let methodRuns = study.runs(task: task, method: method)
                guard !methodRuns.isEmpty else { continue }
                var c = MethodComparison(method: method)
                c.seedScores = seedScores(method)
                c.score = InferenceTimings.median(c.seedScores.map(\.score))
                let median = study.medianRun(task: task, method: method)
                if let median, let index = runs.firstIndex(where: { $0.directory == median.directory.lastPathComponent }) { runs[index].isMedian = true }
                c.medianSeed = median?.seed
                c.bestPrimary = median.flatMap { bestPrimary(of: $0) }
                if let f = result.fftBestPrimary, let m = c.bestPrimary {
                    let threshold = IsoAccuracy.threshold(bestFFT: f, bestLoRA: m, margin: options.isoAccuracyMargin)
                    c.threshold = threshold
                    for run in methodRuns {
                        if let index = runs.firstIndex(where: { $0.directory == run.directory.lastPathComponent }) {
                            runs[index].isoAccuracy = isoAccuracy(run, threshold: threshold, options: options)
                        }
                    }
                    c.reach = median.map { isoAccuracy($0, threshold: threshold, options: options) }
                    c.fftReach = full.map { isoAccuracy($0, threshold: threshold, options: options) }
                }
                result.additions = (result.additions ?? []) + [c]
            }
            result.memoryNote = memoryNote(fft: runs.first { $0.isMedian && $0.task == full?.task && $0.method == .full },
                                           lora: runs.first { $0.isMedian && $0.task == lora?.task && $0.method == .lora })
            taskResults.append(result)
        }

        var results = StudyResults(
            generated: iso8601(options.date), studyDirectory: options.studyDirectoryLabel ?? study.directory.path, manifest: study.manifest,
            referenceResults: referencePath.map { options.referenceLabel ?? $0 }, assumedWattsPerBusyCore: options.assumedWattsPerBusyCore,
            isoAccuracyMargin: options.isoAccuracyMargin, tasks: tasks,
            parameters: parameters(study, tasks: tasks), taskResults: taskResults, runs: runs, plots: [],
            warnings: warnings)
        results.claims = StudyClaims.check(results)
        let goals = StudyClaims.additionGoals(results)
        results.additionGoals = goals.isEmpty ? nil : goals
        return results
    }

    /// Table 3's figures from a task's interleaved measurement.
    static func latencyResult(_ m: LatencyMeasurement) -> LatencyResult {
        func figures(_ name: String) -> LatencyFigures? {
            guard let c = m.configurations[name], let median = InferenceTimings.median(c.devPassSeconds),
                  let lo = c.devPassSeconds.min(), let hi = c.devPassSeconds.max() else { return nil }
            return LatencyFigures(devPassMedianSeconds: median, devPassMinSeconds: lo, devPassMaxSeconds: hi,
                                  singleP50Seconds: c.singleExampleP50Seconds, singleP95Seconds: c.singleExampleP95Seconds)
        }
        var r = LatencyResult(fft: figures("fft"), loraMerged: figures("lora_merged"), loraUnmerged: figures("lora_unmerged"),
                              rounds: m.rounds, devExamples: m.devExamples, batchSize: m.batchSize, fftRun: m.fftRun, loraRun: m.loraRun,
                              mergedVsUnmergedMaxAbsLogitDifference: m.mergedVsUnmergedMaxAbsLogitDifference)
        func paired(_ a: String, _ b: String) -> [Double] {
            guard let x = m.configurations[a]?.devPassSeconds, let y = m.configurations[b]?.devPassSeconds else { return [] }
            return zip(x, y).compactMap { $1 > 0 ? ($0 / $1 - 1) * 100 : nil }
        }
        let merged = paired("lora_merged", "fft")
        if let median = InferenceTimings.median(merged), let lo = merged.min(), let hi = merged.max() {
            r.mergedVsFFTPercent = median
            r.mergedVsFFTIntervalPercent = [lo, hi]
            r.intervalCoverage = 1 - pow(2, 1 - Double(merged.count))
        }
        r.unmergedOverheadPercent = InferenceTimings.median(paired("lora_unmerged", "lora_merged"))
        return r
    }

    /// Why LoRA's average or peak RSS is not below FFT's, from the breakdown; nil when both are below.
    static func memoryNote(fft: RunResult?, lora: RunResult?) -> String? {
        guard let f = fft?.memory, let l = lora?.memory else { return nil }
        var worse: [String] = []
        if let la = l.averageRSSMiB, let fa = f.averageRSSMiB, la >= fa { worse.append(String(format: "average RSS %.0f MiB ≥ FFT's %.0f MiB", la, fa)) }
        if let lp = l.peakRSSMiB, let fp = f.peakRSSMiB, lp >= fp { worse.append(String(format: "peak RSS %.0f MiB ≥ FFT's %.0f MiB", lp, fp)) }
        guard !worse.isEmpty else { return nil }
        func parts(_ m: MemoryResult) -> (state: Double, activations: Double, rest: Double?)? {
            guard let w = m.weightsMiB, let g = m.gradientsMiB, let o = m.optimizerMiB, let a = m.activationsPeakMiB else { return nil }
            return (w + g + o, a, m.peakRSSMiB.map { $0 - w - g - o - a })
        }
        var note = "LoRA's " + worse.joined(separator: " and its ") + "."
        if let pf = parts(f), let pl = parts(l) {
            note += String(format: " Weights, gradients and optimizer state: LoRA %.0f MiB, FFT %.0f MiB; activation arena peak: LoRA %.0f MiB, FFT %.0f MiB",
                           pl.state, pf.state, pl.activations, pf.activations)
            if let rl = pl.rest, let rf = pf.rest {
                note += String(format: "; the rest of the peak (runtime, data, allocator, BLAS buffers): LoRA %.0f MiB, FFT %.0f MiB", rl, rf)
            }
            note += "."
        }
        return note
    }

    /// The primary metric's name: from the evaluations, else the summary.
    public static func primaryMetric(of run: RunData) -> String? {
        run.evals.lazy.compactMap(\.metric).first ?? run.summary?.bestMetric
    }

    /// The best primary score: the highest logged evaluation, else the summary's best score.
    public static func bestPrimary(of run: RunData) -> Double? {
        run.log?.bestPrimary ?? run.summary?.bestScore ?? run.log?.end?.bestScore
    }

    /// The best score on `metric` (raw scale): over the evaluations, the primary value when
    /// the primary is that metric, else the metric from the evaluation's `metrics`; without
    /// evaluations, the summary's best score if its metric matches.
    public static func bestScore(of run: RunData, metric: String) -> Double? {
        let values = run.evals.compactMap { eval -> Double? in
            if eval.metric == nil || eval.metric == metric { return eval.primary }
            return eval.metrics[metric]
        }.filter(\.isFinite)
        if let best = values.max() { return best }
        if let summary = run.summary, summary.bestMetric == nil || summary.bestMetric == metric {
            return summary.bestScore
        }
        return nil
    }

    /// Reads a reference score on the raw scale: a value above 1.5 is taken as already ×100.
    static func rawScale(_ x: Double) -> Double {
        x > 1.5 ? x / 100 : x
    }

    /// The figures of one run (without iso-accuracy, which needs both methods).
    static func runResult(_ run: RunData, options: ReportOptions, warnings: inout [String]) -> RunResult {
        let log = run.log
        let summary = run.summary
        let name = "runs/\(run.directory.lastPathComponent)"
        if log?.skippedIncompleteLastLine == true {
            warnings.append("\(name)/log.jsonl: skipped an incomplete last line (run still writing?)")
        }
        let status: String
        if log?.end != nil || summary != nil {
            status = "finished"
        } else if let log, !log.errors.isEmpty {
            status = "failed"
        } else if log != nil {
            status = "running"
        } else {
            status = "no log"
        }
        let evals = run.evals
        let bestEval = evals.filter { $0.primary.isFinite }.max { $0.primary < $1.primary }
        let steps = log?.steps ?? []
        var tokensPerSecond: Double?
        let tokens = steps.compactMap(\.tokens).reduce(0, +)
        if let last = steps.last, last.trainSeconds > 0, tokens > 0 { tokensPerSecond = tokens / last.trainSeconds }

        var result = RunResult(
            task: run.task, method: run.method, status: status,
            trainableParameters: summary?.trainableParameters ?? log?.start?.trainableParameters,
            totalParameters: summary?.totalParameters ?? log?.start?.totalParameters,
            adapterParameters: summary?.adapterParameters,
            trainExamples: summary?.trainExamples ?? log?.start?.trainExamples,
            devExamples: summary?.devExamples ?? log?.start?.devExamples,
            metric: primaryMetric(of: run), bestScore: bestPrimary(of: run),
            tableScore: bestScore(of: run, metric: PaperFigures.metric(task: run.task)),
            bestEpoch: bestEval?.epoch ?? summary?.bestEpoch, bestStep: bestEval?.step ?? summary?.bestStep,
            evaluations: evals.count,
            steps: summary?.steps ?? log?.end?.steps ?? steps.last?.step,
            epochsCompleted: summary?.epochsCompleted ?? steps.last?.epoch,
            plannedEpochs: summary?.options?.epochs ?? log?.start?.epochs,
            trainSeconds: summary?.trainSeconds ?? log?.end?.trainSeconds ?? steps.last?.trainSeconds,
            evalSeconds: summary?.evalSeconds ?? evals.last?.evalSeconds,
            wallSeconds: summary?.wallSeconds ?? wallSeconds(log),
            tokensPerSecond: tokensPerSecond,
            stoppedEarly: summary?.stoppedEarly ?? log?.end?.stoppedEarly,
            errors: log?.errors ?? [], options: summary?.options)
        if PaperFigures.taskIndex(run.task) == nil { result.tableScore = result.bestScore }
        result.seed = run.seed
        result.directory = run.directory.lastPathComponent
        result.failure = run.failure
        if run.failure != nil && summary == nil { result.status = "failed" }
        let finite = evals.filter { $0.primary.isFinite }
        if finite.count >= 2, let last = finite.last, finite.dropLast().allSatisfy({ $0.primary < last.primary }),
           last.primary - finite[finite.count - 2].primary > 0.01 {
            result.stillImproving = true
        }
        result.inference = inferenceResult(run)
        result.memory = memoryResult(run)
        result.power = powerResult(run, options: options)
        return result
    }

    static func wallSeconds(_ log: RunLogFile?) -> Double? {
        guard let log, log.resumes == 0, let start = log.start?.time else { return nil }
        guard let end = log.end?.time ?? log.evals.last?.time else { return nil }
        return end - start
    }

    static func inferenceResult(_ run: RunData) -> InferenceResult? {
        guard let timings = run.inference else { return nil }
        return InferenceResult(
            fftMedianSeconds: timings.median("fft"), loraMergedMedianSeconds: timings.median("lora_merged"),
            loraUnmergedMedianSeconds: timings.median("lora_unmerged"), devExamples: timings.devExamples,
            batchSize: timings.batchSize, repeats: timings.repeats)
    }

    static func memoryResult(_ run: RunData) -> MemoryResult? {
        let mib = 1_048_576.0
        var result = MemoryResult()
        if let m = run.memory {
            result.weightsMiB = m.weightsBytes.map { $0 / mib }
            result.gradientsMiB = m.gradientsBytes.map { $0 / mib }
            result.optimizerMiB = m.optimizerBytes.map { $0 / mib }
            result.activationsPeakMiB = m.activationsPeakBytes.map { $0 / mib }
            result.averageRSSMiB = m.averageRSSBytes.map { $0 / mib }
            result.peakRSSMiB = m.peakRSSBytes.map { $0 / mib }
            if result.averageRSSMiB != nil || result.peakRSSMiB != nil { result.rssSource = "memory.json" }
        }
        if result.averageRSSMiB == nil || result.peakRSSMiB == nil {
            if let p = run.profileSummary, p.sampleCount > 0 {
                result.averageRSSMiB = result.averageRSSMiB ?? p.averageRSSMiB
                result.peakRSSMiB = result.peakRSSMiB ?? p.processPeakRSSMiB ?? p.peakRSSMiB
                result.rssSource = result.rssSource ?? "profile-summary.json"
            } else if let samples = run.samples, !samples.isEmpty {
                result.averageRSSMiB = result.averageRSSMiB ?? ProfileSeries.timeAverage({ $0.rssMiB }, in: samples)
                result.peakRSSMiB = result.peakRSSMiB
                    ?? samples.compactMap(\.peakRSSMiB).max() ?? samples.map(\.rssMiB).max()
                result.rssSource = result.rssSource ?? "profile.jsonl"
            }
        }
        return result == MemoryResult() ? nil : result
    }

    static func powerResult(_ run: RunData, options: ReportOptions) -> PowerResult? {
        guard run.profileSummary != nil || !(run.samples ?? []).isEmpty else { return nil }
        let measured = run.powerMeasured
        var result = PowerResult(source: run.profileSummary?.powerSource.rawValue ?? (measured ? "unknown" : "not measured"),
                                 detail: run.profileSummary?.powerSourceDetail, measured: measured)
        if let p = run.profileSummary {
            result.cpuSeconds = p.cpuSeconds
            result.averageCPUUtilisation = p.averageCPUUtilisation
            result.profileSeconds = p.duration
            if measured {
                result.averageWatts = p.averagePowerWatts
                result.totalEnergyJoules = p.totalEnergyJoules
            }
        }
        if let samples = run.samples, let last = samples.last {
            result.cpuSeconds = result.cpuSeconds ?? last.cpuSeconds
            result.profileSeconds = result.profileSeconds ?? last.t
            if result.averageCPUUtilisation == nil, last.t > 0 { result.averageCPUUtilisation = last.cpuSeconds / last.t }
            if measured, result.totalEnergyJoules == nil,
               let energy = samples.last(where: { $0.energyJoules != nil })?.energyJoules {
                result.totalEnergyJoules = energy
                if last.t > 0 { result.averageWatts = energy / last.t }
            }
        }
        result.estimatedEnergyJoules = result.cpuSeconds.map {
            EnergyEstimate(cpuSeconds: $0, assumedWattsPerBusyCore: options.assumedWattsPerBusyCore).estimatedJoules
        }
        return result
    }

    /// Tables 5–6 figures of one run for a given threshold.
    public static func isoAccuracy(_ run: RunData, threshold: Double, options: ReportOptions = ReportOptions()) -> IsoAccuracyResult {
        let measured = run.powerMeasured
        var result = IsoAccuracyResult(threshold: threshold, reached: false, powerMeasured: measured)
        guard let reach = IsoAccuracy.firstReach(evals: run.evals, threshold: threshold) else { return result }
        result.reached = true
        result.reach = reach
        let t = IsoAccuracy.profileSeconds(of: reach, startTime: run.log?.start?.time, resumed: (run.log?.resumes ?? 0) > 0)
        result.profileSeconds = t
        guard let samples = run.samples, !samples.isEmpty else { return result }
        if measured, let energy = ProfileSeries.cumulative({ $0.energyJoules }, at: t, in: samples) {
            result.energyJoules = energy
            if t > 0 { result.averageWatts = energy / t }
        }
        if let cpu = ProfileSeries.cumulative({ $0.cpuSeconds }, at: t, in: samples) {
            let estimate = EnergyEstimate(cpuSeconds: cpu, assumedWattsPerBusyCore: options.assumedWattsPerBusyCore)
            result.cpuSeconds = cpu
            result.estimatedEnergyJoules = estimate.estimatedJoules
            result.estimateFormula = estimate.formula
        }
        return result
    }

    static func parameters(_ study: StudyData, tasks: [String]) -> ParameterResults {
        func ordered(_ method: StudyMethod) -> [RunData] {
            tasks.compactMap { study.run(task: $0, method: method) }
        }
        func trainable(_ run: RunData) -> Int? { run.summary?.trainableParameters ?? run.log?.start?.trainableParameters }
        func total(_ run: RunData) -> Int? { run.summary?.totalParameters ?? run.log?.start?.totalParameters }
        func range(_ values: [Int]) -> [Int]? {
            guard let lo = values.min(), let hi = values.max() else { return nil }
            return [lo, hi]
        }
        let full = ordered(.full), lora = ordered(.lora)
        return ParameterResults(
            fftTrainable: full.lazy.compactMap(trainable).first,
            fftTotal: full.lazy.compactMap(total).first,
            loraTrainable: lora.lazy.compactMap(trainable).first,
            loraAdapter: lora.lazy.compactMap { $0.summary?.adapterParameters }.first,
            loraTotal: lora.lazy.compactMap(total).first,
            fftTrainableRange: range(full.compactMap(trainable)),
            loraTrainableRange: range(lora.compactMap(trainable)))
    }

    /// `date` as ISO 8601 in UTC, to the second.
    static func iso8601(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.timeZone = TimeZone(identifier: "UTC")
        return formatter.string(from: date)
    }
}
