import Foundation

/// How reports spell numbers and escape text: one place, so Markdown, HTML and SVG agree, and
/// output does not depend on the locale.
public enum ReportFormat {
    /// Seconds for a person: `0 s`, `2.5 ms`, `42.0 s`, `12.5 min`, `3.2 h`, `4.0 d`; `-` when
    /// absent. Under a second in milliseconds (a chart of quick remediations must not read
    /// `0.0 s` on every tick).
    public static func duration(_ seconds: Double?) -> String {
        guard let seconds else { return "-" }
        guard seconds.isFinite else { return seconds.isNaN ? "-" : "overflow" }
        let sign = seconds < 0 ? "-" : ""
        let s = abs(seconds)
        if s == 0 { return "0 s" }
        if s < 0.001 { return sign + String(format: "%.2g ms", s * 1000) }
        if s < 1 { return sign + String(format: s < 0.01 ? "%.2f ms" : s < 0.1 ? "%.1f ms" : "%.0f ms", s * 1000) }
        if s < 60 { return sign + String(format: "%.1f s", s) }
        if s < 3600 { return sign + String(format: "%.1f min", s / 60) }
        if s < 2 * 86_400 { return sign + String(format: "%.1f h", s / 3600) }
        if s < 1e12 { return sign + String(format: "%.1f d", s / 86_400) }
        return sign + String(format: "%.3g d", s / 86_400)
    }

    /// A fraction as a percentage with one decimal: `83.3%`; `-` when absent.
    public static func percent(_ value: Double?) -> String {
        guard let value, value.isFinite else { return "-" }
        return String(format: "%.1f%%", value * 100)
    }

    /// A KPI's value in its unit.
    public static func value(_ kpi: Report.KPI) -> String {
        kpi.unit == .seconds ? duration(kpi.value) : percent(kpi.value)
    }

    /// A KPI's target: `< 5 min`, `> 80%`.
    public static func target(_ kpi: Report.KPI) -> String {
        let number = kpi.unit == .seconds
            ? (kpi.target.truncatingRemainder(dividingBy: 60) == 0 ? "\(Int(kpi.target / 60)) min" : duration(kpi.target))
            : String(format: "%g%%", kpi.target * 100)
        return "\(kpi.comparison.rawValue) \(number)"
    }

    public static func status(_ kpi: Report.KPI) -> String {
        switch kpi.status {
        case .met: return "met"
        case .missed: return "missed"
        case .noData: return "no data"
        }
    }

    /// Text made safe inside HTML and SVG, in element content and in quoted attribute values.
    public static func html(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default:
                // Control characters other than tab and line breaks are not allowed in XML (SVG).
                if scalar.value < 0x20 && scalar != "\t" && scalar != "\n" && scalar != "\r" || scalar.value == 0x7F {
                    out += "\u{FFFD}"
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out
    }

    /// Text made literal in Markdown (CommonMark / GitHub tables): punctuation that could start
    /// markup is backslash-escaped (a `<` or `&` only where it could open a tag, an autolink or
    /// an entity, so `< 5 min` stays readable), a pipe cannot end a table cell, a line break
    /// becomes a space.
    public static func markdown(_ text: String) -> String {
        var out = ""
        let scalars = Array(text.unicodeScalars)
        for (index, scalar) in scalars.enumerated() {
            let next = index + 1 < scalars.count ? scalars[index + 1] : nil
            let opensMarkup = next.map { n in
                n.properties.isAlphabetic || n.properties.numericType != nil || n == "/" || n == "!" || n == "?" || n == "#"
            } ?? false
            switch scalar {
            case "\\", "|", "`", "*", "_", "[", "]", "~":
                out += "\\"
                out.unicodeScalars.append(scalar)
            case "<" where opensMarkup, "&" where opensMarkup:
                out += "\\"
                out.unicodeScalars.append(scalar)
            case "\n", "\r", "\t":
                out += " "
            default:
                out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    /// `text` cut to `limit` characters, with an ellipsis when it was longer (chart labels).
    static func truncated(_ text: String, _ limit: Int) -> String {
        text.count <= limit ? text : String(text.prefix(limit - 1)) + "…"
    }

    /// A coordinate for SVG: two decimals, never NaN or infinite.
    static func coordinate(_ value: Double) -> String {
        guard value.isFinite else { return "0" }
        return String(format: "%.2f", value)
    }
}

/// A table of a report as text cells, the same for every renderer (Markdown, HTML).
struct ReportTable {
    var header: [String]
    var rows: [[String]]
    /// Which columns are numbers (right-aligned).
    var numeric: [Bool]

    static func needingReview(_ report: Report) -> ReportTable {
        ReportTable(header: ["Playbook", "Executions", "Successes", "Success rate"],
                    rows: report.playbooksNeedingReview.map { [$0.playbookID, "\($0.executions)", "\($0.successes)", ReportFormat.percent($0.successRate)] },
                    numeric: [false, true, true, true])
    }

    static func trend(_ report: Report) -> ReportTable {
        ReportTable(header: ["Day from", "Incidents", "Auto-remediated", "MTTD", "MTTR"],
                    rows: report.trend.map {
                        [$0.start, "\($0.incidents)", "\($0.autoRemediated)", ReportFormat.duration($0.mttd), ReportFormat.duration($0.mttr)]
                    },
                    numeric: [false, true, true, true, true])
    }

    static func playbooks(_ report: Report) -> ReportTable {
        ReportTable(header: ["Playbook", "Executions", "Refused", "Successes", "Success rate", "Rollback rate", "Avg time", "p95 time"],
                    rows: report.playbooks.map {
                        [$0.playbookID, "\($0.executions)", "\($0.refused)", "\($0.successes)", ReportFormat.percent($0.successRate),
                         ReportFormat.percent($0.rollbackRate), ReportFormat.duration($0.averageTime), ReportFormat.duration($0.p95Time)]
                    },
                    numeric: [false, true, true, true, true, true, true, true])
    }
}
