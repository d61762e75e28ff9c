import Foundation

/// Renders a study's figures as the Markdown report (`report.md`): a header, the paper's
/// Tables 1–6 for our runs beside the published numbers, the plots, and the hyper-parameters.
///
/// Missing figures show "—"; published figures are always labelled as such.
public enum MarkdownReport {
    /// The placeholder of a missing figure.
    public static let missing = "—"
    /// The label of a figure that needs a power meter the run did not have.
    public static let notMeasured = "not measured"
    /// The label of a run that never reached the iso-accuracy threshold.
    public static let notReached = "not reached"

    /// The report for `results`, embedding `plots` with links relative to the study directory.
    public static func render(_ results: StudyResults, plots: [StudyPlots.Plot] = []) -> String {
        var md = ""
        header(results, into: &md)
        runStatus(results, into: &md)
        plan(results, into: &md)
        table1(results, into: &md)
        table2(results, into: &md)
        table3(results, into: &md)
        table4(results, into: &md)
        tables5and6(results, into: &md)
        beyondThePaper(results, into: &md)
        figures(results, plots: plots, into: &md)
        hyperParameters(results, into: &md)
        if !results.warnings.isEmpty {
            md += "## Warnings\n\n"
            for warning in results.warnings { md += "- \(warning)\n" }
            md += "\n"
        }
        return md
    }

    // MARK: sections

    static func header(_ r: StudyResults, into md: inout String) {
        let m = r.manifest
        let model = m?.model ?? "unknown model"
        md += "# LoRA vs full fine-tuning on GLUE: \(model)\n\n"
        md += "A re-run of the experiments of *Tiny Reproduction: LoRA* (Tables 1–6) with swift-lora.\n\n"
        claims(r, into: &md)
        md += "## Study\n\n"
        md += "- **Model:** \(code(m?.model))\(m?.modelFamily.map { " (\($0) family)" } ?? "")\n"
        md += "- **Budget:** \(code(m?.budget))\n"
        md += "- **Seeds:** \(m?.seeds.map { $0.map(String.init).joined(separator: ", ") } ?? missing)\n"
        md += "- **Machine:** \(m?.machine ?? missing)\n"
        md += "- **Command:** \(code(m?.command))\n"
        md += "- **lora version:** \(code(m?.version))\n"
        md += "- **Generated:** \(r.generated) from `\(r.studyDirectory)`\n"
        if let reference = r.referenceResults { md += "- **Reference results:** `\(reference)`\n" }
        let profiled = r.runs.compactMap(\.power)
        let measured = profiled.filter(\.measured)
        if profiled.isEmpty {
            md += "- **Power:** no profiles found\n"
        } else if measured.isEmpty {
            let reasons = Set(profiled.compactMap(\.detail)).sorted()
            md += "- **Power:** not measured on any run" + (reasons.isEmpty ? "" : " (\(reasons.joined(separator: "; ")))") + "\n"
        } else {
            md += "- **Power:** measured with " + Set(measured.map(\.source)).sorted().joined(separator: ", ")
                + " on \(measured.count) of \(profiled.count) profiled runs\n"
        }
        md += "\n### How this differs from the paper\n\n"
        let family = m?.modelFamily?.lowercased()
        let isRobertaBase = (m?.model ?? "").lowercased().contains("roberta-base")
        if isRobertaBase {
            md += "- **Model:** the paper's RoBERTa-base (125 M parameters).\n"
        } else {
            md += "- **Model:** \(m?.model.map { "`\($0)`" } ?? "an unrecorded model")"
                + (family.map { " (\($0))" } ?? "") + " instead of the paper's RoBERTa-base (125 M parameters); "
                + "scores, parameter counts, times and memory scale with the model.\n"
        }
        md += "- **Hardware:** \(m?.machine ?? "this machine") instead of one NVIDIA RTX 3080 Ti (12 GB). "
            + "Times, memory (process RSS here, GPU VRAM in the paper) and power are not comparable across the two.\n"
        switch m?.budget?.lowercased() {
        case "paper"?:
            md += "- **Budget:** `paper`: the paper's Table 7 epochs and learning rates.\n"
        case let budget?:
            md += "- **Budget:** `\(budget)`: shorter than the paper's Table 7 (see the hyper-parameters as run below), "
                + "so scores are lower bounds and times to the threshold are not the paper's.\n"
        case nil:
            md += "- **Budget:** not recorded.\n"
        }
        md += "- **Initialisation:** as in the reproduction (and unlike the original LoRA paper), MRPC, RTE and STS-B "
            + "start from the pretrained checkpoint, not from an MNLI-adapted one.\n"
        md += "- **Published rows** are the paper's RoBERTa-base GPU numbers, shown for reference, labelled "
            + "\"\(PaperFigures.provenance)\"; they are not our measurements.\n\n"
    }

    static func claims(_ r: StudyResults, into md: inout String) {
        md += "## Claims\n\n"
        md += "Each of the paper's claims checked against this study's numbers (computed from the runs, not written by hand; "
            + "scores are medians over the seeds, Tables 3–6 use each task's median run):\n\n"
        for claim in r.claims {
            md += "- **\(claim.id)**: \(claim.statement): **\(claim.verdict)**. \(claim.detail).\n"
        }
        if let goals = r.additionGoals, !goals.isEmpty {
            md += "\nBeyond the paper (this project's methods, each against FFT with its own threshold; see \"Beyond the paper\" below):\n\n"
            for goal in goals {
                md += "- **\(goal.id)**: \(goal.statement): **\(goal.verdict)**. \(goal.detail).\n"
            }
        }
        md += "\n"
    }

    static func runStatus(_ r: StudyResults, into md: inout String) {
        md += "## Runs\n\n"
        md += "Each run trained in a process of its own (`lora study-run`). \"still improving\": the best score came in the last "
            + "evaluation and rose by more than 1 point over the one before, so the dev curve had not levelled off. "
            + "\"median\": the run of its task and method whose score is the median over the seeds (Tables 3–6).\n\n"
        var rows: [[String]] = []
        for task in r.tasks {
            for method in StudyMethod.allCases where StudyMethod.paperMethods.contains(method) || !r.runs(task: task, method: method).isEmpty {
                let runs = r.runs(task: task, method: method)
                if runs.isEmpty {
                    rows.append([task, method.label, missing, "not run", missing, missing, missing, missing, missing, missing, missing, missing, missing])
                    continue
                }
                for run in runs {
                    var notes: [String] = []
                    if run.isMedian { notes.append("median") }
                    if run.stillImproving { notes.append("still improving") }
                    rows.append([
                        task, method.label, run.seed.map(String.init) ?? missing, run.status, run.steps.map(String.init) ?? missing,
                        epochs(run.epochsCompleted) + (run.plannedEpochs.map { " / \($0)" } ?? ""),
                        String(run.evaluations), score(run.bestScore) + (run.metric.map { " (\(PaperFigures.metricShortName($0)))" } ?? ""),
                        fixed(run.trainSeconds, 1), fixed(run.wallSeconds, 1), fixed(run.tokensPerSecond, 0),
                        run.power?.source ?? missing, notes.isEmpty ? missing : notes.joined(separator: ", "),
                    ])
                }
            }
        }
        md += table(["Task", "Method", "Seed", "Status", "Steps", "Epochs (done / planned)", "Evals", "Best dev (×100)",
                     "Train time (s)", "Wall time (s)", "Train tokens/s", "Power source", "Notes"], rows)
        for run in r.runs where !run.errors.isEmpty {
            md += "\n- \(run.task) \(run.method.label) seed \(run.seed.map(String.init) ?? "?"): error: \(run.errors.joined(separator: "; "))"
        }
        for run in r.runs {
            guard let f = run.failure else { continue }
            md += "\n- \(run.directory ?? run.task): its process failed (\(f.outcome ?? f.exitStatus.map { "exit status \($0)" } ?? "unknown")); "
                + "it is retried from its checkpoint on the next invocation. Last lines of its stderr:\n\n"
            md += "  ```\n" + (f.stderrTail ?? []).suffix(8).map { "  " + $0 }.joined(separator: "\n") + "\n  ```"
        }
        md += "\n\n"
    }

    static func plan(_ r: StudyResults, into md: inout String) {
        guard let plan = r.manifest?.plan, !plan.isEmpty else { return }
        md += "## The plan\n\n"
        md += "Every seed (\(r.manifest?.seeds.map { $0.map(String.init).joined(separator: ", ") } ?? missing)) runs this plan; "
            + "\"all\" means the whole training set.\n\n"
        let rows: [[String]] = plan.map { p in
            let lora = p.method == "lora" ? "r = \(p.lora?.r.map { trim($0, 0) } ?? "?"), α = \(p.lora?.alpha.map { trim($0, 2) } ?? "?")"
                + (p.lora?.targets.map { " on " + $0.joined(separator: ", ") } ?? "") : missing
            return [p.task, p.method == "full" ? "FFT" : "LoRA", p.epochs.map { trim($0, 0) } ?? missing,
                    p.maxTrainExamples.map { count(Int($0)) } ?? "all", p.maxDevExamples.map { count(Int($0)) } ?? "all",
                    p.batchSize.map { trim($0, 0) } ?? missing, p.learningRate.map { String(format: "%.0e", $0) } ?? missing,
                    p.maxLength.map { trim($0, 0) } ?? missing, p.evalsPerEpoch.map { trim($0, 0) } ?? "1", lora]
        }
        md += table(["Task", "Method", "Epochs", "Train examples", "Dev examples", "Batch", "LR", "Max length", "Evals per epoch", "LoRA"], rows)
        md += "\n"
    }

    static func table1(_ r: StudyResults, into md: inout String) {
        let p = r.parameters
        md += "## Table 1: Trainable parameters\n\n"
        func share(_ part: Int?, _ total: Int?) -> String {
            guard let part, let total, total > 0 else { return missing }
            return String(format: "%.2f %%", Double(part) / Double(total) * 100)
        }
        var rows: [[String]] = [
            ["FFT (ours)", millions(p.fftTrainable), count(p.fftTrainable), count(p.fftTotal), share(p.fftTrainable, p.fftTotal)],
            ["LoRA (ours): adapters only", millions(p.loraAdapter), count(p.loraAdapter), count(p.loraTotal), share(p.loraAdapter, p.loraTotal)],
            ["LoRA (ours): all trainable (adapters + classification head)", millions(p.loraTrainable), count(p.loraTrainable),
             count(p.loraTotal), share(p.loraTrainable, p.loraTotal)],
        ]
        rows.append(["FFT (\(PaperFigures.provenance))", String(format: "%.1f", PaperFigures.fftTrainableMillions), missing, missing, missing])
        rows.append(["LoRA(paper) (\(PaperFigures.provenance))", String(format: "%.1f", PaperFigures.loraTrainableMillions),
                     missing, missing, missing])
        md += table(["Method", "Trainable params (M)", "Trainable params", "Total params", "Trainable share"], rows)
        md += "\nThe paper's 0.3 M counts the LoRA matrices of RoBERTa-base (r = 8 on query and value: "
            + "12 layers × 2 × 2 × 768 × 8 = 294,912); the classification head, also trained, is not counted there.\n"
        var notes: [String] = []
        if let range = p.fftTrainableRange, range.count == 2, range[0] != range[1] {
            notes.append("FFT \(count(range[0]))–\(count(range[1]))")
        }
        if let range = p.loraTrainableRange, range.count == 2, range[0] != range[1] {
            notes.append("LoRA \(count(range[0]))–\(count(range[1]))")
        }
        if !notes.isEmpty {
            md += "Trainable counts differ by task (the head's output size): " + notes.joined(separator: ", ")
                + "; the table shows the first task's.\n"
        }
        md += "\n"
    }

    static func table2(_ r: StudyResults, into md: inout String) {
        md += "## Table 2: Dev-set scores (×100)\n\n"
        let header = ["Method"] + r.tasks.map { task in "\(task) (\(PaperFigures.metricShortName(r.task(task)?.metric ?? "accuracy")))" }
        var rows: [[String]] = []
        /// The median over seeds, their range, and how many runs were still improving.
        func seedCell(_ task: String, _ method: StudyMethod, median: Double?, scores: [Double]) -> String {
            guard let median else { return missing }
            var cell = score(median)
            if scores.count > 1, let lo = scores.min(), let hi = scores.max() { cell += " [\(score(lo))–\(score(hi))]" }
            let improving = r.runs(task: task, method: method).filter(\.stillImproving).count
            if improving > 0 { cell += " ↑\(improving)" }
            return cell
        }
        func seeds(_ task: String, _ method: StudyMethod) -> String {
            guard let t = r.task(task) else { return missing }
            return seedCell(task, method, median: method == .full ? t.fftScore : t.loraScore,
                            scores: (method == .full ? t.fftSeedScores : t.loraSeedScores).map(\.score))
        }
        rows.append(["FFT (ours)"] + r.tasks.map { seeds($0, .full) })
        rows.append(["LoRA (ours)"] + r.tasks.map { seeds($0, .lora) })
        rows.append(["LoRA − FFT (ours, points)"] + r.tasks.map { task in
            guard let t = r.task(task), let l = t.loraScore, let f = t.fftScore else { return missing }
            return String(format: "%+.1f", (l - f) * 100)
        })
        for method in StudyMethod.allCases where r.taskResults.contains(where: { $0.additions?.contains { $0.method == method } ?? false }) {
            func addition(_ task: String) -> MethodComparison? { r.task(task)?.additions?.first { $0.method == method } }
            rows.append(["\(method.label) (ours)"] + r.tasks.map { task in
                seedCell(task, method, median: addition(task)?.score, scores: addition(task)?.seedScores.map(\.score) ?? [])
            })
            rows.append(["\(method.label) − FFT (ours, points)"] + r.tasks.map { task in
                guard let m = addition(task)?.score, let f = r.task(task)?.fftScore else { return missing }
                return String(format: "%+.1f", (m - f) * 100)
            })
        }
        if r.referenceResults != nil {
            rows.append(["LoRA(ref) (reference runner, this machine)"] + r.tasks.map { score(r.task($0)?.loraReferenceScore) })
            if r.taskResults.contains(where: { $0.fftReferenceScore != nil }) {
                rows.append(["FFT(ref) (reference runner, this machine)"] + r.tasks.map { score(r.task($0)?.fftReferenceScore) })
            }
        }
        func published(_ label: String, _ value: (PublishedTask) -> Double) -> [String] {
            ["\(label) (\(PaperFigures.provenance))"] + r.tasks.map { task in
                r.task(task)?.published.map { String(format: "%.1f", value($0)) } ?? missing
            }
        }
        rows.append(published("FFT", \.fftScore))
        rows.append(published("LoRA(paper)", \.loraPaperScore))
        rows.append(published("LoRA(ref)", \.loraReferenceScore))
        rows.append(published("LoRA(my)", \.loraReproductionScore))
        md += table(header, rows)
        let seedCounts = Set(r.taskResults.flatMap { [$0.fftSeedScores.count, $0.loraSeedScores.count] }).sorted()
        md += "\nOur rows: the median over the seeds of each run's best dev score"
            + (seedCounts.contains { $0 > 1 } ? ", with the lowest and highest in brackets" : "")
            + " (seeds per cell: \(seedCounts.map(String.init).joined(separator: "–"))); ↑N: N of the cell's runs were still improving at their last evaluation."
        if r.referenceResults != nil {
            md += " LoRA(ref): the median of the reference runner's runs over the seeds "
                + r.tasks.map { task in "\(task) {\(r.task(task)?.loraReferenceSeeds.map(String.init).joined(separator: ", ") ?? "")}" }.joined(separator: ", ")
                + "."
        }
        md += " Best dev score over the logged evaluations. Metrics: Matthews correlation (MCC) for CoLA, "
            + "Pearson correlation for STS-B, accuracy otherwise. The published LoRA(paper) row used MNLI-adapted "
            + "starting points for MRPC, RTE and STS-B.\n\n"
    }

    static func table3(_ r: StudyResults, into md: inout String) {
        md += "## Table 3: Inference time on each dev set (s)\n\n"
        guard r.taskResults.contains(where: { $0.latency != nil }) else {
            table3FromRuns(r, into: &md)
            return
        }
        func pass(_ f: LatencyFigures?) -> String {
            guard let f else { return missing }
            return fixedValue(f.devPassMedianSeconds, 3) + " [\(fixedValue(f.devPassMinSeconds, 3))–\(fixedValue(f.devPassMaxSeconds, 3))]"
        }
        func ms(_ x: Double?) -> String { fixed(x.map { $0 * 1000 }, 2) }
        func percent(_ x: Double?) -> String { x.map { String(format: "%+.1f", $0) } ?? missing }
        let l = r.tasks.map { r.task($0)?.latency }
        var rows: [[String]] = [
            ["FFT model, dev pass"] + l.map { pass($0?.fft) },
            ["LoRA merged, dev pass"] + l.map { pass($0?.loraMerged) },
            ["LoRA unmerged, dev pass"] + l.map { pass($0?.loraUnmerged) },
            ["LoRA merged vs FFT (%), median [range] of paired rounds"] + l.map { lat in
                guard let d = lat?.mergedVsFFTPercent else { return missing }
                return percent(d) + (lat?.mergedVsFFTIntervalPercent.map { " [\(percent($0.first)), \(percent($0.last))]" } ?? "")
            },
            ["LoRA unmerged vs merged (%)"] + l.map { percent($0?.unmergedOverheadPercent) },
            ["FFT, batch 1, p50 / p95 (ms)"] + l.map { "\(ms($0?.fft?.singleP50Seconds)) / \(ms($0?.fft?.singleP95Seconds))" },
            ["LoRA merged, batch 1, p50 / p95 (ms)"] + l.map { "\(ms($0?.loraMerged?.singleP50Seconds)) / \(ms($0?.loraMerged?.singleP95Seconds))" },
            ["LoRA unmerged, batch 1, p50 / p95 (ms)"] + l.map { "\(ms($0?.loraUnmerged?.singleP50Seconds)) / \(ms($0?.loraUnmerged?.singleP95Seconds))" },
            ["Timed runs (FFT, LoRA)"] + l.map { lat in lat.map { "\($0.fftRun ?? "?"), \($0.loraRun ?? "?")" } ?? missing },
        ]
        rows.append(["FFT (\(PaperFigures.provenance))"] + r.tasks.map { fixed(r.task($0)?.published?.fftInferenceSeconds, 2) })
        rows.append(["LoRA(my) (\(PaperFigures.provenance))"] + r.tasks.map { fixed(r.task($0)?.published?.loraInferenceSeconds, 2) })
        md += table(["Model"] + r.tasks, rows)
        let latencies = l.compactMap { $0 }
        let roundCounts = Set(latencies.compactMap(\.rounds)).sorted().map(String.init).joined(separator: "–")
        let coverage = latencies.compactMap(\.intervalCoverage).min()
        md += "\nEach task's FFT model and LoRA model (its median runs) were timed in one fresh process (`lora study-latency`), "
            + "on `lora predict`'s path (adapters merged or not, inference weight layout), after a warm-up pass of each: "
            + "\(roundCounts.isEmpty ? "several" : roundCounts) rounds of FFT, merged, unmerged, each a full dev-set pass in batches of "
            + "\(Set(latencies.compactMap(\.batchSize)).sorted().map(String.init).joined(separator: "–")). Cells give the median pass "
            + "and [fastest–slowest]. The merged-vs-FFT figure pairs each round's two passes (run seconds apart), and its range over "
            + "the rounds is a distribution-free interval for the median difference"
            + (coverage.map { " (coverage ≥ \(String(format: "%.1f", $0 * 100)) %)" } ?? "")
            + ". Batch 1: every dev example timed alone, FFT, merged and unmerged in turn on the same example. "
            + "\"Merged\" folds s·B·A into the weights (the deployment path); \"unmerged\" computes the adapter beside each frozen layer.\n\n"
    }

    /// Table 3 from the runs' own `inference.json` files (studies made before `latency/`).
    static func table3FromRuns(_ r: StudyResults, into md: inout String) {
        func cell(_ task: String, _ method: StudyMethod, _ value: (InferenceResult) -> Double?) -> String {
            fixed(r.run(task: task, method: method)?.inference.flatMap(value), 3)
        }
        var rows: [[String]] = [
            ["FFT model"] + r.tasks.map { cell($0, .full, \.fftMedianSeconds) },
            ["LoRA merged"] + r.tasks.map { cell($0, .lora, \.loraMergedMedianSeconds) },
            ["LoRA unmerged"] + r.tasks.map { cell($0, .lora, \.loraUnmergedMedianSeconds) },
            ["LoRA merged vs FFT (%)"] + r.tasks.map { task in
                guard let m = r.run(task: task, method: .lora)?.inference?.loraMergedMedianSeconds,
                      let f = r.run(task: task, method: .full)?.inference?.fftMedianSeconds, f > 0 else { return missing }
                return String(format: "%+.1f", (m / f - 1) * 100)
            },
        ]
        rows.append(["FFT (\(PaperFigures.provenance))"] + r.tasks.map { fixed(r.task($0)?.published?.fftInferenceSeconds, 2) })
        rows.append(["LoRA(my) (\(PaperFigures.provenance))"] + r.tasks.map { fixed(r.task($0)?.published?.loraInferenceSeconds, 2) })
        md += table(["Model"] + r.tasks, rows)
        let inference = r.runs.compactMap(\.inference)
        func span(_ values: [Int]) -> String? {
            guard let lo = values.min(), let hi = values.max() else { return nil }
            return lo == hi ? "\(lo)" : "\(lo)–\(hi)"
        }
        let details = [span(inference.compactMap(\.repeats)).map { "\($0) timed passes per model" },
                       span(inference.compactMap(\.batchSize)).map { "batch size \($0)" }].compactMap { $0 }
        md += "\nEach cell is the median wall time of the timed full passes over the dev set"
            + (details.isEmpty ? "" : " (" + details.joined(separator: ", ") + ")")
            + ". \"Merged\" folds s·B·A into the weights (the deployment path); \"unmerged\" computes the adapter beside each frozen layer.\n\n"
    }

    static func table4(_ r: StudyResults, into md: inout String) {
        md += "## Table 4: Memory during training (MiB)\n\n"
        func cell(_ task: String, _ method: StudyMethod, _ value: (MemoryResult) -> Double?) -> String {
            fixed(r.run(task: task, method: method)?.memory.flatMap(value), 1)
        }
        var rows: [[String]] = [
            ["FFT average RSS"] + r.tasks.map { cell($0, .full, \.averageRSSMiB) },
            ["LoRA average RSS"] + r.tasks.map { cell($0, .lora, \.averageRSSMiB) },
            ["LoRA reduction vs FFT, average (%)"] + r.tasks.map { task in
                guard let l = r.run(task: task, method: .lora)?.memory?.averageRSSMiB,
                      let f = r.run(task: task, method: .full)?.memory?.averageRSSMiB, f > 0 else { return missing }
                return String(format: "%.1f", (1 - l / f) * 100)
            },
            ["FFT peak RSS"] + r.tasks.map { cell($0, .full, \.peakRSSMiB) },
            ["LoRA peak RSS"] + r.tasks.map { cell($0, .lora, \.peakRSSMiB) },
        ]
        rows.append(["FFT average GPU memory, MB (\(PaperFigures.provenance))"]
            + r.tasks.map { fixed(r.task($0)?.published?.fftAverageMemoryMB, 1) })
        rows.append(["LoRA(my) average GPU memory, MB (\(PaperFigures.provenance))"]
            + r.tasks.map { fixed(r.task($0)?.published?.loraAverageMemoryMB, 1) })
        md += table(["Memory"] + r.tasks, rows)
        md += "\nRSS is the whole process's resident host memory (weights, gradients, optimizer state, activations, "
            + "data and runtime), sampled every 0.5 s during training; each run trained in a process of its own, so its RSS is "
            + "its own (peak: the process's high-water mark, VmHWM). The cells are each task's median run. The paper's Table 4 is GPU memory.\n"
        for t in r.taskResults {
            if let note = t.memoryNote { md += "\n- **\(t.task):** \(note)" }
        }
        md += "\n\n"

        md += "### Table 4b: Where the training memory goes (MiB)\n\n"
        var breakdown: [[String]] = []
        for method in StudyMethod.paperMethods {
            breakdown.append(["\(method.label) weights"] + r.tasks.map { cell($0, method, \.weightsMiB) })
            breakdown.append(["\(method.label) gradients"] + r.tasks.map { cell($0, method, \.gradientsMiB) })
            breakdown.append(["\(method.label) optimizer state"] + r.tasks.map { cell($0, method, \.optimizerMiB) })
            breakdown.append(["\(method.label) activations (arena high-water mark)"] + r.tasks.map { cell($0, method, \.activationsPeakMiB) })
            breakdown.append(["\(method.label) sum of the four"] + r.tasks.map { task in
                guard let m = r.run(task: task, method: method)?.memory, let w = m.weightsMiB, let g = m.gradientsMiB,
                      let o = m.optimizerMiB, let a = m.activationsPeakMiB else { return missing }
                return String(format: "%.1f", w + g + o + a)
            })
        }
        md += table(["Component"] + r.tasks, breakdown)
        md += "\n"
    }

    static func tables5and6(_ r: StudyResults, into md: inout String) {
        md += "## Tables 5–6: Efficiency at iso-accuracy\n\n"
        md += "Each method is measured up to the first dev evaluation whose primary score reaches the task's threshold "
            + "= min(best LoRA, best FFT) − \(trim(r.isoAccuracyMargin, 4)) (raw scale: accuracy 0.85 gives 0.845), "
            + "taken from the logged evaluations. Train time is that evaluation's cumulative training time "
            + "(evaluation excluded) and epochs its epoch position. Energy is the profile's cumulative measured energy "
            + "at that evaluation (linearly interpolated between 0.5 s samples; the profile's clock is the wall time "
            + "since the log's start record, or training plus evaluation seconds for a resumed run), and average power "
            + "is that energy over that time.\n\n"
        let anyUnmeasured = r.runs.contains { $0.isoAccuracy.map { !$0.powerMeasured } ?? false }
        if anyUnmeasured {
            md += "Where power was not measured (no RAPL or NVML meter), power and energy cells say \"\(notMeasured)\", "
                + "and a separate **ESTIMATE** row gives energy_J = CPU-seconds × \(trim(r.assumedWattsPerBusyCore, 2)) W per busy core, "
                + "where CPU-seconds is the process's CPU time (all threads) up to that evaluation. The "
                + "\(trim(r.assumedWattsPerBusyCore, 2)) W per busy core is an assumption, not a measurement: it ignores idle, "
                + "uncore, memory and platform power, and real per-core power varies with the chip and the clock.\n\n"
        }
        md += table(["Task"] + r.tasks, [["Threshold (raw primary metric)"] + r.tasks.map { task in
            r.task(task)?.threshold.map { trim($0, 4) } ?? missing
        }])
        md += "\n"

        for (number, method) in [(5, StudyMethod.full), (6, StudyMethod.lora)] {
            md += "### Table \(number): \(method == .full ? "Full fine-tuning (FFT)" : "LoRA") efficiency\n\n"
            func cell(_ task: String, _ value: (IsoAccuracyResult) -> String) -> String {
                guard let iso = r.run(task: task, method: method)?.isoAccuracy else { return missing }
                guard iso.reached else { return notReached }
                return value(iso)
            }
            var rows: [[String]] = []
            rows.append(["Power Avg (W)"] + r.tasks.map { task in
                cell(task) { $0.powerMeasured ? fixed($0.averageWatts, 1) : notMeasured }
            })
            rows.append(["Train Time (s)"] + r.tasks.map { task in cell(task) { fixed($0.reach?.trainSeconds, 1) } })
            rows.append(["Training Epochs"] + r.tasks.map { task in cell(task) { epochs($0.reach?.epoch) } })
            rows.append(["Total Energy (kJ)"] + r.tasks.map { task in
                cell(task) { $0.powerMeasured ? kilojoules($0.energyJoules) : notMeasured }
            })
            let tableUnmeasured = r.tasks.contains { r.run(task: $0, method: method)?.isoAccuracy.map { !$0.powerMeasured } ?? false }
            if tableUnmeasured {
                rows.append(["ESTIMATE energy (kJ) = CPU-s × \(trim(r.assumedWattsPerBusyCore, 2)) W/core"] + r.tasks.map { task in
                    cell(task) { kilojoules($0.estimatedEnergyJoules) }
                })
            }
            rows.append(["Reached at (step; dev ×100)"] + r.tasks.map { task in
                cell(task) { iso in iso.reach.map { "step \($0.step); \(score($0.score))" } ?? missing }
            })
            md += table(["Metric"] + r.tasks, rows)
            let never = r.tasks.filter { r.run(task: $0, method: method)?.isoAccuracy?.reached == false }
            for task in never {
                let threshold = r.task(task)?.threshold.map { trim($0, 4) } ?? missing
                md += "\n\(method.label) on \(task) never reached the threshold \(threshold) in its logged evaluations."
            }
            if !never.isEmpty { md += "\n" }

            let efficiency = method == .full ? PaperFigures.fftEfficiency : PaperFigures.loraEfficiency
            md += "\nPaper's Table \(number) (\(PaperFigures.provenance); not our measurements):\n\n"
            func published(_ values: [Double], _ decimals: Int) -> [String] {
                r.tasks.map { task in PaperFigures.value(values, task: task).map { fixedValue($0, decimals) } ?? missing }
            }
            md += table(["Metric"] + r.tasks, [
                ["Power Avg (W)"] + published(efficiency.powerWatts, 1),
                ["Train Time (s)"] + published(efficiency.trainSeconds, 1),
                ["Training Epochs"] + published(efficiency.epochs, 0),
                ["Total Energy (kJ)"] + published(efficiency.energyKilojoules, 1),
            ])
            md += "\n"
        }
    }

    /// The methods beyond the paper against FFT at iso-accuracy: each with its own threshold
    /// min(best FFT, best method) − margin, both methods' median runs timed to it.
    static func beyondThePaper(_ r: StudyResults, into md: inout String) {
        let methods = StudyMethod.allCases.filter { m in r.taskResults.contains { $0.additions?.contains { $0.method == m } ?? false } }
        guard !methods.isEmpty else { return }
        md += "## Beyond the paper: \(methods.map(\.label).joined(separator: ", ")) against FFT at iso-accuracy\n\n"
        md += "This project's methods, trained on LoRA's plan (epochs, learning rate, rank and targets) with one change each "
            + "(LoRA+: the B matrices and biases at 16× the learning rate; PiSSA: A and B from the principal singular vectors). "
            + "Each is compared with FFT as the paper compares LoRA: the threshold is min(best FFT, best method) − "
            + "\(trim(r.isoAccuracyMargin, 4)), and both median runs are timed to their first evaluation that reaches it. "
            + "Energy is measured where a power meter was read, else the CPU-time ESTIMATE (CPU-s × "
            + "\(trim(r.assumedWattsPerBusyCore, 2)) W per busy core, an assumption).\n\n"
        for method in methods {
            func comparison(_ task: String) -> MethodComparison? { r.task(task)?.additions?.first { $0.method == method } }
            func cell(_ task: String, _ iso: (MethodComparison) -> IsoAccuracyResult?, _ value: (IsoAccuracyResult) -> String) -> String {
                guard let c = comparison(task), let i = iso(c) else { return missing }
                return i.reached ? value(i) : notReached
            }
            func energy(_ i: IsoAccuracyResult) -> String {
                i.powerMeasured ? kilojoules(i.energyJoules) : kilojoules(i.estimatedEnergyJoules) + " (ESTIMATE)"
            }
            let rows: [[String]] = [
                ["Threshold (raw primary metric)"] + r.tasks.map { comparison($0)?.threshold.map { trim($0, 4) } ?? missing },
                ["\(method.label) train time (s)"] + r.tasks.map { cell($0, \.reach) { fixed($0.reach?.trainSeconds, 1) } },
                ["FFT train time (s)"] + r.tasks.map { cell($0, \.fftReach) { fixed($0.reach?.trainSeconds, 1) } },
                ["\(method.label) epochs"] + r.tasks.map { cell($0, \.reach) { epochs($0.reach?.epoch) } },
                ["FFT epochs"] + r.tasks.map { cell($0, \.fftReach) { epochs($0.reach?.epoch) } },
                ["\(method.label) energy (kJ)"] + r.tasks.map { cell($0, \.reach, energy) },
                ["FFT energy (kJ)"] + r.tasks.map { cell($0, \.fftReach, energy) },
            ]
            md += "### Table 6+ (\(method.label)): efficiency at iso-accuracy, beside FFT's at the same threshold\n\n"
            md += table(["Metric"] + r.tasks, rows)
            md += "\n"
        }
    }

    static func figures(_ r: StudyResults, plots: [StudyPlots.Plot], into md: inout String) {
        md += "## Figures\n\n"
        guard !plots.isEmpty else {
            md += "No runs to plot yet.\n\n"
            return
        }
        for task in r.tasks {
            let taskPlots = plots.filter { $0.task == task }
            guard !taskPlots.isEmpty else { continue }
            md += "### \(task)\n\n"
            for plot in taskPlots {
                md += "![\(plot.caption)](\(plot.path))\n\n"
            }
        }
    }

    static func hyperParameters(_ r: StudyResults, into md: inout String) {
        md += "## Hyper-parameters as run (compare the paper's Table 7)\n\n"
        guard !r.runs.isEmpty else {
            md += "No runs yet.\n\n"
            return
        }
        let rows: [[String]] = r.runs.map { run in
            let o = run.options
            var lora = missing
            if run.method != .full, let o, o.loraRank != nil || o.loraAlpha != nil {
                lora = "r = \(o.loraRank.map(String.init) ?? "?"), α = \(o.loraAlpha.map { trim($0, 3) } ?? "?")"
                    + (o.loraTargets.map { " on " + $0.joined(separator: ", ") } ?? "")
            }
            return [run.task, run.method.label, (o?.epochs ?? run.plannedEpochs).map(String.init) ?? missing,
                    o?.batchSize.map(String.init) ?? missing, o?.learningRate.map { String(format: "%.0e", $0) } ?? missing,
                    o?.weightDecay.map { trim($0, 4) } ?? missing, o?.warmupRatio.map { trim($0, 4) } ?? missing, lora,
                    count(run.trainExamples), count(run.devExamples)]
        }
        md += table(["Task", "Method", "Epochs", "Batch", "LR", "Weight decay", "Warm-up ratio", "LoRA", "Train examples",
                     "Dev examples"], rows)
        md += "\n"
    }

    // MARK: formatting

    /// A Markdown table; `|` in cells is escaped. The first column is left-aligned; another
    /// column is right-aligned when every cell of it is a number or "—", left-aligned otherwise.
    static func table(_ header: [String], _ rows: [[String]]) -> String {
        func cell(_ s: String) -> String { s.replacingOccurrences(of: "|", with: "\\|").replacingOccurrences(of: "\n", with: " ") }
        func numeric(_ s: String) -> Bool {
            s == missing || s.first.map { $0.isNumber || (($0 == "-" || $0 == "+") && s.dropFirst().first?.isNumber == true) } == true
        }
        let padded = rows.map { $0 + Array(repeating: missing, count: max(0, header.count - $0.count)) }
        var out = "| " + header.map(cell).joined(separator: " | ") + " |\n"
        out += "|" + header.indices.map { column in
            column > 0 && padded.allSatisfy({ numeric($0[column]) }) ? " ---: |" : " --- |"
        }.joined() + "\n"
        for row in padded {
            out += "| " + row.map(cell).joined(separator: " | ") + " |\n"
        }
        return out
    }

    /// A raw-scale score ×100 with one decimal, or "—".
    static func score(_ x: Double?) -> String {
        guard let x, x.isFinite else { return missing }
        return String(format: "%.1f", x * 100)
    }

    /// `x` with `decimals` decimals, or "—".
    static func fixed(_ x: Double?, _ decimals: Int) -> String {
        guard let x, x.isFinite else { return missing }
        return fixedValue(x, decimals)
    }

    static func fixedValue(_ x: Double, _ decimals: Int) -> String {
        String(format: "%.\(decimals)f", x)
    }

    /// `x` with at most `decimals` decimals, trailing zeros removed (0.8450 → 0.845, 3.00 → 3).
    static func trim(_ x: Double, _ decimals: Int) -> String {
        var s = String(format: "%.\(decimals)f", x)
        if s.contains(".") {
            while s.hasSuffix("0") { s.removeLast() }
            if s.hasSuffix(".") { s.removeLast() }
        }
        return s == "-0" ? "0" : s
    }

    /// An epoch position with up to two decimals, or "—".
    static func epochs(_ x: Double?) -> String {
        guard let x, x.isFinite else { return missing }
        return trim(x, 2)
    }

    /// Joules as kJ: one decimal from 100 kJ, two from 1 kJ, three below; or "—".
    static func kilojoules(_ joules: Double?) -> String {
        guard let joules, joules.isFinite else { return missing }
        let kj = joules / 1000
        return fixedValue(kj, kj >= 100 ? 1 : kj >= 1 ? 2 : 3)
    }

    /// A parameter count in millions: one decimal from 10 M, two from 1 M, three below; or "—".
    static func millions(_ n: Int?) -> String {
        guard let n else { return missing }
        let m = Double(n) / 1e6
        return fixedValue(m, m >= 10 ? 1 : m >= 1 ? 2 : 3)
    }

    /// An integer with thousands separators (124,645,632), or "—".
    static func count(_ n: Int?) -> String {
        guard let n else { return missing }
        let digits = String(n.magnitude)
        var out = ""
        for (i, c) in digits.enumerated() {
            if i > 0 && (digits.count - i) % 3 == 0 { out.append(",") }
            out.append(c)
        }
        return (n < 0 ? "-" : "") + out
    }

    static func code(_ s: String?) -> String {
        guard let s, !s.isEmpty else { return missing }
        return "`" + s.replacingOccurrences(of: "`", with: "'") + "`"
    }
}
