/// A `Report` as one self-contained HTML page: inline CSS, the §10.2 charts as inline SVG, no
/// script, no external font, image or link, so it opens the same from a mail attachment, a CI
/// artifact or a file on disk, and makes no network request. Every text from a record is escaped.
public enum HTMLReport {
    /// `campaigns`: the chaos campaigns that finished in the period (`ChaosCampaignOutcome`), shown last.
    public static func render(_ report: Report, campaigns: [ChaosCampaignOutcome] = []) -> String {
        let s = report.summary
        let title = "\(report.kind.title), \(ReportTime.date(ReportTime.parse(report.to) ?? 0))"
        var out = """
            <!DOCTYPE html>
            <html lang="en">
            <head>
            <meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <title>\(e(title))</title>
            <style>\(style)</style>
            </head>
            <body>
            <h1>\(e(report.kind.title))</h1>
            <p class="period">\(e(report.from)) to \(e(report.to)) (UTC): incidents whose run started in this period.</p>

            """
        out += "<section><h2>Summary</h2><div class=\"cards\">"
        for (name, value) in [("Incidents", s.incidents), ("Auto-remediated", s.autoRemediated),
                              ("Manual intervention", s.manualIntervention), ("Open", s.open), ("Rolled back", s.rolledBack)] {
            out += "<div class=\"card\"><div class=\"number\">\(value)</div><div>\(e(name))</div></div>"
        }
        let note = MarkdownReport.definitions + (MarkdownReport.startedByPeople(s).map { " " + $0 } ?? "")
        out += "</div><p class=\"note\">\(e(note.replacingOccurrences(of: "`", with: "")))</p>\n"
        out += "<h3>KPIs (reference §10.1)</h3>"
        out += table(["KPI", "Value", "Target", "Status"], report.kpis.map {
            [$0.name, ReportFormat.value($0), ReportFormat.target($0), ReportFormat.status($0)]
        }, numeric: [false, true, false, false], rowClasses: report.kpis.map { $0.status.rawValue })
        out += "</section>\n"

        out += "<section><h2>Charts</h2>"
        let labels = report.trend.map(\.label)
        let unit = report.kind == .daily ? "hour" : "day"
        out += SVGChart.line(title: "MTTD and MTTR by \(unit)", labels: labels, series: [
            .init(name: "MTTD", color: SVGChart.palette[1], values: report.trend.map(\.mttd)),
            .init(name: "MTTR", color: SVGChart.palette[0], values: report.trend.map(\.mttr)),
        ], empty: report.summary.incidents == 0 ? "No incidents in this period" : "No detected or resolved incidents in this period",
           format: ReportFormat.duration, scale: SVGChart.niceDuration)
        out += SVGChart.columns(title: "Incidents by \(unit)", labels: labels, counts: report.trend.map(\.incidents),
                                empty: "No incidents in this period")
        var categories = report.categories.map { ($0.name, $0.incidents) }
        if let other = report.otherCategories { categories.append((other.name, other.incidents)) }
        out += SVGChart.bars(title: "Incidents by category", items: categories, empty: "No incidents in this period")
        let r = report.resolutionMethods
        out += SVGChart.donut(title: "Resolution methods", slices: [
            .init(name: "auto_remediation", color: SVGChart.palette[2], count: r.autoRemediation),
            .init(name: "rollback", color: SVGChart.palette[1], count: r.rollback),
            .init(name: "manual", color: SVGChart.palette[7], count: r.manual),
        ], empty: "No incidents in this period")
        out += "<h3>Top playbooks by usage (top \(Report.chartLimit))</h3>"
        let top = report.playbooks.filter { $0.executions > 0 }.prefix(Report.chartLimit)
        out += top.isEmpty ? "<p class=\"none\">No playbook ran in this period.</p>" : table(
            ["Playbook", "Executions", "Success rate", "Avg time"],
            top.map { [$0.playbookID, "\($0.executions)", ReportFormat.percent($0.successRate), ReportFormat.duration($0.averageTime)] },
            numeric: [false, true, true, true])
        out += "</section>\n"

        out += "<section><h2>Highlights</h2><h3>Significant incidents (SEV0, SEV1)</h3>"
        out += incidents(report.significantIncidents)
        out += "<h3>Playbook failures</h3>"
        out += report.playbookFailures.isEmpty ? none : table(
            ["Playbook", "Failures", "Executions", "Success rate"],
            report.playbookFailures.map { [$0.playbookID, "\($0.failures)", "\($0.executions)", ReportFormat.percent($0.successRate)] },
            numeric: [false, true, true, true])
        out += "</section>\n"

        out += "<section><h2>Top issues</h2><h3>Most common incident categories (top 5)</h3>"
        out += counts(Array(report.categories.prefix(5)), header: "Category")
        out += "<h3>Services with most incidents (top 5)</h3>" + counts(report.services, header: "Service")
        out += "<h3>Slowest remediations (top 3)</h3>"
        out += report.slowestRemediations.isEmpty ? none : table(
            ["Run", "Started", "Playbook", "Execution time", "Outcome"],
            report.slowestRemediations.map { [$0.runID, $0.timestamp, $0.playbookID, ReportFormat.duration($0.executionTime), $0.runOutcome.rawValue] },
            numeric: [false, false, false, true, false])
        out += "</section>\n"

        out += "<section><h2>Action items</h2>"
        out += "<h3>Playbooks needing review (success rate below \(ReportFormat.percent(Report.reviewSuccessRate)), at least \(report.minimumRunsForReview) runs)</h3>"
        out += report.playbooksNeedingReview.isEmpty ? none : table(ReportTable.needingReview(report))
        out += "<h3>Failed auto-remediations to investigate</h3>" + incidents(report.failedAutoRemediations)
        out += "<p class=\"note\">Show one with <code>medic show RUN</code>.</p></section>\n"

        if report.kind == .weekly {
            out += "<section><h2>Trends per day</h2><p class=\"note\">Each day is 24 hours from the start shown (UTC).</p>"
            out += table(ReportTable.trend(report))
            out += "<h2>Playbook performance</h2>"
            out += report.playbooks.isEmpty ? "<p class=\"none\">No playbook ran in this period.</p>" : table(ReportTable.playbooks(report))
            out += "</section>\n"
        }
        return out + CampaignReportSection.html(campaigns) + "</body>\n</html>\n"
    }

    static let none = "<p class=\"none\">None in this period.</p>"

    static let style = """
        body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2rem auto;max-width:960px;padding:0 1rem;color:#1a202c}\
        h1{margin-bottom:.2rem}h2{border-bottom:1px solid #cbd5e0;padding-bottom:.2rem;margin-top:2rem}\
        .period,.note{color:#4a5568}.none{color:#718096;font-style:italic}\
        .cards{display:flex;flex-wrap:wrap;gap:.8rem}.card{border:1px solid #cbd5e0;border-radius:6px;padding:.6rem 1rem;min-width:8rem}\
        .number{font-size:1.8rem;font-weight:600}\
        table{border-collapse:collapse;margin:.5rem 0 1rem}th,td{border:1px solid #e2e8f0;padding:.3rem .6rem;text-align:left}\
        th{background:#f7fafc}td.num{text-align:right;font-variant-numeric:tabular-nums}\
        tr.met td:last-child{color:#276749;font-weight:600}tr.missed td:last-child{color:#c53030;font-weight:600}\
        tr.no_data td:last-child{color:#718096}\
        svg.chart{display:block;max-width:100%;height:auto;margin:1rem 0;border:1px solid #e2e8f0;border-radius:6px;background:#fff}\
        svg .title{font-size:15px;font-weight:600;fill:#1a202c}svg .tick{font-size:11px;fill:#4a5568}\
        svg .label,svg .value{font-size:12px;fill:#2d3748}svg .total{font-size:22px;font-weight:600;fill:#1a202c}\
        svg .empty{font-size:15px;fill:#718096;font-style:italic}svg .grid{stroke:#e2e8f0;stroke-width:1}
        """

    static func incidents(_ list: Report.IncidentList) -> String {
        guard list.total > 0 else { return none }
        var out = list.total > list.items.count ? "<p>\(list.total) in all; the first \(list.items.count):</p>" : ""
        out += table(["Run", "Started", "Severity", "Playbook", "Outcome", "Services"], list.items.map {
            [$0.runID, $0.timestamp, $0.severity ?? "-", $0.playbookID, $0.runOutcome.rawValue,
             $0.components.isEmpty ? "-" : $0.components.joined(separator: ", ")]
        }, numeric: [false, false, false, false, false, false])
        return out
    }

    static func counts(_ counts: [Report.Count], header: String) -> String {
        counts.isEmpty ? none : table([header, "Incidents"], counts.map { [$0.name, "\($0.incidents)"] }, numeric: [false, true])
    }

    static func table(_ t: ReportTable) -> String { table(t.header, t.rows, numeric: t.numeric) }

    static func table(_ header: [String], _ rows: [[String]], numeric: [Bool], rowClasses: [String]? = nil) -> String {
        var out = "<table><thead><tr>" + header.map { "<th>\(e($0))</th>" }.joined() + "</tr></thead><tbody>"
        for (index, row) in rows.enumerated() {
            out += rowClasses.map { "<tr class=\"\(e($0[index]))\">" } ?? "<tr>"
            for (column, cell) in row.enumerated() {
                out += numeric[column] ? "<td class=\"num\">\(e(cell))</td>" : "<td>\(e(cell))</td>"
            }
            out += "</tr>"
        }
        return out + "</tbody></table>\n"
    }

    private static func e(_ text: String) -> String { ReportFormat.html(text) }
}
