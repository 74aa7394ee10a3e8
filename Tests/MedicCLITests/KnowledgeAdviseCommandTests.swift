import Foundation
import XCTest

/// `medic kb advise` and `medic kb update` through the built binary, over incident records
/// written as JSON text (the §9.1 shape of docs/knowledge.md).
final class KnowledgeAdviseCommandTests: XCTestCase {
    private static let timeStyle = Date.ISO8601FormatStyle(includingFractionalSeconds: true)

    /// One incident line: `playbook` ran (started `ago` seconds before now), its step 1 `ok` or
    /// not, taking `duration` seconds, the whole run `executionTime`.
    private static func line(_ playbook: String, ago: Double = 3600, ok: Bool = true, duration: Double = 1,
                             executionTime: Double = 2) -> String {
        let at = Date().addingTimeInterval(-ago).formatted(timeStyle)
        let id = UUID().uuidString
        let outcome = ok ? "succeeded" : "failed"
        return """
            {"v":1,"incident_id":"\(id)","run_id":"\(id)","timestamp":"\(at)","ended_at":"\(at)","mode":"manual",\
            "run_outcome":"\(outcome)","detection":{"method":"manual","detection_time":"\(at)"},\
            "classification":{"category":"infrastructure","affected_components":["web-1"]},\
            "remediation":{"playbook_id":"\(playbook)","playbook_version":"1.0.0","execution_time":\(executionTime),\
            "steps_executed":[{"step":1,"name":"restart","succeeded":\(ok),"attempts":1,"duration":\(duration)}],\
            "outcome":"\(ok ? "success" : "failed")"},"impact":{"duration":\(executionTime),"services_affected":["web-1"]},\
            "resolution":{"resolution_method":"\(ok ? "auto_remediation" : "manual")","verification_passed":\(ok)},\
            "metadata":{"escalated":false,"approval_requested":false,"denied":false}}
            """
    }

    private func state(_ lines: [String]) throws -> URL {
        let dir = try Medic.temporaryDirectory(self)
        let knowledge = dir.appendingPathComponent("state/knowledge")
        try FileManager.default.createDirectory(at: knowledge, withIntermediateDirectories: true)
        try lines.map { $0 + "\n" }.joined().write(to: knowledge.appendingPathComponent("incident-history.jsonl"),
                                                    atomically: true, encoding: .utf8)
        return dir
    }

    private func medic(_ dir: URL, _ arguments: [String]) throws -> MedicRun {
        try Medic.run(["kb"] + arguments + ["--state-dir", dir.appendingPathComponent("state").path], in: dir)
    }

    func testNoFindingsExitsZero() throws {
        let dir = try state((0..<6).map { _ in Self.line("web") })
        let result = try medic(dir, ["advise"])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertTrue(result.stdout.hasPrefix("No optimisation hints since "), result.stdout)
        let empty = try Medic.run(["kb", "advise", "--state-dir", dir.appendingPathComponent("nothing").path], in: dir)
        XCTAssertEqual(empty.status, 0, empty.stderr)
    }

    func testAFailingStepIsAFindingAndExitsOne() throws {
        // 5 executions, 2 succeeded: 40%.
        let dir = try state((0..<5).map { Self.line("web", ok: $0 < 2) })
        let text = try medic(dir, ["advise"])
        XCTAssertEqual(text.status, 1, text.stderr)
        XCTAssertTrue(text.stdout.contains("web\n  step 1 restart: low_success_rate: success rate 40.0% < 80.0% over 5 executions\n"
                                           + "    -> Review and improve step implementation"), text.stdout)

        let json = try medic(dir, ["advise", "--json"])
        XCTAssertEqual(json.status, 1, json.stderr)
        let findings = try XCTUnwrap(try Medic.json(json.stdout)["findings"] as? [[String: Any]])
        XCTAssertEqual(findings.count, 1)
        XCTAssertEqual(findings[0]["playbook_id"] as? String, "web")
        XCTAssertEqual(findings[0]["step"] as? Int, 1)
        XCTAssertEqual(findings[0]["step_name"] as? String, "restart")
        XCTAssertEqual(findings[0]["issue"] as? String, "low_success_rate")
        XCTAssertEqual(findings[0]["value"] as? Double, 0.4)
        XCTAssertEqual(findings[0]["threshold"] as? Double, 0.8)
        XCTAssertEqual(findings[0]["sample_size"] as? Int, 5)
        XCTAssertEqual(findings[0]["recommendation"] as? String, "Review and improve step implementation")

        XCTAssertEqual(try medic(dir, ["advise", "--min-executions", "6"]).status, 0, "5 executions are too few for 6")
    }

    func testSinceLeavesOldIncidentsOut() throws {
        // The failures are 40 days old: outside the default 30 days, inside --since all.
        let dir = try state((0..<5).map { _ in Self.line("web", ago: 40 * 86_400, ok: false) })
        XCTAssertEqual(try medic(dir, ["advise"]).status, 0)
        XCTAssertEqual(try medic(dir, ["advise", "--since", "all"]).status, 1)
        XCTAssertEqual(try medic(dir, ["advise", "--since", "60d"]).status, 1)
    }

    func testUsageErrorsExitTwo() throws {
        let dir = try state([])
        let since = try medic(dir, ["advise", "--since", "soon"])
        XCTAssertEqual(since.status, 2)
        XCTAssertTrue(since.stderr.contains("The value 'soon' is invalid for '--since <since>': expected a duration"), since.stderr)
        XCTAssertEqual(try medic(dir, ["advise", "--min-executions", "0"]).status, 2)
        XCTAssertEqual(try medic(dir, ["advise", "--bogus"]).status, 2)
    }

    func testWithRootARunSlowerThanItsDeclaredAverageIsAFinding() throws {
        // Declared 10s; five runs of 20 s: mean 20 s > 15 s.
        let dir = try state((0..<5).map { _ in Self.line("web-001", executionTime: 20) })
        for folder in ["actions", "playbooks"] {
            try FileManager.default.createDirectory(at: dir.appendingPathComponent(folder), withIntermediateDirectories: true)
        }
        try """
            actions:
              ok:
                type: infrastructure
                risk_level: low
                implementation: "true"
            """.write(to: dir.appendingPathComponent("actions/a.yaml"), atomically: true, encoding: .utf8)
        try """
            playbook_id: web-001
            name: Web
            version: 1.0.0
            category: infrastructure
            severity: SEV3
            remediation_steps:
              - {step: 1, name: restart, action: ok}
            metadata: {avg_execution_time: 10s}
            """.write(to: dir.appendingPathComponent("playbooks/web.yaml"), atomically: true, encoding: .utf8)
        XCTAssertEqual(try medic(dir, ["advise"]).status, 0, "without --root there is nothing to compare with")
        let result = try medic(dir, ["advise", "--root", dir.path, "--json"])
        XCTAssertEqual(result.status, 1, result.stderr)
        let findings = try XCTUnwrap(try Medic.json(result.stdout)["findings"] as? [[String: Any]])
        XCTAssertEqual(findings.count, 1)
        XCTAssertNil(findings[0]["step"])
        XCTAssertEqual(findings[0]["issue"] as? String, "slow_execution")
        XCTAssertEqual(findings[0]["baseline"] as? String, "declared_average")
        XCTAssertEqual(findings[0]["value"] as? Double, 20)
        XCTAssertEqual(findings[0]["expected"] as? Double, 10)
        XCTAssertEqual(findings[0]["threshold"] as? Double, 15)

        try "not: [a playbook".write(to: dir.appendingPathComponent("playbooks/broken.yaml"), atomically: true, encoding: .utf8)
        let broken = try medic(dir, ["advise", "--root", dir.path])
        XCTAssertEqual(broken.status, 2, "a broken library is not a finding")
        XCTAssertTrue(broken.stderr.contains("has errors"), broken.stderr)
    }

    func testUpdateAppendsOnceAndThenSaysThereIsNothingNew() throws {
        let dir = try state((0..<3).map { _ in Self.line("web") })
        let first = try medic(dir, ["update"])
        XCTAssertEqual(first.status, 0, first.stderr)
        XCTAssertTrue(first.stdout.contains("from 3 incidents"), first.stdout)
        XCTAssertTrue(first.stdout.contains("pattern "), "3 infrastructure incidents on web-1: " + first.stdout)
        let knowledge = dir.appendingPathComponent("state/knowledge")
        let performance = try String(contentsOf: knowledge.appendingPathComponent("playbook-performance.jsonl"), encoding: .utf8)
        XCTAssertEqual(performance.split(separator: "\n").count, 1)
        XCTAssertNotNil(FileManager.default.contents(atPath: knowledge.appendingPathComponent("root-causes.json").path))

        let second = try medic(dir, ["update", "--json"])
        XCTAssertEqual(second.status, 0, second.stderr)
        let report = try Medic.json(second.stdout)
        XCTAssertEqual(report["updated"] as? Bool, false)
        XCTAssertEqual(report["incidents"] as? Int, 3)
        let text = try medic(dir, ["update"])
        XCTAssertTrue(text.stdout.hasPrefix("No new incidents since the last update"), text.stdout)
        XCTAssertEqual(try String(contentsOf: knowledge.appendingPathComponent("playbook-performance.jsonl"), encoding: .utf8),
                       performance)
        XCTAssertEqual(try medic(dir, ["update", "--window", "0s"]).status, 2)
    }
}
