import Foundation
import XCTest

/// `medic health` through the built binary, over a state directory whose incident history is
/// written as the recorder writes it (this target does not link MedicKnowledge: raw lines).
final class HealthCommandTests: XCTestCase {
    private static func time(_ date: Date) -> String {
        date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
    }

    /// One §9.1 incident record line of a run that ended `ago` seconds before now.
    private static func line(_ outcome: String, endedAgo ago: TimeInterval) -> String {
        let ended = Date().addingTimeInterval(-ago), started = ended.addingTimeInterval(-4)
        let id = UUID().uuidString.lowercased()
        let remediationOutcome = outcome == "succeeded" ? #","outcome":"success""# : #","outcome":"failed""#
        return #"{"classification":{"affected_components":[]},"detection":{"detection_time":"\#(time(started))","method":"manual"},"#
            + #""ended_at":"\#(time(ended))","impact":{"duration":4,"services_affected":[]},"incident_id":"\#(id)","#
            + #""metadata":{"approval_requested":false,"denied":false,"escalated":false},"mode":"automated","#
            + #""remediation":{"execution_time":4\#(remediationOutcome),"playbook_id":"pb-001","playbook_version":"1.0.0","steps_executed":[]},"#
            + #""resolution":{"resolution_method":"manual","verification_passed":false},"run_id":"\#(id)","#
            + #""run_outcome":"\#(outcome)","timestamp":"\#(time(started))","v":1}"#
    }

    private func state(with outcomes: [(String, TimeInterval)]) throws -> URL {
        let dir = try Medic.temporaryDirectory(self)
        let knowledge = dir.appendingPathComponent("state/knowledge")
        try FileManager.default.createDirectory(at: knowledge, withIntermediateDirectories: true)
        let text = outcomes.map { Self.line($0.0, endedAgo: $0.1) + "\n" }.joined()
        try text.write(to: knowledge.appendingPathComponent("incident-history.jsonl"), atomically: true, encoding: .utf8)
        return dir
    }

    private func json(_ run: MedicRun) throws -> [String: Any] {
        try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any], run.stdout)
    }

    private func check(_ name: String, in output: [String: Any]) throws -> [String: Any] {
        let checks = try XCTUnwrap(output["checks"] as? [[String: Any]])
        return try XCTUnwrap(checks.first { $0["name"] as? String == name }, "no check \(name)")
    }

    func testAHealthyStateDirectoryExitsZero() throws {
        let dir = try state(with: [("succeeded", 400), ("succeeded", 300), ("succeeded", 200), ("failed", 100)])
        let state = dir.appendingPathComponent("state").path
        let run = try Medic.run(["health", "--state-dir", state, "--root", dir.path])
        XCTAssertEqual(run.status, 0, run.stdout + run.stderr)
        XCTAssertEqual(run.stderr, "")
        XCTAssertTrue(run.stdout.contains("remediation_failure_spike         ok       3 of 4 attempted runs succeeded in the last 30m (75.0%)"),
                      run.stdout)
        XCTAssertTrue(run.stdout.contains("playbook_circuit_breaker_tripped  ok       no breaker open"), run.stdout)
        XCTAssertTrue(run.stdout.contains("knowledge_base_stale              ok       the newest incident record ended at"), run.stdout)
        XCTAssertTrue(run.stdout.hasSuffix("\nhealthy\n"), run.stdout)
        XCTAssertFalse(FileManager.default.fileExists(atPath: state + "/outbox.jsonl"), "nothing to publish")

        // An empty state directory, and the shipped policies under the repository root (none applies).
        let empty = try Medic.temporaryDirectory(self).path
        let fresh = try Medic.run(["health", "--state-dir", empty, "--json"])
        XCTAssertEqual(fresh.status, 0, fresh.stdout + fresh.stderr)
        XCTAssertEqual(fresh.stderr, "")
        let output = try json(fresh)
        XCTAssertEqual(output["healthy"] as? Bool, true)
        XCTAssertEqual(try check("knowledge_base_stale", in: output)["observed"] as? String,
                       "not yet started: no incident record and no finished run")
    }

    func testASpikeExitsOneAndIsPublishedOnceAcrossTwoCalls() throws {
        let dir = try state(with: [("failed", 300), ("rolled_back", 200), ("succeeded", 100)])
        let state = dir.appendingPathComponent("state").path
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("policies"), withIntermediateDirectories: true)
        try """
            escalation_policies:
              medic_itself:
                name: "Medic itself"
                applies_to: [critical]
                escalation_chain:
                  - {level: 1, delay: 0m, notify: on_call_sre, method: pagerduty}
            """.write(to: dir.appendingPathComponent("policies/escalation.yaml"), atomically: true, encoding: .utf8)

        let first = try Medic.run(["health", "--state-dir", state, "--root", dir.path, "--json"])
        XCTAssertEqual(first.status, 1, first.stdout + first.stderr)
        let output = try json(first)
        XCTAssertEqual(output["healthy"] as? Bool, false)
        let spike = try check("remediation_failure_spike", in: output)
        XCTAssertEqual(spike["verdict"] as? String, "alert")
        XCTAssertEqual(try XCTUnwrap(spike["value"] as? Double), 1.0 / 3.0, accuracy: 1e-9)
        let alert = try XCTUnwrap((spike["alerts"] as? [[String: Any]])?.first)
        XCTAssertEqual(alert["severity"] as? String, "critical")
        XCTAssertEqual(alert["notify"] as? [String], ["sre_team", "engineering_manager"])
        XCTAssertEqual(alert["escalation_policy"] as? String, "medic_itself")
        XCTAssertEqual(alert["escalation_notify"] as? String, "on_call_sre")
        let published = try XCTUnwrap(output["published"] as? [[String: Any]])
        XCTAssertEqual(published.map { $0["type"] as? String }, ["dev.medic.health.alert"])

        let second = try Medic.run(["health", "--state-dir", state, "--root", dir.path])
        XCTAssertEqual(second.status, 1, second.stdout + second.stderr)
        XCTAssertTrue(second.stdout.contains("remediation_failure_spike         ALERT    1 of 3 attempted runs succeeded"), second.stdout)
        XCTAssertTrue(second.stdout.contains("already raised earlier: not published again"), second.stdout)
        XCTAssertTrue(second.stdout.hasSuffix("\n1 alert raised\n"), second.stdout)

        let outbox = try String(contentsOfFile: state + "/outbox.jsonl", encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(outbox.count, 1)
        let event = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(outbox[0].utf8)) as? [String: Any])
        XCTAssertEqual(event["type"] as? String, "dev.medic.health.alert")
        XCTAssertEqual(event["id"] as? String, published.first?["event_id"] as? String)
        let data = try XCTUnwrap(event["data"] as? [String: String])
        XCTAssertEqual(data["alert"], "remediation_failure_spike")
        XCTAssertEqual(data["value"], "0.333")
        XCTAssertEqual(data["escalation_notify"], "on_call_sre")
    }

    func testUsageAndHelp() throws {
        let dir = try Medic.temporaryDirectory(self)
        let bad = try Medic.run(["health", "--state-dir", dir.path, "--bus", "carrier-pigeon"])
        XCTAssertEqual(bad.status, 2, bad.stdout + bad.stderr)
        XCTAssertTrue(bad.stderr.contains("--bus"), bad.stderr)

        let help = try Medic.run(["health", "--help"])
        XCTAssertEqual(help.status, 0)
        for text in ["remediation_failure_spike", "playbook_circuit_breaker_tripped", "knowledge_base_stale", "dev.medic.health.alert",
                     "Examples:", "medic health --json"] {
            XCTAssertTrue(help.stdout.contains(text), "--help lacks \(text)")
        }
    }
}
