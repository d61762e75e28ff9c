// What a training file's labels mean: sorted classes or a regression score, and reading labels with it.
import Foundation
import GLUE

/// `--task-type`: what the label column holds (inferred when not given).
public enum TaskType: String, Sendable, CaseIterable {
    case classification
    case regression
}

/// The labels of a data set: its classes (the sorted distinct values of the training file's
/// label column) or a regression score.
public enum LabelScheme: Sendable, Equatable {
    /// Class `i` is `names[i]`.
    case classes([String])
    /// One score per example.
    case regression

    /// Reads one label of an example with this scheme.
    /// - Parameter indexFallback: read a label that is no class name but an integer in
    ///   `0 ..< classes` as that class (evaluating a model whose classes are named `LABEL_0`, or
    ///   `negative`/`positive`, on a file labelled 0/1).
    /// - Throws: ``DataFileError``: an empty label, an unknown class, a score that is not a
    ///   finite number.
    public func label(_ raw: String, path: String, line: Int, column: String, index: [String: Int],
                      indexFallback: Bool = false) throws -> Label {
        let value = raw.trimmingCharacters(in: .whitespaces)
        guard !value.isEmpty else { throw DataFileError.emptyLabel(path: path, line: line, column: column) }
        switch self {
        case .regression:
            guard let score = Float(value), score.isFinite else {
                throw DataFileError.notANumber(path: path, line: line, column: column, value: raw)
            }
            return .score(score)
        case .classes(let names):
            if let i = index[value] { return .classIndex(i) }
            if indexFallback, let i = Int(value), names.indices.contains(i) { return .classIndex(i) }
            throw DataFileError.unknownLabel(path: path, line: line, value: raw, known: names)
        }
    }

    /// Class name → index, for ``label(_:path:line:column:index:)``.
    public var classIndex: [String: Int] {
        guard case .classes(let names) = self else { return [:] }
        return Dictionary(names.enumerated().map { ($0.element, $0.offset) }, uniquingKeysWith: { a, _ in a })
    }
}

/// Collects the distinct labels of a training file while it streams, then decides the scheme.
///
/// Each row's label is stored as a small integer (its distinct value's number), so a large
/// file costs 4 bytes a row here; ``finish(taskType:)`` maps them to classes or scores.
public struct LabelCollector: Sendable {
    public let path: String
    public let column: String
    private var distinct: [String] = []
    private var firstLine: [Int] = []
    private var numbering: [String: Int32] = [:]
    /// Per row, the number of its distinct label.
    public private(set) var rows: [Int32] = []

    public init(path: String, column: String) {
        self.path = path
        self.column = column
    }

    /// Adds the label of the row at `line`.
    /// - Throws: ``DataFileError/emptyLabel(path:line:column:)``.
    public mutating func add(_ raw: String, line: Int) throws {
        let value = raw.trimmingCharacters(in: .whitespaces)
        guard !value.isEmpty else { throw DataFileError.emptyLabel(path: path, line: line, column: column) }
        if let n = numbering[value] {
            rows.append(n)
            return
        }
        let n = Int32(distinct.count)
        numbering[value] = n
        distinct.append(value)
        firstLine.append(line)
        rows.append(n)
    }

    /// The scheme and every row's label.
    ///
    /// Regression when `taskType` says so, or, when it is `nil`, when every label is a number
    /// and one is written as a decimal (`2.5`, `1.0`, `1e3`), as pandas infers a float column;
    /// else classification with the distinct labels sorted (numerically when they are all
    /// integers, else by Unicode code points, as Python's `sorted`).
    /// - Throws: ``DataFileError/notANumber(path:line:column:value:)`` for a label that is not
    ///   a finite number in regression.
    public func finish(taskType: TaskType?) throws -> (scheme: LabelScheme, labels: [Label]) {
        let numbers = distinct.map { Double($0) }
        let isRegression: Bool
        switch taskType {
        case .regression?: isRegression = true
        case .classification?: isRegression = false
        case nil:
            isRegression = numbers.allSatisfy { $0?.isFinite == true }
                && distinct.contains { $0.contains(where: { ".eE".contains($0) }) }
        }
        if isRegression {
            var scores: [Float] = []
            scores.reserveCapacity(distinct.count)
            for (i, value) in distinct.enumerated() {
                guard let score = Float(value), score.isFinite else {
                    throw DataFileError.notANumber(path: path, line: firstLine[i], column: column, value: value)
                }
                scores.append(score)
            }
            return (.regression, rows.map { .score(scores[Int($0)]) })
        }
        let integers = distinct.map { Int($0) }
        let order: [Int]
        if integers.allSatisfy({ $0 != nil }) {
            order = distinct.indices.sorted { integers[$0]! < integers[$1]! }
        } else {
            order = distinct.indices.sorted { distinct[$0].unicodeScalars.lexicographicallyPrecedes(distinct[$1].unicodeScalars) }
        }
        var classOf = [Int](repeating: 0, count: distinct.count)
        for (cls, d) in order.enumerated() { classOf[d] = cls }
        return (.classes(order.map { distinct[$0] }), rows.map { .classIndex(classOf[Int($0)]) })
    }
}
