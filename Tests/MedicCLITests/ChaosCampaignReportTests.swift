import Foundation
import XCTest

/// The chaos campaign in `medic report`'s pages (docs/reports.md, "Chaos campaign"): the
/// campaigns `medic chaos campaign` recorded in `knowledge/chaos-campaigns.jsonl` that finished
/// in the report's period, the latest one's figures per fault type and overall against §10.1's
/// targets, with charts. (The example campaign's own figures are checked in the report by
/// ChaosCommandTests.testTheExampleCampaignHealsAndRevertsEveryFault.)
final class ChaosCampaignReportTests: XCTestCase {
    /// `ReportFormat.duration` for the values these tests use (milliseconds to minutes).
    static func duration(_ seconds: Double) -> String {
        if seconds < 1 { return String(format: seconds < 0.01 ? "%.2f ms" : seconds < 0.1 ? "%.1f ms" : "%.0f ms", seconds * 1000) }
        if seconds < 60 { return String(format: "%.1f s", seconds) }
        return String(format: "%.1f min", seconds / 60)
    }

    /// A line as `ChaosCampaignSummary.record` writes it.
    private func campaign(finishedAt: String, directory: String, killed: (mttd: Double, recover: Double, mttr: Double),
                          slowHealed: Int, falsePositives: Int, passed: Bool) -> String {
        let slowRate = Double(slowHealed) / 2
        let overallRate = Double(1 + slowHealed) / 3
        let fpRate = Double(falsePositives) / Double(3 + falsePositives)
        let summary: [String: Any] = [
            "faults": [
                ["fault_type": "latency", "experiments": 2, "detected": 2, "healed": slowHealed, "reverted": 2, "mttd": 4.25,
                 "max_time_to_detect": 5.0, "mean_time_to_recover": 95.0, "max_time_to_recover": 100.0, "mttr": 90.75, "success_rate": slowRate],
                ["fault_type": "service-killed", "experiments": 1, "detected": 1, "healed": 1, "reverted": 1, "mttd": killed.mttd,
                 "max_time_to_detect": killed.mttd, "mean_time_to_recover": killed.recover, "max_time_to_recover": killed.recover,
                 "mttr": killed.mttr, "success_rate": 1.0],
            ],
            "overall": ["fault_type": "all", "experiments": 3, "detected": 3, "healed": 1 + slowHealed, "reverted": 3, "mttd": 3.5,
                        "max_time_to_detect": 5.0, "mean_time_to_recover": 70.0, "max_time_to_recover": 100.0, "mttr": 66.5,
                        "success_rate": overallRate],
            "incidents": 3 + falsePositives, "false_positives": falsePositives, "false_positive_rate": fpRate, "detection_accuracy": 1.0,
            "targets": [
                ["kpi": "mean_time_to_detect", "target": "< 5 minutes", "value": 3.5, "met": true],
                ["kpi": "mean_time_to_remediate", "target": "< 15 minutes", "value": 66.5, "met": true],
                ["kpi": "auto_remediation_success_rate", "target": "> 80%", "value": overallRate, "met": overallRate > 0.8],
                ["kpi": "false_positive_rate", "target": "< 10%", "value": fpRate, "met": fpRate < 0.1],
                ["kpi": "detection_accuracy", "target": "> 95%", "value": 1.0, "met": true],
            ],
            "passed": passed, "experiments": [] as [Any],
        ]
        let line: [String: Any] = ["finished_at": finishedAt, "directory": directory, "summary": summary]
        return String(decoding: try! JSONSerialization.data(withJSONObject: line, options: [.sortedKeys]), as: UTF8.self)
    }

    private func report(_ lines: [String], at: String = "2027-01-15T12:00:00Z") throws -> (html: String, markdown: String, stderr: String) {
        let dir = try Medic.temporaryDirectory(self)
        let knowledge = dir.appendingPathComponent("state/knowledge")
        try FileManager.default.createDirectory(at: knowledge, withIntermediateDirectories: true)
        try (lines.joined(separator: "\n") + "\n").write(to: knowledge.appendingPathComponent("chaos-campaigns.jsonl"), atomically: true,
                                                         encoding: .utf8)
        let run = try Medic.run(["report", "daily", "--at", at, "--out", dir.appendingPathComponent("out").path,
                                 "--state-dir", dir.appendingPathComponent("state").path])
        XCTAssertEqual(run.status, 0, run.stderr)
        let paths = run.stdout.split(separator: "\n").map(String.init)
        let html = try String(contentsOfFile: try XCTUnwrap(paths.first { $0.hasSuffix(".html") }), encoding: .utf8)
        let markdown = try String(contentsOfFile: try XCTUnwrap(paths.first { $0.hasSuffix(".md") }), encoding: .utf8)
        return (html, markdown, run.stderr)
    }

    func testTheLatestCampaignOfThePeriodIsShownPerFaultTypeAgainstTheTargetsWithCharts() throws {
        let (html, markdown, stderr) = try report([
            campaign(finishedAt: "2027-01-14T11:59:59.000Z", directory: "too-old", killed: (1, 2, 1), slowHealed: 2, falsePositives: 0, passed: true),
            campaign(finishedAt: "2027-01-15T01:00:00.000Z", directory: "nightly", killed: (2.5, 30, 27.5), slowHealed: 2, falsePositives: 0,
                     passed: true),
            "{\"not\": \"a campaign\"}",
            campaign(finishedAt: "2027-01-15T09:30:00.000Z", directory: "examples/chaos", killed: (2.75, 40.5, 37.75), slowHealed: 1,
                     falsePositives: 1, passed: false),
            campaign(finishedAt: "2027-01-15T12:00:00.000Z", directory: "too-new", killed: (1, 2, 1), slowHealed: 2, falsePositives: 0, passed: true),
        ])
        XCTAssertTrue(stderr.contains("chaos-campaigns.jsonl:3: not a campaign record; line skipped"), stderr)
        XCTAssertTrue(html.contains("<h2>Chaos campaign</h2>"))
        XCTAssertTrue(html.contains("2 campaigns finished in this period; the latest: examples/chaos, finished 2027-01-15T09:30:00.000Z: "
                                    + "NOT every experiment healed and was reverted. 4 incidents, 1 false positives (25.0%)."), html)
        for outside in ["too-old", "too-new"] { XCTAssertFalse(html.contains(outside), outside) }
        // Cards, then the targets: success 2 of 3 and 1 false positive of 4 incidents miss theirs.
        XCTAssertTrue(html.contains("<div class=\"card\"><div class=\"number\">66.7%</div><div>Success rate</div></div>"), html)
        XCTAssertTrue(html.contains("<tr class=\"met\"><td>mean_time_to_detect</td><td class=\"num\">3.5 s</td><td>&lt; 5 minutes</td><td>met</td></tr>"))
        XCTAssertTrue(html.contains("<tr class=\"met\"><td>mean_time_to_remediate</td><td class=\"num\">1.1 min</td>"))
        XCTAssertTrue(html.contains("<tr class=\"missed\"><td>auto_remediation_success_rate</td><td class=\"num\">66.7%</td><td>&gt; 80%</td><td>missed</td></tr>"))
        XCTAssertTrue(html.contains("<tr class=\"missed\"><td>false_positive_rate</td><td class=\"num\">25.0%</td>"))
        // Per fault type and overall.
        func row(_ cells: [String]) -> String {
            "<tr><td>\(cells[0])</td>" + cells.dropFirst().map { "<td class=\"num\">\($0)</td>" }.joined() + "</tr>"
        }
        XCTAssertTrue(html.contains(row(["latency", "2", "2", "1", "2", "4.2 s", "1.6 min", "1.5 min", "50.0%"])), html)
        XCTAssertTrue(html.contains(row(["service-killed", "1", "1", "1", "1", "2.8 s", "40.5 s", "37.8 s", "100.0%"])), html)
        XCTAssertTrue(html.contains(row(["all", "3", "3", "2", "3", "3.5 s", "1.2 min", "1.1 min", "66.7%"])), html)
        // The charts: a bar per fault type and figure, and the success rates.
        XCTAssertTrue(html.contains("aria-label=\"MTTD and MTTR by fault type\""))
        XCTAssertTrue(html.contains("<title>MTTD service-killed: 2.8 s</title>"))
        XCTAssertTrue(html.contains("<title>MTTR latency: 1.5 min</title>"))
        XCTAssertTrue(html.contains("<title>Time to recover service-killed: 40.5 s</title>"))
        XCTAssertTrue(html.contains("<title>Success rate latency: 50.0%</title>"))
        // The earlier campaign of the period.
        XCTAssertTrue(html.contains("<tr><td>2027-01-15T01:00:00.000Z</td><td>nightly</td><td class=\"num\">3</td><td class=\"num\">100.0%</td>"
                                    + "<td class=\"num\">0.0%</td><td>passed</td></tr>"), html)
        XCTAssertTrue(markdown.contains("## Chaos campaign"), markdown)
        XCTAssertTrue(markdown.contains("| service-killed | 1 | 1 | 1 | 1 | 2.8 s | 40.5 s | 37.8 s | 100.0% |"), markdown)
    }

    func testNoCampaignInThePeriodNoSection() throws {
        let (html, markdown, _) = try report([
            campaign(finishedAt: "2027-01-10T01:00:00.000Z", directory: "old", killed: (1, 2, 1), slowHealed: 2, falsePositives: 0, passed: true),
        ])
        XCTAssertFalse(html.contains("Chaos campaign"))
        XCTAssertFalse(markdown.contains("Chaos campaign"))
    }
}
