import Foundation
import XCTest

/// `medic report` through the built binary, over an incident history written as JSON lines.
final class ReportCommandTests: XCTestCase {
    private let at = "2026-11-23T08:00:00Z"

    func testWritesMarkdownAndHTMLNamedForTheDateOfAt() throws {
        let dir = try Medic.temporaryDirectory(self)
        let state = try ReportHistory.write(ReportHistory.sample, in: dir)
        let out = dir.appendingPathComponent("reports/daily")   // absent: created
        let result = try Medic.run(["report", "daily", "--at", at, "--state-dir", state.path, "--out", out.path], in: dir)
        XCTAssertEqual(result.status, 0, result.stderr)
        let markdown = out.appendingPathComponent("medic-report-daily-2026-11-23.md")
        let html = out.appendingPathComponent("medic-report-daily-2026-11-23.html")
        XCTAssertEqual(result.stdout, markdown.path + "\n" + html.path + "\n")
        let text = try String(contentsOf: markdown, encoding: .utf8)
        // 4 in the day (the one at 2026-11-22T07:00 is before it): 2 succeeded, 1 failed and
        // escalated, 1 rolled back.
        XCTAssertTrue(text.contains("| Incidents | Auto-remediated | Manual intervention | Open | Rolled back |"))
        XCTAssertTrue(text.contains("| 4 | 2 | 1 | 1 | 1 |"), text)
        XCTAssertTrue(text.contains("| MTTR (mean time to remediate) | 3.0 min | < 15 min | met |"), text) // (120+240)/2
        XCTAssertTrue(text.contains("\\<script>&\"\\|"))   // the odd playbook id, escaped
        let page = try String(contentsOf: html, encoding: .utf8)
        XCTAssertTrue(page.hasPrefix("<!DOCTYPE html>"))
        XCTAssertEqual(page.components(separatedBy: "<svg").count - 1, 4)
        XCTAssertFalse(page.contains("<script"))

        // The same history and --at: the same bytes.
        let again = dir.appendingPathComponent("again")
        XCTAssertEqual(try Medic.run(["report", "daily", "--at", at, "--state-dir", state.path, "--out", again.path], in: dir).status, 0)
        XCTAssertEqual(try Data(contentsOf: html), try Data(contentsOf: again.appendingPathComponent(html.lastPathComponent)))
        XCTAssertEqual(try Data(contentsOf: markdown), try Data(contentsOf: again.appendingPathComponent(markdown.lastPathComponent)))
    }

    func testOutDefaultsToTheCurrentDirectory() throws {
        let dir = try Medic.temporaryDirectory(self)
        let state = try ReportHistory.write(ReportHistory.sample, in: dir)
        let result = try Medic.run(["report", "weekly", "--at", at, "--state-dir", state.path], in: dir)
        XCTAssertEqual(result.status, 0, result.stderr)
        let markdown = try String(contentsOf: dir.appendingPathComponent("medic-report-weekly-2026-11-23.md"), encoding: .utf8)
        XCTAssertTrue(markdown.contains("| 5 | 2 | 1 | 2 | 1 |"), markdown)   // the week has the 07:00 one too
        XCTAssertTrue(markdown.contains("## Trends per day"))
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir.appendingPathComponent("medic-report-weekly-2026-11-23.html").path))
    }

    func testJSONPrintsTheReportAndWritesNoFile() throws {
        let dir = try Medic.temporaryDirectory(self)
        let state = try ReportHistory.write(ReportHistory.sample, in: dir)
        let result = try Medic.run(["report", "daily", "--at", at, "--state-dir", state.path, "--json"], in: dir)
        XCTAssertEqual(result.status, 0, result.stderr)
        let json = try Medic.json(result.stdout)
        XCTAssertEqual(json["kind"] as? String, "daily")
        XCTAssertEqual(json["from"] as? String, "2026-11-22T08:00:00.000Z")
        let summary = try XCTUnwrap(json["summary"] as? [String: Any])
        XCTAssertEqual(summary["incidents"] as? Int, 4)
        XCTAssertEqual(summary["auto_remediated"] as? Int, 2)
        let kpis = try XCTUnwrap(json["kpis"] as? [[String: Any]])
        XCTAssertEqual(kpis.first { $0["key"] as? String == "mttr" }?["status"] as? String, "met")
        XCTAssertEqual((json["trend"] as? [Any])?.count, 24)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted(), ["state"])
    }

    func testAMissingKnowledgeBaseIsAnEmptyReport() throws {
        let dir = try Medic.temporaryDirectory(self)
        let result = try Medic.run(["report", "daily", "--at", at, "--state-dir", dir.appendingPathComponent("none").path,
                                    "--out", dir.path], in: dir)
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertEqual(result.stderr, "")
        let page = try String(contentsOf: dir.appendingPathComponent("medic-report-daily-2026-11-23.html"), encoding: .utf8)
        XCTAssertEqual(page.components(separatedBy: "No incidents in this period").count - 1, 4)
    }

    func testCorruptLinesAreWarnedWithTheirNumbersAndTheRestReported() throws {
        let dir = try Medic.temporaryDirectory(self)
        var lines = ReportHistory.sample
        lines.insert("{not json", at: 1)
        lines.insert("{\"v\": 1}", at: 3)
        let state = try ReportHistory.write(lines, in: dir)
        let result = try Medic.run(["report", "daily", "--at", at, "--state-dir", state.path, "--json"], in: dir)
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertTrue(result.stderr.contains("incident-history.jsonl:2: "), result.stderr)
        XCTAssertTrue(result.stderr.contains("incident-history.jsonl:4: "), result.stderr)
        XCTAssertEqual(result.stderr.components(separatedBy: "medic: warning:").count - 1, 2)
        XCTAssertEqual((try Medic.json(result.stdout)["summary"] as? [String: Any])?["incidents"] as? Int, 4)
    }

    func testBadAtOrOutIsAUsageError() throws {
        let dir = try Medic.temporaryDirectory(self)
        let state = try ReportHistory.write(ReportHistory.sample, in: dir)
        let badAt = try Medic.run(["report", "daily", "--at", "yesterday", "--state-dir", state.path, "--out", dir.path], in: dir)
        XCTAssertEqual(badAt.status, 2)
        XCTAssertTrue(badAt.stderr.contains("The value 'yesterday' is invalid for '--at <at>': expected an RFC 3339 date-time"), badAt.stderr)
        let file = dir.appendingPathComponent("a-file")
        try Data().write(to: file)
        let badOut = try Medic.run(["report", "daily", "--at", at, "--state-dir", state.path, "--out", file.path], in: dir)
        XCTAssertEqual(badOut.status, 2)
        XCTAssertTrue(badOut.stderr.contains("is not a directory"), badOut.stderr)
        XCTAssertEqual(try Medic.run(["report", "monthly", "--state-dir", state.path], in: dir).status, 2)
    }

    func testAnUnreadableHistoryExitsOne() throws {
        let dir = try Medic.temporaryDirectory(self)
        let state = dir.appendingPathComponent("state")
        // The history is a directory: it cannot be read as a file.
        try FileManager.default.createDirectory(at: state.appendingPathComponent("knowledge/incident-history.jsonl"),
                                                withIntermediateDirectories: true)
        let result = try Medic.run(["report", "daily", "--at", at, "--state-dir", state.path, "--out", dir.path], in: dir)
        XCTAssertEqual(result.status, 1)
        XCTAssertTrue(result.stderr.contains("cannot read the incident history"), result.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir.appendingPathComponent("medic-report-daily-2026-11-23.md").path))
    }

    func testHelpTeachesWithExamples() throws {
        let result = try Medic.run(["report", "--help"])
        XCTAssertEqual(result.status, 0)
        for text in ["self-healing report", "medic report weekly --out reports/", "--at", "Exit codes", "docs/reports.md"] {
            XCTAssertTrue(result.stdout.contains(text), text)
        }
    }
}

/// Incident records as `medic run` writes them, spelled by hand as JSON lines.
enum ReportHistory {
    static let oddPlaybook = #"<script>&\"|"#   // JSON for <script>&"|

    /// Around the day ending 2026-11-23T08:00Z: 4 in it, 1 a day earlier (in the week).
    static let sample = [
        line("r1", "2026-11-22T09:00:00.000Z", "pb-a", "automated", "succeeded", ttr: 120, time: 60, category: "network"),
        line("r2", "2026-11-22T10:00:00.000Z", "pb-a", "automated", "succeeded", ttr: 240, time: 200, category: "network"),
        line("r3", "2026-11-22T11:00:00.000Z", oddPlaybook, "manual", "failed", time: 30, category: "dis<k>", escalated: true),
        line("r4", "2026-11-22T12:00:00.000Z", "pb-b", "automated", "rolled_back", time: 90, category: "network", severity: "SEV1"),
        line("r0", "2026-11-22T07:00:00.000Z", "pb-b", "automated", "failed", time: 30, category: "network"),
    ]

    static func line(_ run: String, _ timestamp: String, _ playbook: String, _ mode: String, _ outcome: String,
                     ttr: Double? = nil, time: Double, category: String, severity: String = "SEV3", escalated: Bool = false) -> String {
        let method = outcome == "succeeded" ? "auto_remediation" : outcome == "rolled_back" ? "rollback" : "manual"
        let detection = mode == "automated"
            ? #"{"detection_time":"\#(timestamp)","initial_severity":"\#(severity)","method":"anomaly_detection","time_to_detect":30}"#
            : #"{"detection_time":"\#(timestamp)","initial_severity":"\#(severity)","method":"manual"}"#
        let resolution = #"{"resolution_method":"\#(method)",\#(ttr.map { #""time_to_resolution":\#($0),"# } ?? "")"verification_passed":\#(outcome == "succeeded")}"#
        return #"{"classification":{"affected_components":["api"],"category":"\#(category)"},"detection":\#(detection),"ended_at":"\#(timestamp)","impact":{"services_affected":["api"]},"incident_id":"\#(run)","metadata":{"approval_requested":false,"denied":false,"escalated":\#(escalated)},"mode":"\#(mode)","remediation":{"execution_time":\#(time),"outcome":"\#(outcome == "succeeded" ? "success" : "failed")","playbook_id":"\#(playbook)","playbook_version":"1.0.0","steps_executed":[]},"resolution":\#(resolution),"run_id":"\#(run)","run_outcome":"\#(outcome)","timestamp":"\#(timestamp)","v":1}"#
    }

    /// Writes `lines` as `<dir>/state/knowledge/incident-history.jsonl`; returns the state directory.
    static func write(_ lines: [String], in dir: URL) throws -> URL {
        let state = dir.appendingPathComponent("state")
        let knowledge = state.appendingPathComponent("knowledge")
        try FileManager.default.createDirectory(at: knowledge, withIntermediateDirectories: true)
        try Data(lines.map { $0 + "\n" }.joined().utf8).write(to: knowledge.appendingPathComponent("incident-history.jsonl"))
        return state
    }
}
