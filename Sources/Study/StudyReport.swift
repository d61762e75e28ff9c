import Foundation

/// Writes a study's report from its run directories: `report.md`, `results.json` (every
/// figure, machine-readable) and `plots/*.svg`.
///
/// The report is regenerated from the files alone, so it can be rebuilt at any time: while a
/// study is in progress (missing figures show "—"), after a resume, or after merging runs from
/// several machines. Every output file is written atomically (temporary file, then rename).
///
/// ```swift
/// try StudyReport.write(studyDirectory: URL(fileURLWithPath: "out/study"), referenceResults: nil)
/// ```
public enum StudyReport {
    /// Reads the study, analyses it and writes the report files.
    ///
    /// - Parameters:
    ///   - studyDirectory: The study directory (`study.json`, `runs/<TASK>-<method>/`).
    ///   - referenceResults: A reference results file (the Python PEFT runner's) for the
    ///     LoRA(ref) row, or `nil`.
    ///   - options: Iso-accuracy margin, energy-estimate assumption, date.
    /// - Returns: The figures written to `results.json`.
    /// - Throws: ``StudyError`` naming the file (and line) of malformed input, or an output
    ///   that cannot be written.
    @discardableResult
    public static func write(studyDirectory: URL, referenceResults: URL?,
                             options: ReportOptions = ReportOptions()) throws -> StudyResults {
        let study = try StudyData.load(from: studyDirectory)
        let reference = try referenceResults.map { try ReferenceResults.load(from: $0) }
        let (results, plots) = build(study, reference: reference, referencePath: referenceResults?.path, options: options)

        for plot in plots {
            try JSONFiles.writeAtomically(Data(plot.svg.utf8), to: studyDirectory.appendingPathComponent(plot.path))
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let json: Data
        do {
            json = try encoder.encode(results)
        } catch {
            throw StudyError.writeFailed(path: studyDirectory.appendingPathComponent("results.json").path, reason: "\(error)")
        }
        try JSONFiles.writeAtomically(json + Data("\n".utf8), to: studyDirectory.appendingPathComponent("results.json"))
        let markdown = MarkdownReport.render(results, plots: plots)
        try JSONFiles.writeAtomically(Data(markdown.utf8), to: studyDirectory.appendingPathComponent("report.md"))
        return results
    }

    /// The figures, plots and Markdown of a study held in memory, without writing anything.
    public static func build(_ study: StudyData, reference: ReferenceResults? = nil, referencePath: String? = nil,
                             options: ReportOptions = ReportOptions()) -> (results: StudyResults, plots: [StudyPlots.Plot]) {
        var results = StudyAnalysis.analyze(study, reference: reference, referencePath: referencePath, options: options)
        // Non-finite values cannot be written as JSON; the analysis never produces them from
        // finite inputs, and inputs are decoded from JSON, which has none.
        let plots = StudyPlots.make(study, results: results, options: options)
        results.plots = plots.map(\.path)
        return (results, plots)
    }
}
