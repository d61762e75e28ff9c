import Foundation

/// A line chart written as a standalone SVG document: title, axes with "nice" ticks, grid,
/// axis labels, lines (optionally dashed, with point markers), horizontal reference lines and
/// a legend to the right of the plot. No dependencies; the output is well-formed XML.
///
/// ```swift
/// var chart = SVGChart(title: "MRPC", xLabel: "training time (s)", yLabel: "accuracy (×100)")
/// chart.series.append(.init(name: "FFT", points: [.init(x: 10, y: 80), .init(x: 20, y: 85)], color: "#1f77b4"))
/// let svg = chart.render()
/// ```
public struct SVGChart: Sendable {
    /// One point of a line.
    public struct Point: Sendable, Equatable {
        /// Horizontal value.
        public var x: Double
        /// Vertical value.
        public var y: Double

        /// Creates a point.
        public init(x: Double, y: Double) {
            self.x = x
            self.y = y
        }
    }

    /// One line of the chart.
    public struct Series: Sendable {
        /// Legend entry.
        public var name: String
        /// Points in drawing order; non-finite points are dropped.
        public var points: [Point]
        /// Stroke colour (any SVG colour, e.g. `#1f77b4`).
        public var color: String
        /// Dashed stroke.
        public var dashed: Bool
        /// Draw a circle at each point (for sparse series such as evaluations).
        public var markers: Bool

        /// Creates a series.
        public init(name: String, points: [Point], color: String, dashed: Bool = false, markers: Bool = false) {
            self.name = name
            self.points = points
            self.color = color
            self.dashed = dashed
            self.markers = markers
        }
    }

    /// A horizontal line across the plot (e.g. a threshold), shown in the legend.
    public struct ReferenceLine: Sendable {
        /// Its height, in data units.
        public var y: Double
        /// Legend entry.
        public var label: String
        /// Stroke colour.
        public var color: String

        /// Creates a reference line.
        public init(y: Double, label: String, color: String = "#555555") {
            self.y = y
            self.label = label
            self.color = color
        }
    }

    /// Title above the plot.
    public var title: String
    /// Label of the horizontal axis.
    public var xLabel: String
    /// Label of the vertical axis.
    public var yLabel: String
    /// The lines.
    public var series: [Series] = []
    /// Horizontal reference lines.
    public var referenceLines: [ReferenceLine] = []
    /// Start the horizontal axis at zero (time axes).
    public var xIncludesZero = true
    /// Start the vertical axis at zero (memory, power).
    public var yIncludesZero = false
    /// A note under the title (e.g. "power not measured").
    public var subtitle: String?
    /// Width in pixels.
    public var width = 760.0
    /// Height in pixels.
    public var height = 420.0

    /// Creates an empty chart.
    public init(title: String, xLabel: String, yLabel: String, subtitle: String? = nil) {
        self.title = title
        self.xLabel = xLabel
        self.yLabel = yLabel
        self.subtitle = subtitle
    }

    /// Standard colours: FFT blue, LoRA orange, and more for extra lines.
    public static let palette = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b"]

    /// The SVG document.
    public func render() -> String {
        let left = 78.0, right = 190.0, top = subtitle == nil ? 48.0 : 64.0, bottom = 58.0
        let plotWidth = max(50, width - left - right), plotHeight = max(50, height - top - bottom)
        let lines = series.map { s in Series(name: s.name, points: s.points.filter { $0.x.isFinite && $0.y.isFinite },
                                             color: s.color, dashed: s.dashed, markers: s.markers) }
        let references = referenceLines.filter { $0.y.isFinite }
        let xs = lines.flatMap { $0.points.map(\.x) }
        let ys = lines.flatMap { $0.points.map(\.y) } + references.map(\.y)

        var out = """
        <?xml version="1.0" encoding="UTF-8"?>
        <svg xmlns="http://www.w3.org/2000/svg" width="\(f(width))" height="\(f(height))" viewBox="0 0 \(f(width)) \(f(height))" font-family="Helvetica, Arial, sans-serif">

        """
        out += "<title>\(Self.escape(title))</title>\n"
        out += "<rect x=\"0\" y=\"0\" width=\"\(f(width))\" height=\"\(f(height))\" fill=\"#ffffff\"/>\n"
        out += "<text x=\"\(f(left + plotWidth / 2))\" y=\"24\" text-anchor=\"middle\" font-size=\"16\" font-weight=\"bold\">\(Self.escape(title))</text>\n"
        if let subtitle {
            out += "<text x=\"\(f(left + plotWidth / 2))\" y=\"44\" text-anchor=\"middle\" font-size=\"12\" fill=\"#555555\">\(Self.escape(subtitle))</text>\n"
        }
        // Axis labels.
        out += "<text x=\"\(f(left + plotWidth / 2))\" y=\"\(f(height - 14))\" text-anchor=\"middle\" font-size=\"13\">\(Self.escape(xLabel))</text>\n"
        out += "<text x=\"18\" y=\"\(f(top + plotHeight / 2))\" text-anchor=\"middle\" font-size=\"13\" transform=\"rotate(-90 18 \(f(top + plotHeight / 2)))\">\(Self.escape(yLabel))</text>\n"

        guard let xMin = xs.min(), let xMax = xs.max(), let yMin = ys.min(), let yMax = ys.max() else {
            out += "<rect x=\"\(f(left))\" y=\"\(f(top))\" width=\"\(f(plotWidth))\" height=\"\(f(plotHeight))\" fill=\"none\" stroke=\"#000000\"/>\n"
            out += "<text x=\"\(f(left + plotWidth / 2))\" y=\"\(f(top + plotHeight / 2))\" text-anchor=\"middle\" font-size=\"14\" fill=\"#777777\">no data</text>\n"
            out += "</svg>\n"
            return out
        }
        let xAxis = Self.niceScale(min: xIncludesZero ? min(0, xMin) : xMin, max: xMax)
        // A little headroom so that a line at the maximum does not run along the frame.
        let yLow = yIncludesZero ? min(0, yMin) : yMin
        let yAxis = Self.niceScale(min: yLow, max: yMax + (yMax > yLow ? 0.03 * (yMax - yLow) : 0))
        func px(_ x: Double) -> Double { left + (x - xAxis.lower) / (xAxis.upper - xAxis.lower) * plotWidth }
        func py(_ y: Double) -> Double { top + plotHeight - (y - yAxis.lower) / (yAxis.upper - yAxis.lower) * plotHeight }

        // Grid and ticks.
        out += "<g font-size=\"11\" fill=\"#000000\">\n"
        for tick in xAxis.ticks {
            let x = px(tick)
            out += "<line x1=\"\(f(x))\" y1=\"\(f(top))\" x2=\"\(f(x))\" y2=\"\(f(top + plotHeight))\" stroke=\"#e6e6e6\"/>\n"
            out += "<line x1=\"\(f(x))\" y1=\"\(f(top + plotHeight))\" x2=\"\(f(x))\" y2=\"\(f(top + plotHeight + 5))\" stroke=\"#000000\"/>\n"
            out += "<text x=\"\(f(x))\" y=\"\(f(top + plotHeight + 18))\" text-anchor=\"middle\">\(Self.tickLabel(tick, step: xAxis.step))</text>\n"
        }
        for tick in yAxis.ticks {
            let y = py(tick)
            out += "<line x1=\"\(f(left))\" y1=\"\(f(y))\" x2=\"\(f(left + plotWidth))\" y2=\"\(f(y))\" stroke=\"#e6e6e6\"/>\n"
            out += "<line x1=\"\(f(left - 5))\" y1=\"\(f(y))\" x2=\"\(f(left))\" y2=\"\(f(y))\" stroke=\"#000000\"/>\n"
            out += "<text x=\"\(f(left - 8))\" y=\"\(f(y + 4))\" text-anchor=\"end\">\(Self.tickLabel(tick, step: yAxis.step))</text>\n"
        }
        out += "</g>\n"
        out += "<rect x=\"\(f(left))\" y=\"\(f(top))\" width=\"\(f(plotWidth))\" height=\"\(f(plotHeight))\" fill=\"none\" stroke=\"#000000\"/>\n"

        // Reference lines, then data.
        for line in references {
            out += "<line x1=\"\(f(left))\" y1=\"\(f(py(line.y)))\" x2=\"\(f(left + plotWidth))\" y2=\"\(f(py(line.y)))\" stroke=\"\(Self.escape(line.color))\" stroke-width=\"1.5\" stroke-dasharray=\"2 4\"/>\n"
        }
        for s in lines where !s.points.isEmpty {
            let dash = s.dashed ? " stroke-dasharray=\"6 4\"" : ""
            let coordinates = s.points.map { "\(f(px($0.x))),\(f(py($0.y)))" }.joined(separator: " ")
            out += "<polyline fill=\"none\" stroke=\"\(Self.escape(s.color))\" stroke-width=\"2\"\(dash) points=\"\(coordinates)\"/>\n"
            if s.markers {
                for p in s.points {
                    out += "<circle cx=\"\(f(px(p.x)))\" cy=\"\(f(py(p.y)))\" r=\"3\" fill=\"\(Self.escape(s.color))\"/>\n"
                }
            }
        }

        // Legend to the right of the plot.
        var y = top + 8
        let lx = left + plotWidth + 16
        out += "<g font-size=\"12\">\n"
        for s in lines {
            let dash = s.dashed ? " stroke-dasharray=\"6 4\"" : ""
            out += "<line x1=\"\(f(lx))\" y1=\"\(f(y))\" x2=\"\(f(lx + 24))\" y2=\"\(f(y))\" stroke=\"\(Self.escape(s.color))\" stroke-width=\"2\"\(dash)/>\n"
            let suffix = s.points.isEmpty ? " (no data)" : ""
            out += "<text x=\"\(f(lx + 30))\" y=\"\(f(y + 4))\">\(Self.escape(s.name + suffix))</text>\n"
            y += 20
        }
        for line in references {
            out += "<line x1=\"\(f(lx))\" y1=\"\(f(y))\" x2=\"\(f(lx + 24))\" y2=\"\(f(y))\" stroke=\"\(Self.escape(line.color))\" stroke-width=\"1.5\" stroke-dasharray=\"2 4\"/>\n"
            out += "<text x=\"\(f(lx + 30))\" y=\"\(f(y + 4))\">\(Self.escape(line.label))</text>\n"
            y += 20
        }
        out += "</g>\n</svg>\n"
        return out
    }

    /// An axis range widened to whole multiples of a 1-2-5 step, with its ticks.
    public struct Scale: Sendable, Equatable {
        /// Lower end of the axis.
        public var lower: Double
        /// Upper end of the axis.
        public var upper: Double
        /// Distance between ticks.
        public var step: Double
        /// Tick positions, from `lower` to `upper`.
        public var ticks: [Double]
    }

    /// A "nice" scale covering `min...max` with about `targetTicks` ticks at steps of 1, 2 or 5
    /// times a power of ten. A degenerate range is widened around its value.
    public static func niceScale(min lo: Double, max hi: Double, targetTicks: Int = 6) -> Scale {
        var lo = lo, hi = hi
        if !(hi > lo) {
            let pad = abs(lo) > 0 ? abs(lo) * 0.05 : 1
            lo -= pad
            hi += pad
        }
        let raw = (hi - lo) / Double(Swift.max(1, targetTicks - 1))
        let magnitude = pow(10, (log10(raw)).rounded(.down))
        let residual = raw / magnitude
        let step = (residual <= 1 ? 1 : residual <= 2 ? 2 : residual <= 5 ? 5 : 10) * magnitude
        let lower = (lo / step).rounded(.down) * step
        let upper = (hi / step).rounded(.up) * step
        var ticks: [Double] = []
        var i = 0.0
        while lower + i * step <= upper + step * 1e-9 && ticks.count < 50 {
            let tick = lower + i * step
            ticks.append(abs(tick) < step * 1e-9 ? 0 : tick)
            i += 1
        }
        return Scale(lower: lower, upper: upper, step: step, ticks: ticks)
    }

    /// Thins a long series to about `maxPoints`, keeping the lowest and highest point of each
    /// bucket (so spikes survive) in their original order.
    public static func downsample(_ points: [Point], maxPoints: Int) -> [Point] {
        guard maxPoints >= 4, points.count > maxPoints else { return points }
        let buckets = maxPoints / 2
        let size = Int((Double(points.count) / Double(buckets)).rounded(.up))
        var result: [Point] = []
        result.reserveCapacity(buckets * 2 + 1)
        var start = 0
        while start < points.count {
            let end = Swift.min(points.count, start + size)
            var lowIndex = start, highIndex = start
            for i in start ..< end {
                if points[i].y < points[lowIndex].y { lowIndex = i }
                if points[i].y > points[highIndex].y { highIndex = i }
            }
            for i in Set([lowIndex, highIndex]).sorted() { result.append(points[i]) }
            start = end
        }
        if let last = points.last, result.last != last { result.append(last) }
        return result
    }

    /// Escapes text for XML character data and attribute values.
    public static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.count)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&apos;"
            default:
                // Control characters other than tab and newline are not allowed in XML 1.0.
                if scalar.value < 0x20 && scalar != "\t" && scalar != "\n" { continue }
                out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    /// A tick label with as many decimals as the step needs (none for steps ≥ 1).
    static func tickLabel(_ value: Double, step: Double) -> String {
        let decimals = step >= 1 ? 0 : Int((-log10(step)).rounded(.up))
        if abs(value) >= 100_000 && decimals == 0 { return String(format: "%.3g", value) }
        return String(format: "%.\(Swift.min(decimals, 6))f", value)
    }

    private func f(_ x: Double) -> String {
        String(format: "%.1f", x)
    }
}
