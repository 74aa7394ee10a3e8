import Foundation
import MedicServeTestKit
import Logging
import MedicDetect
import MedicEngine
import MedicServer
import XCTest

/// An incident's severity from the impact its alert carries (§5.1), and the incidents of the
/// anomaly rules that `medic serve` evaluates: kept in the incident store with the rule's
/// severity, escalated like an alert's, resolved when the rule resolves. The real binary, a
/// loopback receiver for the pages; the rule's resolution (300 s of quiet in `medic serve`)
/// through `RuleIncidents` itself.
final class SeverityEscalationTests: XCTestCase {
    static let policies = """
        escalation_policies:
          page_now:
            name: Page at once
            applies_to: [test]
            escalation_chain:
              - {level: 1, delay: 0s, notify: on_call, method: webhook}
        """

    static let rule = """
        rules:
          - name: fault-seen
            metric: fault_level
            detector: threshold
            params: {op: ">", value: 0}
            severity: SEV1
            playbook: linger-001
        """

    struct Library {
        let dir: URL
        let receiver: LoopbackReceiver
        var state: String { dir.appendingPathComponent("state").path }
        var arguments: [String] {
            ["--root", dir.path, "--state-dir", state, "--workdir", dir.path, "--config", dir.appendingPathComponent("medic.yaml").path,
             "--metrics", dir.appendingPathComponent("metrics.yaml").path, "--interval", "100ms"]
        }

        func escalated(_ key: String) -> Bool { FileManager.default.fileExists(atPath: state + "/escalations/\(key).json") }

        func setFault(_ level: Int) throws {
            try "{\"fault_level\": \(level)}".write(to: dir.appendingPathComponent("state.json"), atomically: true, encoding: .utf8)
        }
    }

    /// ServeTests' library (restart-service-001 is SEV3), the policy `page_now` for `severities`,
    /// and, with `rule`, an anomaly rule of severity SEV1 starting linger-001 while `fault_level` is above 0.
    func library(severities: [String], rule: Bool) async throws -> Library {
        let receiver = try await LoopbackReceiver(self)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("medic-severity-\(UUID().uuidString)")
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        try ServeRulesTests.writeLibrary(in: dir, folders: ["policies"])
        try Self.policies.write(to: dir.appendingPathComponent("policies/test.yaml"), atomically: true, encoding: .utf8)
        if rule { try Self.rule.write(to: dir.appendingPathComponent("rules/fault.yaml"), atomically: true, encoding: .utf8) }
        let mapped = severities.map { "\($0): page_now" }.joined(separator: ", ")
        try """
            routes:
              - match: {alertname: ServiceDown}
                playbook: restart-service-001
                parameters_from_labels: {service: job}
            escalation:
              policies: {\(mapped)}
            channels:
              webhook: {type: webhook, url: "\(receiver.url)/hook"}
            """.write(to: dir.appendingPathComponent("medic.yaml"), atomically: true, encoding: .utf8)
        let lib = Library(dir: dir, receiver: receiver)
        try lib.setFault(0)
        return lib
    }

    /// ServeTests' post of one alert with `annotations` added.
    static func post(labels: [String: String], annotations: [String: String], fingerprint: String) throws -> Data {
        var payload = try XCTUnwrap(JSONSerialization.jsonObject(with: ServeTests.post(labels: labels, fingerprint: fingerprint)) as? [String: Any])
        var alerts = try XCTUnwrap(payload["alerts"] as? [[String: Any]])
        alerts[0]["annotations"] = (alerts[0]["annotations"] as? [String: String] ?? [:]).merging(annotations) { $1 }
        payload["alerts"] = alerts
        return try JSONSerialization.data(withJSONObject: payload)
    }

    func testTheImpactAnAlertCarriesRaisesItsSeverityAndSoItsEscalation() async throws {
        let lib = try await library(severities: ["SEV0", "SEV1"], rule: false)
        let serve = try await ServeProcess(self, in: lib.dir, arguments: lib.arguments)
        // The same alert three times: without impact (its playbook's SEV3), a major failure
        // ratio (SEV1), a complete outage (SEV0).
        var keys: [String] = []
        for (fingerprint, annotations) in [("plain", [:]), ("major", ["failure_ratio": "60%"]), ("outage", ["impact": "outage"])] {
            let body = try Self.post(labels: ["alertname": "ServiceDown", "job": fingerprint], annotations: annotations, fingerprint: fingerprint)
            let answer = try await serve.post("/api/v1/alerts", body: body)
            XCTAssertEqual(answer.status, 200, answer.body)
            keys.append(try XCTUnwrap((answer.json["incidents"] as? [[String: Any]])?.first?["key"] as? String, answer.body))
        }
        let pages = try await lib.receiver.wait(for: 2, at: "/hook")
        let severities = Dictionary(pages.map { ($0.json["incident"] as? String ?? "", $0.json["severity"] as? String ?? "") }) { $1 }
        XCTAssertEqual(severities, [keys[1]: "SEV1", keys[2]: "SEV0"], "\(pages.map(\.json))")
        // The scheduler looks at every incident at each pass: the first was considered, and not escalated.
        XCTAssertFalse(lib.escalated(keys[0]), "an alert without impact keeps its playbook's SEV3, which no policy takes")
    }

    func testARuleFiringThatStartsARunIsAnIncidentEscalatedWithTheRulesSeverity() async throws {
        let lib = try await library(severities: ["SEV1"], rule: true)
        XCTAssertTrue(FileManager.default.createFile(atPath: lib.dir.appendingPathComponent("release").path, contents: nil))
        let serve = try await ServeProcess(self, in: lib.dir, arguments: lib.arguments)
        _ = try await ServeProcess.poll("the rules to be watched (stderr: \(serve.stderr))") { serve.stderr.contains("rules: watching 1 series") ? true : nil }
        try lib.setFault(1)
        let page = try await lib.receiver.wait(for: 1, at: "/hook")[0].json
        XCTAssertEqual(page["severity"] as? String, "SEV1", "\(page)")
        let key = try XCTUnwrap(page["incident"] as? String)
        XCTAssertTrue(key.hasPrefix("rule-"), key)

        let answer = try await serve.get("/api/v1/incidents/\(key)")
        XCTAssertEqual(answer.status, 200, answer.body)
        let incident = try XCTUnwrap(answer.json["incident"] as? [String: Any], answer.body)
        XCTAssertEqual(incident["handling"] as? String, "rule")
        XCTAssertEqual(incident["rule"] as? String, "fault-seen")
        XCTAssertEqual(incident["rule_severity"] as? String, "SEV1")
        XCTAssertEqual(incident["playbook"] as? String, "linger-001")
        let runID = try XCTUnwrap(incident["run_id"] as? String, answer.body)
        _ = try await ServeProcess.poll("the rule's run \(runID) to be journaled") {
            FileManager.default.fileExists(atPath: lib.state + "/runs/\(runID).jsonl") ? true : nil
        }

        let stopped = try await serve.stop()
        XCTAssertEqual(stopped, 0, serve.stderr)
        // The incident's run is the rule's one run; the incident started none of its own.
        let journals = try FileManager.default.contentsOfDirectory(atPath: lib.state + "/runs").filter { $0.hasSuffix(".jsonl") }
        XCTAssertEqual(journals, [runID + ".jsonl"])
    }

    /// The rule's resolution resolves its incident; a firing folded into another run opens none.
    func testTheRulesResolutionResolvesItsIncident() async throws {
        let lib = try await library(severities: ["SEV1"], rule: true)
        let catalog = try CatalogStage().run(root: lib.dir.path)
        let store = try FileIncidentStore(stateDirectory: lib.state)
        let stage = PlanStage(catalog: catalog)
        let plan = try stage.run(PlanRequest(playbook: try stage.playbook(.id("linger-001"))))
        var fired = Incident.external(rule: "fault-seen", incidentKey: "fault-seen{host=\"a\"}", metric: "fault_level", labels: ["host": "a"],
                                      severity: .sev1, playbooks: ["linger-001"], parameters: [:], at: 1_800_000_000)
        let incidents = RuleIncidents(store: store, clock: SystemClock(), logger: Logger(label: "test"))
        incidents.record(.runStarted(fired, runID: "20270115-080000-0000abcd", plan: plan))
        fired.resolvedAt = 1_800_000_400
        incidents.record(.resolved(fired))
        await incidents.finish()
        let kept = store.all().incidents
        XCTAssertEqual(kept.count, 1, "\(kept)")
        let incident = try XCTUnwrap(kept.first)
        XCTAssertEqual(incident.handling, .rule)
        XCTAssertEqual(incident.runID, "20270115-080000-0000abcd")
        XCTAssertEqual(incident.status, .resolved)
        XCTAssertEqual(incident.resolvedAt, "2027-01-15T08:06:40.000Z")
        XCTAssertEqual(incident.severity(in: catalog), .sev1)
    }
}
