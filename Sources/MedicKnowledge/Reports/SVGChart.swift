import Foundation

/// The charts of reference §10.2 as inline SVG (no script, no external font or image): a line
/// chart, horizontal and vertical bar charts and a donut. Each is a pure function of its data;
/// with nothing to draw it says so in words instead of drawing an empty or NaN path, and every
/// coordinate is scaled to the chart, so huge values stay on the page. All text is escaped.
public enum SVGChart {
    public struct Series: Sendable {
        public var name: String
        public var color: String
        /// One value per label; nil where there is none (the line breaks there).
        public var values: [Double?]

        public init(name: String, color: String, values: [Double?]) {
            self.name = name
            self.color = color
            self.values = values
        }
    }

    public struct Slice: Sendable {
        public var name: String
        public var color: String
        public var count: Int

        public init(name: String, color: String, count: Int) {
            self.name = name
            self.color = color
            self.count = count
        }
    }

    static let width = 720.0
    static let palette = ["#2b6cb0", "#dd6b20", "#38a169", "#805ad5", "#d53f8c", "#319795", "#b7791f", "#e53e3e", "#4a5568", "#3182ce"]

    /// Values over time (`labels` along x), y from 0 to a round number above the largest value,
    /// ticks spelled by `format`.
    public static func line(title: String, labels: [String], series: [Series], empty: String,
                            format: (Double) -> String, scale: (Double) -> Double = niceCeiling) -> String {
        let values = series.flatMap { $0.values.compactMap { $0 } }.filter(\.isFinite)
        guard !labels.isEmpty, !values.isEmpty else { return noData(title: title, message: empty) }
        let height = 300.0, left = 80.0, right = 20.0, top = 40.0, bottom = 60.0
        let plotWidth = width - left - right, plotHeight = height - top - bottom
        let top_ = scale(values.max()!)
        func x(_ i: Int) -> Double { left + (Double(i) + 0.5) * plotWidth / Double(labels.count) }
        func y(_ v: Double) -> Double { top + plotHeight - min(max(v, 0), top_) / top_ * plotHeight }
        var svg = open(title: title, height: height)
        for tick in 0...4 {
            let v = top_ * Double(tick) / 4
            let ty = c(y(v))
            svg += "<line class=\"grid\" x1=\"\(c(left))\" y1=\"\(ty)\" x2=\"\(c(width - right))\" y2=\"\(ty)\"/>"
            svg += "<text class=\"tick\" x=\"\(c(left - 6))\" y=\"\(ty)\" text-anchor=\"end\" dominant-baseline=\"middle\">\(esc(format(v)))</text>"
        }
        let step = max(1, Int((Double(labels.count) / 12).rounded(.up)))
        for (i, label) in labels.enumerated() where i % step == 0 {
            svg += "<text class=\"tick\" x=\"\(c(x(i)))\" y=\"\(c(top + plotHeight + 18))\" text-anchor=\"middle\">\(esc(label))</text>"
        }
        for s in series {
            var path = "", previous = false
            for (i, value) in s.values.enumerated() {
                guard let value, value.isFinite, i < labels.count else { previous = false; continue }
                path += "\(previous ? "L" : "M")\(c(x(i))) \(c(y(value))) "
                previous = true
            }
            if !path.isEmpty {
                svg += "<path d=\"\(path.dropLast())\" fill=\"none\" stroke=\"\(s.color)\" stroke-width=\"2\"/>"
            }
            for (i, value) in s.values.enumerated() {
                guard let value, value.isFinite, i < labels.count else { continue }
                svg += "<circle cx=\"\(c(x(i)))\" cy=\"\(c(y(value)))\" r=\"3.5\" fill=\"\(s.color)\">"
                svg += "<title>\(esc("\(s.name) \(labels[i]): \(format(value))"))</title></circle>"
            }
        }
        svg += legend(series.map { ($0.name, $0.color) }, y: height - 16)
        return svg + "</svg>"
    }

    /// One vertical bar per label (counts over time).
    public static func columns(title: String, labels: [String], counts: [Int], empty: String) -> String {
        guard !labels.isEmpty, counts.contains(where: { $0 > 0 }) else { return noData(title: title, message: empty) }
        let height = 260.0, left = 60.0, right = 20.0, top = 40.0, bottom = 40.0
        let plotWidth = width - left - right, plotHeight = height - top - bottom
        // Whole-number ticks: the top is a multiple of 4.
        let top_ = (niceCeiling(Double(counts.max()!)) / 4).rounded(.up) * 4
        let slot = plotWidth / Double(labels.count)
        var svg = open(title: title, height: height)
        for tick in 0...4 {
            let v = top_ * Double(tick) / 4
            let ty = c(top + plotHeight - v / top_ * plotHeight)
            svg += "<line class=\"grid\" x1=\"\(c(left))\" y1=\"\(ty)\" x2=\"\(c(width - right))\" y2=\"\(ty)\"/>"
            svg += "<text class=\"tick\" x=\"\(c(left - 6))\" y=\"\(ty)\" text-anchor=\"end\" dominant-baseline=\"middle\">\(esc(count(v)))</text>"
        }
        let step = max(1, Int((Double(labels.count) / 12).rounded(.up)))
        for (i, label) in labels.enumerated() {
            let value = i < counts.count ? counts[i] : 0
            let h = Double(max(0, value)) / top_ * plotHeight
            let bx = left + Double(i) * slot + slot * 0.15
            if value > 0 {
                svg += "<rect x=\"\(c(bx))\" y=\"\(c(top + plotHeight - h))\" width=\"\(c(slot * 0.7))\" height=\"\(c(h))\" fill=\"\(palette[0])\">"
                svg += "<title>\(esc("\(label): \(value)"))</title></rect>"
            }
            if i % step == 0 {
                svg += "<text class=\"tick\" x=\"\(c(bx + slot * 0.35))\" y=\"\(c(top + plotHeight + 18))\" text-anchor=\"middle\">\(esc(label))</text>"
            }
        }
        return svg + "</svg>"
    }

    /// One horizontal bar per item, in the given order, its count at its end.
    public static func bars(title: String, items: [(name: String, count: Int)], empty: String) -> String {
        guard let largest = items.map(\.count).max(), largest > 0 else { return noData(title: title, message: empty) }
        let row = 28.0, top = 40.0, left = 220.0, right = 80.0
        let height = top + Double(items.count) * row + 16
        let plotWidth = width - left - right
        var svg = open(title: title, height: height)
        for (i, item) in items.enumerated() {
            let y = top + Double(i) * row
            let w = max(1, Double(max(0, item.count)) / Double(largest) * plotWidth)
            svg += "<text class=\"label\" x=\"\(c(left - 8))\" y=\"\(c(y + row / 2))\" text-anchor=\"end\" dominant-baseline=\"middle\">"
            svg += "\(esc(ReportFormat.truncated(item.name, 30)))<title>\(esc(item.name))</title></text>"
            svg += "<rect x=\"\(c(left))\" y=\"\(c(y + 4))\" width=\"\(c(w))\" height=\"\(c(row - 8))\" fill=\"\(palette[i % palette.count])\">"
            svg += "<title>\(esc("\(item.name): \(item.count)"))</title></rect>"
            svg += "<text class=\"value\" x=\"\(c(left + w + 6))\" y=\"\(c(y + row / 2))\" dominant-baseline=\"middle\">\(item.count)</text>"
        }
        return svg + "</svg>"
    }

    /// A donut of the slices' shares, with a legend of counts and percentages.
    public static func donut(title: String, slices: [Slice], empty: String) -> String {
        let total = slices.reduce(0) { $0 + max(0, $1.count) }
        guard total > 0 else { return noData(title: title, message: empty) }
        let height = 260.0, cx = 150.0, cy = 145.0, radius = 80.0, thickness = 36.0
        let circumference = 2 * Double.pi * radius
        var svg = open(title: title, height: height)
        var offset = 0.0
        // Each slice is a dash of the ring's stroke: a slice of 100% is the whole ring, with no
        // degenerate arc to draw.
        for slice in slices where slice.count > 0 {
            let length = Double(slice.count) / Double(total) * circumference
            svg += "<circle cx=\"\(c(cx))\" cy=\"\(c(cy))\" r=\"\(c(radius))\" fill=\"none\" stroke=\"\(slice.color)\" stroke-width=\"\(c(thickness))\" "
            svg += "stroke-dasharray=\"\(c(length)) \(c(circumference))\" stroke-dashoffset=\"\(c(-offset))\" transform=\"rotate(-90 \(c(cx)) \(c(cy)))\">"
            svg += "<title>\(esc("\(slice.name): \(slice.count)"))</title></circle>"
            offset += length
        }
        svg += "<text class=\"total\" x=\"\(c(cx))\" y=\"\(c(cy))\" text-anchor=\"middle\" dominant-baseline=\"middle\">\(total)</text>"
        for (i, slice) in slices.enumerated() {
            let y = 90.0 + Double(i) * 30
            let share = ReportFormat.percent(Double(max(0, slice.count)) / Double(total))
            svg += "<rect x=\"300\" y=\"\(c(y - 8))\" width=\"16\" height=\"16\" fill=\"\(slice.color)\"/>"
            svg += "<text class=\"label\" x=\"324\" y=\"\(c(y))\" dominant-baseline=\"middle\">\(esc("\(slice.name): \(slice.count) (\(share))"))</text>"
        }
        return svg + "</svg>"
    }

    /// The chart's frame and title with `message` where the chart would be.
    static func noData(title: String, message: String) -> String {
        let height = 120.0
        return open(title: title, height: height)
            + "<text class=\"empty\" x=\"\(c(width / 2))\" y=\"70\" text-anchor=\"middle\">\(esc(message))</text></svg>"
    }

    static func open(title: String, height: Double) -> String {
        "<svg class=\"chart\" viewBox=\"0 0 \(c(width)) \(c(height))\" width=\"\(c(width))\" height=\"\(c(height))\" role=\"img\" aria-label=\"\(esc(title))\">"
            + "<title>\(esc(title))</title><text class=\"title\" x=\"10\" y=\"22\">\(esc(title))</text>"
    }

    static func legend(_ entries: [(String, String)], y: Double) -> String {
        var svg = "", x = 80.0
        for (name, color) in entries {
            svg += "<rect x=\"\(c(x))\" y=\"\(c(y - 6))\" width=\"12\" height=\"12\" fill=\"\(color)\"/>"
            svg += "<text class=\"label\" x=\"\(c(x + 18))\" y=\"\(c(y))\" dominant-baseline=\"middle\">\(esc(name))</text>"
            x += 40 + Double(name.count) * 7
        }
        return svg
    }

    /// The smallest of 1, 2, 4, 6, 8 × 10ⁿ at or above `value` (1 for 0 or less), so its
    /// quarters (the ticks) are round.
    public static func niceCeiling(_ value: Double) -> Double {
        guard value.isFinite, value > 0 else { return 1 }
        let magnitude = pow(10, (log10(value)).rounded(.down))
        for factor in [1.0, 2, 4, 6, 8, 10] where factor * magnitude >= value {
            let nice = factor * magnitude
            return nice.isFinite ? nice : value
        }
        return value
    }

    /// `niceCeiling` in the unit a duration is read in (seconds, minutes, hours, days), so the
    /// ticks of a chart of durations are 5 min, 10 min … rather than 4.2 min, 8.3 min.
    public static func niceDuration(_ seconds: Double) -> Double {
        guard seconds.isFinite, seconds > 0 else { return 1 }
        let unit = seconds <= 60 ? 1.0 : seconds <= 3600 ? 60 : seconds <= 2 * 86_400 ? 3600 : 86_400
        let nice = niceCeiling(seconds / unit) * unit
        return nice.isFinite ? nice : seconds
    }

    static func count(_ value: Double) -> String {
        value.rounded() == value && abs(value) < 1e15 ? String(Int(value)) : String(format: "%.3g", value)
    }

    private static func c(_ value: Double) -> String { ReportFormat.coordinate(value) }
    private static func esc(_ text: String) -> String { ReportFormat.html(text) }
}
