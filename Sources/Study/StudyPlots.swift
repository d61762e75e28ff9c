import Foundation
import Profiling

/// The report's figures as SVG documents: per task, learning curves (dev score against
/// training time, FFT and LoRA), resident memory over time, and power over time (CPU
/// utilisation when power is not measured), one line per run.
public enum StudyPlots {
    /// One plot: its path relative to the study directory, what it shows, and the document.
    public struct Plot: Sendable {
        /// Path relative to the study directory, e.g. `plots/MRPC-curve.svg`.
        public var path: String
        /// A one-line caption (used as the image's alt text).
        public var caption: String
        /// The task it belongs to.
        public var task: String
        /// The SVG document.
        public var svg: String
    }

    /// Makes every plot of the study; tasks without runs get none.
    public static func make(_ study: StudyData, results: StudyResults, options: ReportOptions = ReportOptions()) -> [Plot] {
        var plots: [Plot] = []
        for task in results.tasks {
            let runs = StudyMethod.allCases.compactMap { study.run(task: task, method: $0) }
            guard !runs.isEmpty else { continue }
            let file = fileName(task)
            let taskResult = results.task(task)
            let metric = runs.lazy.compactMap { StudyAnalysis.primaryMetric(of: $0) }.first ?? taskResult?.metric ?? "score"

            var curve = SVGChart(title: "\(task): dev \(metric) vs training time",
                                 xLabel: "training time (s, evaluation excluded)", yLabel: "dev \(metric) ×100")
            for run in runs {
                let points = run.evals.map { SVGChart.Point(x: $0.trainSeconds, y: $0.primary * 100) }
                curve.series.append(.init(name: run.method.label, points: points, color: color(run.method), markers: true))
            }
            if let threshold = taskResult?.threshold {
                curve.referenceLines.append(.init(y: threshold * 100, label: "threshold \(format(threshold * 100))"))
            }
            plots.append(Plot(path: "plots/\(file)-curve.svg", caption: "\(task): dev score vs training time", task: task,
                              svg: curve.render()))

            let profiled = runs.filter { !($0.samples ?? []).isEmpty }
            var memory = SVGChart(title: "\(task): resident memory during training", xLabel: "time since run start (s)",
                                  yLabel: "RSS (MiB)")
            memory.yIncludesZero = true
            for run in runs {
                let points = (run.samples ?? []).map { SVGChart.Point(x: $0.t, y: $0.rssMiB) }
                memory.series.append(.init(name: run.method.label,
                                           points: SVGChart.downsample(points, maxPoints: options.maxPlotPoints),
                                           color: color(run.method)))
            }
            plots.append(Plot(path: "plots/\(file)-memory.svg", caption: "\(task): resident memory (RSS) over time", task: task,
                              svg: memory.render()))

            let hasPower = !profiled.isEmpty && profiled.allSatisfy { run in
                run.powerMeasured && (run.samples ?? []).contains { $0.powerWatts != nil }
            }
            if hasPower {
                var power = SVGChart(title: "\(task): power during training", xLabel: "time since run start (s)",
                                     yLabel: "power (W)", subtitle: "measured: " + sources(profiled))
                power.yIncludesZero = true
                for run in runs {
                    let points = (run.samples ?? []).compactMap { s in s.powerWatts.map { SVGChart.Point(x: s.t, y: $0) } }
                    power.series.append(.init(name: run.method.label,
                                              points: SVGChart.downsample(points, maxPoints: options.maxPlotPoints),
                                              color: color(run.method)))
                }
                plots.append(Plot(path: "plots/\(file)-power.svg", caption: "\(task): measured power over time", task: task,
                                  svg: power.render()))
            } else {
                var cpu = SVGChart(title: "\(task): CPU utilisation during training", xLabel: "time since run start (s)",
                                   yLabel: "CPU utilisation (cores busy)",
                                   subtitle: "power not measured on this machine; CPU utilisation shown instead")
                cpu.yIncludesZero = true
                for run in runs {
                    let points = (run.samples ?? []).map { SVGChart.Point(x: $0.t, y: $0.cpuUtilisation) }
                    cpu.series.append(.init(name: run.method.label,
                                            points: SVGChart.downsample(points, maxPoints: options.maxPlotPoints),
                                            color: color(run.method)))
                }
                plots.append(Plot(path: "plots/\(file)-cpu.svg", caption: "\(task): CPU utilisation over time (power not measured)",
                                  task: task, svg: cpu.render()))
            }
        }
        return plots
    }

    /// A file-name-safe form of a task name: letters, digits, `-`, `_` and `.` kept, the rest `_`.
    public static func fileName(_ task: String) -> String {
        let safe = String(task.unicodeScalars.map { s -> Character in
            CharacterSetLite.isAlphanumeric(s) || s == "-" || s == "_" || s == "." ? Character(s) : "_"
        })
        return safe.isEmpty || safe.hasPrefix(".") ? "task" + safe : safe
    }

    static func color(_ method: StudyMethod) -> String {
        SVGChart.palette[StudyMethod.allCases.firstIndex(of: method)! % SVGChart.palette.count]
    }

    static func sources(_ runs: [RunData]) -> String {
        let names = Set(runs.compactMap { $0.profileSummary?.powerSource.rawValue })
        return names.isEmpty ? "power meter" : names.sorted().joined(separator: ", ")
    }

    static func format(_ x: Double) -> String {
        String(format: "%.1f", x)
    }
}
