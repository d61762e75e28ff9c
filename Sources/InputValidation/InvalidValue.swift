// One error type and one set of range rules for every checked input: configs, adapters, options.
import Foundation

/// A value outside its allowed range, named by where it came from (a file and key, or a
/// command-line option) and with the range it must fall in.
///
/// ```
/// models/m/config.json: num_attention_heads is 0; it must be an integer ≥ 1
/// --max-length is 2; it must be an integer in 3…1048576 (room for the 2 special tokens of a sentence and one token of text)
/// ```
public struct InvalidValue: Error, CustomStringConvertible, Equatable, Sendable {
    /// The file (or `nil` for a command-line option).
    public var source: String?
    /// The key or option, e.g. `num_attention_heads` or `--max-length`.
    public var key: String
    /// The value as given.
    public var value: String
    /// What it must be, e.g. "an integer ≥ 1".
    public var allowed: String

    public init(source: String?, key: String, value: String, allowed: String) {
        self.source = source
        self.key = key
        self.value = value
        self.allowed = allowed
    }

    public var description: String {
        (source.map { "\($0): " } ?? "") + "\(key) is \(value); it must be \(allowed)"
    }
}

/// The range rules, each throwing an `InvalidValue` that names the source and key.
public struct ValueRules: Sendable {
    /// The file the values come from (nil for command-line options).
    public var source: String?

    public init(source: String?) { self.source = source }

    /// `value ≥ minimum`.
    public func atLeast(_ value: Int, _ minimum: Int, key: String, why: String? = nil) throws {
        guard value >= minimum else {
            throw InvalidValue(source: source, key: key, value: String(value),
                               allowed: "an integer ≥ \(minimum)" + (why.map { " (\($0))" } ?? ""))
        }
    }

    /// `minimum ≤ value ≤ maximum`.
    public func within(_ value: Int, _ range: ClosedRange<Int>, key: String, why: String? = nil) throws {
        guard range.contains(value) else {
            throw InvalidValue(source: source, key: key, value: String(value),
                               allowed: "an integer in \(range.lowerBound)…\(range.upperBound)" + (why.map { " (\($0))" } ?? ""))
        }
    }

    /// A probability of dropping: `0 ≤ value < 1`.
    public func dropProbability(_ value: Double, key: String) throws {
        guard value.isFinite, value >= 0, value < 1 else {
            throw InvalidValue(source: source, key: key, value: Self.format(value), allowed: "in [0, 1)")
        }
    }

    /// A finite value `> 0`.
    public func positive(_ value: Double, key: String) throws {
        guard value.isFinite, value > 0 else {
            throw InvalidValue(source: source, key: key, value: Self.format(value), allowed: "a finite number > 0")
        }
    }

    /// A finite value `≥ 0`.
    public func nonNegative(_ value: Double, key: String) throws {
        guard value.isFinite, value >= 0 else {
            throw InvalidValue(source: source, key: key, value: Self.format(value), allowed: "a finite number ≥ 0")
        }
    }

    /// A finite value in `[lower, upper]`.
    public func within(_ value: Double, _ range: ClosedRange<Double>, key: String) throws {
        guard value.isFinite, range.contains(value) else {
            throw InvalidValue(source: source, key: key, value: Self.format(value),
                               allowed: "in [\(Self.format(range.lowerBound)), \(Self.format(range.upperBound))]")
        }
    }

    static func format(_ x: Double) -> String {
        x == x.rounded() && abs(x) < 1e15 ? String(Int(x)) : String(x)
    }
}
