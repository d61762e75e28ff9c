// The paper's claims, checked one by one against a study's computed figures.
import Foundation

/// Checks each claim of *Tiny Reproduction: LoRA* against a study's results: trainable
/// parameters, scores, merged inference latency, training memory and energy at iso-accuracy.
/// Every verdict is computed from the figures; a claim whose figures are missing is "not
/// measured" (`holds == nil`).
public enum StudyClaims {
    /// The largest LoRA deficit, in points (×100), that still counts as "within" FFT.
    public static let scorePoints = 2.0
    /// The largest |merged − FFT| dev-pass difference, percent, that counts as no overhead.
    public static let latencyPercent = 5.0
    /// The paper's average training-memory reduction (Table 4), percent.
    public static let paperMemoryReductionPercent = 38.0

    /// The five claims, in the paper's order.
    public static func check(_ r: StudyResults) -> [Claim] {
        [parameters(r), scores(r), latency(r), memory(r), energy(r)]
    }

    static func fmt(_ x: Double, _ d: Int = 1) -> String { String(format: "%.\(d)f", x) }

    /// The tasks on which an addition must beat FFT's time and energy (of the five).
    public static let additionTaskGoal = 4

    /// The goals of each method beyond the paper, in `StudyMethod` order: scores within
    /// `scorePoints` of FFT's on every task (medians over seeds), and the iso-accuracy
    /// threshold against FFT reached in less training time and less energy than FFT on at
    /// least `additionTaskGoal` tasks (measured energy where power was measured, else the
    /// CPU-time ESTIMATE, which the detail says).
    public static func additionGoals(_ r: StudyResults) -> [Claim] {
        var out: [Claim] = []
        for method in StudyMethod.allCases where !StudyMethod.paperMethods.contains(method) {
            let rows = r.taskResults.compactMap { t in t.additions?.first { $0.method == method }.map { (t, $0) } }
            guard !rows.isEmpty else { continue }
            let name = method.label
            // Scores.
            var figures: [String: Double] = [:], parts: [String] = [], missing: [String] = []
            var worst = Double.infinity
            for (t, c) in rows {
                guard let m = c.score, let f = t.fftScore else { missing.append(t.task); continue }
                let d = (m - f) * 100
                worst = min(worst, d)
                figures["\(t.task)_\(method.rawValue)_minus_fft_points"] = d
                parts.append("\(t.task) \(String(format: "%+.1f", d))")
            }
            let scoreStatement = "\(name) scores within \(fmt(scorePoints, 0)) points of FFT on every task (median over seeds)"
            if parts.isEmpty {
                out.append(Claim(id: "\(method.rawValue)_scores", statement: scoreStatement, holds: nil, detail: "no task has both scores", figures: [:]))
            } else {
                figures["worst_\(method.rawValue)_minus_fft_points"] = worst
                var detail = "\(name) − FFT (points): " + parts.joined(separator: ", ")
                if !missing.isEmpty { detail += "; not measured: " + missing.joined(separator: ", ") }
                out.append(Claim(id: "\(method.rawValue)_scores", statement: scoreStatement,
                                 holds: missing.isEmpty ? worst >= -scorePoints : nil, detail: detail, figures: figures))
            }
            // Time and energy to the threshold.
            var costFigures: [String: Double] = [:], costParts: [String] = []
            var wins = 0, compared = 0, estimatedOnly = false
            for (t, c) in rows {
                guard let mr = c.reach, let fr = c.fftReach else { costParts.append("\(t.task) not measured"); continue }
                guard mr.reached, let ms = mr.reach?.trainSeconds else { compared += 1; costParts.append("\(t.task) \(name) never reached \(c.threshold.map { String(format: "%.4f", $0) } ?? "?")"); continue }
                guard fr.reached, let fs = fr.reach?.trainSeconds else { compared += 1; wins += 1; costParts.append("\(t.task) FFT never reached it"); continue }
                let measured = mr.powerMeasured && fr.powerMeasured
                guard let me = measured ? mr.energyJoules : mr.estimatedEnergyJoules, let fe = measured ? fr.energyJoules : fr.estimatedEnergyJoules else {
                    costParts.append("\(t.task) energy not measured"); continue
                }
                if !measured { estimatedOnly = true }
                compared += 1
                if ms < fs && me < fe { wins += 1 }
                costFigures["\(t.task)_\(method.rawValue)_train_s"] = ms
                costFigures["\(t.task)_fft_train_s"] = fs
                costFigures["\(t.task)_\(method.rawValue)_energy_j"] = me
                costFigures["\(t.task)_fft_energy_j"] = fe
                costParts.append("\(t.task) \(fmt(ms)) s / \(MarkdownReport.kilojoules(me)) kJ vs FFT \(fmt(fs)) s / \(MarkdownReport.kilojoules(fe)) kJ")
            }
            costFigures["tasks_won"] = Double(wins)
            costFigures["tasks_compared"] = Double(compared)
            let costStatement = "\(name) reaches the iso-accuracy threshold (against FFT) in less training time and energy than FFT on at least \(additionTaskGoal) of \(r.tasks.count) tasks"
            let detail = "wins on \(wins) of \(compared): " + costParts.joined(separator: ", ")
                + (estimatedOnly ? " (energy: the CPU-time ESTIMATE, not a measurement)" : "")
            let enough = compared >= min(additionTaskGoal, r.tasks.count)
            out.append(Claim(id: "\(method.rawValue)_time_energy", statement: costStatement,
                             holds: enough ? wins >= min(additionTaskGoal, r.tasks.count) : nil, detail: detail, figures: costFigures))
        }
        return out
    }

    static func parameters(_ r: StudyResults) -> Claim {
        let statement = "LoRA reduces the trainable parameters by at least 99 %"
        guard let fft = r.parameters.fftTrainable, let lora = r.parameters.loraTrainable, fft > 0 else {
            return Claim(id: "parameters", statement: statement, holds: nil, detail: "no FFT and LoRA run with parameter counts", figures: [:])
        }
        let reduction = (1 - Double(lora) / Double(fft)) * 100
        var figures = ["fft_trainable": Double(fft), "lora_trainable": Double(lora), "reduction_percent": reduction]
        if let adapter = r.parameters.loraAdapter { figures["lora_adapter"] = Double(adapter) }
        return Claim(id: "parameters", statement: statement, holds: reduction >= 99,
                     detail: "LoRA trains \(MarkdownReport.count(lora)) parameters (adapters and head) against FFT's \(MarkdownReport.count(fft)): "
                        + "\(fmt(reduction, 2)) % fewer", figures: figures)
    }

    static func scores(_ r: StudyResults) -> Claim {
        let statement = "LoRA scores within \(fmt(scorePoints, 0)) points of FFT on every task and on average (median over seeds)"
        var figures: [String: Double] = [:]
        var parts: [String] = []
        var diffs: [Double] = []
        var missing: [String] = []
        for t in r.taskResults {
            guard let l = t.loraScore, let f = t.fftScore else { missing.append(t.task); continue }
            let d = (l - f) * 100
            diffs.append(d)
            figures["\(t.task)_lora_minus_fft_points"] = d
            parts.append("\(t.task) \(String(format: "%+.1f", d))")
        }
        guard !diffs.isEmpty else {
            return Claim(id: "scores", statement: statement, holds: nil, detail: "no task has both scores", figures: [:])
        }
        let mean = diffs.reduce(0, +) / Double(diffs.count)
        figures["mean_lora_minus_fft_points"] = mean
        let worst = diffs.min()!
        figures["worst_lora_minus_fft_points"] = worst
        var detail = "LoRA − FFT (points): " + parts.joined(separator: ", ") + "; mean \(String(format: "%+.1f", mean))"
        if !missing.isEmpty { detail += "; not measured: " + missing.joined(separator: ", ") }
        let holds: Bool? = missing.isEmpty ? (worst >= -scorePoints && mean >= -scorePoints) : nil
        return Claim(id: "scores", statement: statement, holds: holds, detail: detail, figures: figures)
    }

    static func latency(_ r: StudyResults) -> Claim {
        let statement = "A merged LoRA model has no inference overhead over the FFT model (|difference| ≤ \(fmt(latencyPercent, 0)) %, dev-pass median)"
        var figures: [String: Double] = [:]
        var parts: [String] = []
        var missing: [String] = []
        var worst = 0.0
        for t in r.taskResults {
            guard let d = t.latency?.mergedVsFFTPercent else { missing.append(t.task); continue }
            figures["\(t.task)_merged_vs_fft_percent"] = d
            if let u = t.latency?.unmergedOverheadPercent { figures["\(t.task)_unmerged_overhead_percent"] = u }
            var part = "\(t.task) \(String(format: "%+.1f", d)) %"
            if let i = t.latency?.mergedVsFFTIntervalPercent, i.count == 2 { part += " [\(String(format: "%+.1f", i[0])), \(String(format: "%+.1f", i[1]))]" }
            parts.append(part)
            worst = max(worst, abs(d))
        }
        guard !parts.isEmpty else {
            return Claim(id: "inference_latency", statement: statement, holds: nil, detail: "no interleaved latency measurement", figures: [:])
        }
        figures["worst_abs_merged_vs_fft_percent"] = worst
        var detail = "merged vs FFT, median of the paired rounds [range]: " + parts.joined(separator: ", ")
        if !missing.isEmpty { detail += "; not measured: " + missing.joined(separator: ", ") }
        return Claim(id: "inference_latency", statement: statement, holds: missing.isEmpty ? worst <= latencyPercent : nil,
                     detail: detail, figures: figures)
    }

    static func memory(_ r: StudyResults) -> Claim {
        let statement = "LoRA reduces training memory (the paper: \(fmt(paperMemoryReductionPercent, 0)) % on average)"
        var figures: [String: Double] = [:]
        var parts: [String] = []
        var reductions: [Double] = []
        var missing: [String] = []
        for task in r.tasks {
            guard let l = r.run(task: task, method: .lora)?.memory?.averageRSSMiB,
                  let f = r.run(task: task, method: .full)?.memory?.averageRSSMiB, f > 0 else { missing.append(task); continue }
            let red = (1 - l / f) * 100
            reductions.append(red)
            figures["\(task)_average_rss_reduction_percent"] = red
            if let lp = r.run(task: task, method: .lora)?.memory?.peakRSSMiB, let fp = r.run(task: task, method: .full)?.memory?.peakRSSMiB, fp > 0 {
                figures["\(task)_peak_rss_reduction_percent"] = (1 - lp / fp) * 100
            }
            parts.append("\(task) \(fmt(red)) %")
        }
        guard !reductions.isEmpty else {
            return Claim(id: "memory", statement: statement, holds: nil, detail: "no FFT and LoRA memory measurement", figures: [:])
        }
        let mean = reductions.reduce(0, +) / Double(reductions.count)
        figures["mean_average_rss_reduction_percent"] = mean
        var detail = "average-RSS reduction of LoRA vs FFT (median runs, one process each): " + parts.joined(separator: ", ")
            + "; mean \(fmt(mean)) % (paper: \(fmt(paperMemoryReductionPercent, 0)) % of GPU memory)"
        if !missing.isEmpty { detail += "; not measured: " + missing.joined(separator: ", ") }
        let holds: Bool? = missing.isEmpty ? (mean > 0 && reductions.allSatisfy { $0 > 0 }) : nil
        return Claim(id: "memory", statement: statement, holds: holds, detail: detail, figures: figures)
    }

    static func energy(_ r: StudyResults) -> Claim {
        let statement = "To the iso-accuracy threshold LoRA uses more energy than FFT on average, but less on RTE"
        var figures: [String: Double] = [:]
        var measured: [(task: String, lora: Double, fft: Double)] = []
        var estimated: [String] = []
        for task in r.tasks {
            guard let fi = r.run(task: task, method: .full)?.isoAccuracy, let li = r.run(task: task, method: .lora)?.isoAccuracy else { continue }
            if fi.powerMeasured && li.powerMeasured, let fe = fi.energyJoules, let le = li.energyJoules {
                measured.append((task, le, fe))
                figures["\(task)_lora_energy_j"] = le
                figures["\(task)_fft_energy_j"] = fe
            } else if let fe = fi.estimatedEnergyJoules, let le = li.estimatedEnergyJoules {
                figures["\(task)_lora_estimated_energy_j"] = le
                figures["\(task)_fft_estimated_energy_j"] = fe
                estimated.append("\(task) LoRA \(MarkdownReport.kilojoules(le)) kJ vs FFT \(MarkdownReport.kilojoules(fe)) kJ")
            }
        }
        if measured.isEmpty {
            let detail = "power was not measured (no RAPL or NVML meter)"
                + (estimated.isEmpty ? "" : "; the CPU-time ESTIMATE, not a measurement: " + estimated.joined(separator: ", "))
            return Claim(id: "energy", statement: statement, holds: nil, detail: detail, figures: figures)
        }
        let meanLoRA = measured.map(\.lora).reduce(0, +) / Double(measured.count)
        let meanFFT = measured.map(\.fft).reduce(0, +) / Double(measured.count)
        figures["mean_lora_energy_j"] = meanLoRA
        figures["mean_fft_energy_j"] = meanFFT
        let rte = measured.first { PaperFigures.taskKey($0.task) == PaperFigures.taskKey("RTE") }
        let detail = "measured energy to the threshold: " + measured.map { "\($0.task) LoRA \(MarkdownReport.kilojoules($0.lora)) kJ vs FFT \(MarkdownReport.kilojoules($0.fft)) kJ" }
            .joined(separator: ", ")
        let holds: Bool? = rte.map { meanLoRA > meanFFT && $0.lora < $0.fft }
        return Claim(id: "energy", statement: statement, holds: holds, detail: detail, figures: figures)
    }
}
