import Foundation

/// The "Chaos campaign" section of the report pages: the latest campaign that finished in the
/// report's period (docs/reports.md), its figures per fault type and overall against reference
/// §10.1's targets, with charts in HTML; the period's earlier campaigns in a table.
public enum CampaignReportSection {
    /// The KPIs whose value is a duration (the others are ratios).
    static let durationKPIs: Set = ["mean_time_to_detect", "mean_time_to_remediate"]

    static func value(_ target: ChaosCampaignOutcome.Target) -> String {
        durationKPIs.contains(target.kpi) ? ReportFormat.duration(target.value) : ReportFormat.percent(target.value)
    }

    static func figureRows(_ summary: ChaosCampaignOutcome.Summary) -> [[String]] {
        (summary.faults + [summary.overall]).map { f in
            [f.faultType, "\(f.experiments)", "\(f.detected)", "\(f.healed)", "\(f.reverted)", ReportFormat.duration(f.meanTimeToDetect),
             ReportFormat.duration(f.meanTimeToRecover), ReportFormat.duration(f.meanTimeToRemediate), ReportFormat.percent(f.successRate)]
        }
    }

    static let figureHeader = ["Fault type", "Experiments", "Detected", "Healed", "Reverted", "MTTD", "Time to recover", "MTTR", "Success rate"]
    static let figureNumeric = [false, true, true, true, true, true, true, true, true]

    static func headline(_ campaigns: [ChaosCampaignOutcome]) -> String {
        let latest = campaigns.last!
        let verdict = latest.summary.passed ? "every experiment healed and was reverted" : "NOT every experiment healed and was reverted"
        let count = campaigns.count == 1 ? "One campaign finished in this period" : "\(campaigns.count) campaigns finished in this period; the latest"
        return "\(count): \(latest.directory), finished \(latest.finishedAt): \(verdict). "
            + "\(latest.summary.incidents) incidents, \(latest.summary.falsePositives) false positives "
            + "(\(ReportFormat.percent(latest.summary.falsePositiveRate))). "
            + "MTTD: fault to incident; time to recover: fault to steady state verified; MTTR: incident to verified."
    }

    static func earlierRows(_ campaigns: [ChaosCampaignOutcome]) -> [[String]] {
        campaigns.dropLast().reversed().map { c in
            [c.finishedAt, c.directory, "\(c.summary.overall.experiments)", ReportFormat.percent(c.summary.overall.successRate),
             ReportFormat.percent(c.summary.falsePositiveRate), c.summary.passed ? "passed" : "failed"]
        }
    }

    static let earlierHeader = ["Finished", "Campaign", "Experiments", "Success rate", "False positives", "Result"]

    /// The section as HTML; empty when no campaign finished in the period.
    public static func html(_ campaigns: [ChaosCampaignOutcome]) -> String {
        guard let latest = campaigns.last else { return "" }
        let s = latest.summary
        var out = "<section id=\"chaos-campaign\"><h2>Chaos campaign</h2><p class=\"note\">\(e(headline(campaigns)))</p><div class=\"cards\">"
        for (name, value) in [("Experiments", "\(s.overall.experiments)"), ("Healed", "\(s.overall.healed)"),
                              ("Success rate", ReportFormat.percent(s.overall.successRate)),
                              ("False positives", ReportFormat.percent(s.falsePositiveRate))] {
            out += "<div class=\"card\"><div class=\"number\">\(e(value))</div><div>\(e(name))</div></div>"
        }
        out += "</div><h3>Against reference §10.1's targets</h3>"
        out += HTMLReport.table(["KPI", "Value", "Target", "Status"], s.targets.map { [$0.kpi, value($0), $0.target, $0.met ? "met" : "missed"] },
                                numeric: [false, true, false, false], rowClasses: s.targets.map { $0.met ? "met" : "missed" })
        out += "<h3>Per fault type</h3>" + HTMLReport.table(figureHeader, figureRows(s), numeric: figureNumeric)
        let labels = s.faults.map(\.faultType)
        out += SVGChart.groupedBars(title: "MTTD and MTTR by fault type", labels: labels, series: [
            .init(name: "MTTD", color: SVGChart.palette[1], values: s.faults.map(\.meanTimeToDetect)),
            .init(name: "Time to recover", color: SVGChart.palette[3], values: s.faults.map(\.meanTimeToRecover)),
            .init(name: "MTTR", color: SVGChart.palette[0], values: s.faults.map(\.meanTimeToRemediate)),
        ], empty: "No fault was detected or recovered", format: ReportFormat.duration, scale: SVGChart.niceDuration)
        out += SVGChart.groupedBars(title: "Auto-remediation success rate by fault type", labels: labels, series: [
            .init(name: "Success rate", color: SVGChart.palette[2], values: s.faults.map(\.successRate)),
        ], empty: "No experiment", format: ReportFormat.percent, scale: { _ in 1 })
        if campaigns.count > 1 {
            out += "<h3>Earlier campaigns in this period</h3>"
                + HTMLReport.table(earlierHeader, earlierRows(campaigns), numeric: [false, false, true, true, true, false])
        }
        return out + "</section>\n"
    }

    /// The section as Markdown; empty when no campaign finished in the period.
    public static func markdown(_ campaigns: [ChaosCampaignOutcome]) -> String {
        guard let latest = campaigns.last else { return "" }
        let s = latest.summary
        var out = "\n## Chaos campaign\n\n\(ReportFormat.markdown(headline(campaigns)))\n\n### Against reference §10.1's targets\n\n"
        out += MarkdownReport.table(["KPI", "Value", "Target", "Status"], s.targets.map { [$0.kpi, value($0), $0.target, $0.met ? "met" : "missed"] },
                                    numeric: [false, true, false, false])
        out += "\n### Per fault type\n\n" + MarkdownReport.table(figureHeader, figureRows(s), numeric: figureNumeric)
        if campaigns.count > 1 {
            out += "\n### Earlier campaigns in this period\n\n"
                + MarkdownReport.table(earlierHeader, earlierRows(campaigns), numeric: [false, false, true, true, true, false])
        }
        return out
    }

    private static func e(_ text: String) -> String { ReportFormat.html(text) }
}

extension SVGChart {
    /// For each label, one vertical bar per series side by side (a missing value leaves its slot
    /// empty), y from 0 to `scale` of the largest value, ticks spelled by `format`.
    public static func groupedBars(title: String, labels: [String], series: [Series], empty: String,
                                   format: (Double) -> String, scale: (Double) -> Double = niceCeiling) -> String {
        let values = series.flatMap { $0.values.compactMap { $0 } }.filter(\.isFinite)
        guard !labels.isEmpty, !values.isEmpty else { return noData(title: title, message: empty) }
        func c(_ value: Double) -> String { ReportFormat.coordinate(value) }
        func esc(_ text: String) -> String { ReportFormat.html(text) }
        let height = 300.0, left = 80.0, right = 20.0, top = 40.0, bottom = 60.0
        let plotWidth = width - left - right, plotHeight = height - top - bottom
        let top_ = max(scale(values.max()!), .leastNormalMagnitude)
        let slot = plotWidth / Double(labels.count)
        let bar = slot * 0.8 / Double(max(series.count, 1))
        var svg = open(title: title, height: height)
        for tick in 0...4 {
            let v = top_ * Double(tick) / 4
            let ty = c(top + plotHeight - v / top_ * plotHeight)
            svg += "<line class=\"grid\" x1=\"\(c(left))\" y1=\"\(ty)\" x2=\"\(c(width - right))\" y2=\"\(ty)\"/>"
            svg += "<text class=\"tick\" x=\"\(c(left - 6))\" y=\"\(ty)\" text-anchor=\"end\" dominant-baseline=\"middle\">\(esc(format(v)))</text>"
        }
        for (i, label) in labels.enumerated() {
            for (k, s) in series.enumerated() {
                guard i < s.values.count, let value = s.values[i], value.isFinite else { continue }
                let h = min(max(value, 0), top_) / top_ * plotHeight
                let x = left + Double(i) * slot + slot * 0.1 + Double(k) * bar
                svg += "<rect x=\"\(c(x))\" y=\"\(c(top + plotHeight - h))\" width=\"\(c(bar * 0.9))\" height=\"\(c(h))\" fill=\"\(s.color)\">"
                svg += "<title>\(esc("\(s.name) \(label): \(format(value))"))</title></rect>"
            }
            svg += "<text class=\"tick\" x=\"\(c(left + (Double(i) + 0.5) * slot))\" y=\"\(c(top + plotHeight + 18))\" text-anchor=\"middle\">"
            svg += "\(esc(ReportFormat.truncated(label, max(4, Int(slot / 7)))))</text>"
        }
        svg += legend(series.map { ($0.name, $0.color) }, y: height - 16)
        return svg + "</svg>"
    }
}
