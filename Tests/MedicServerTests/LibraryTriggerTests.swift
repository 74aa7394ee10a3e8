import Foundation
import MedicServeTestKit
import XCTest

/// The library's §5.4 `auto_escalation_triggers`, evaluated by `medic serve` over what it knows
/// of an incident (its alert's labels and annotations, its run, its age): `escalate_to_sevN`
/// raises the escalation to the new severity's policy, each trigger fires once per incident, and
/// a condition that does not hold fires nothing.
extension FoldedEscalationTests {
    static let triggers = """
        escalation_policies:
          routine:
            name: Page the team
            applies_to: [test]
            escalation_chain:
              - {level: 1, delay: 0s, notify: on_call, method: page}
              - {level: 2, delay: 1h, notify: team_lead, method: page}
          critical:
            name: Call the CTO
            applies_to: [test]
            escalation_chain:
              - {level: 1, delay: 0s, notify: cto, method: phone}
              - {level: 2, delay: 1h, notify: board, method: phone}
        auto_escalation_triggers:
          customer_impact:
            condition: customer_reports > 10 OR vip_customer_affected
            action: escalate_to_sev0
            reason: "Significant customer impact detected"
          prolonged_degradation:
            condition: time_since_detection > 1h AND state == degraded
            action: escalate_one_level
            reason: "Issue not resolved within SLA"
        """

    func record(_ lib: Library, _ key: String) -> [String: Any] { lib.escalation(key) ?? [:] }

    func testALibraryTriggerOnTheAlertsAnnotationsRaisesTheEscalationOnceAndOthersStayQuiet() async throws {
        let lib = try await library(policies: Self.triggers, rule: false, config: "escalation:\n  policies: {SEV0: critical, SEV2: routine}",
                                    methods: ["page", "phone"])
        let serve = try await ServeProcess(self, in: lib.dir, arguments: lib.arguments)
        func open(_ fingerprint: String, annotations: [String: String]) async throws -> String {
            let body = try SeverityEscalationTests.post(labels: ["alertname": "ServiceDown", "job": fingerprint, "severity": "SEV2"],
                                                        annotations: annotations, fingerprint: fingerprint)
            let answer = try await serve.post("/api/v1/alerts", body: body, token: lib.sender)
            XCTAssertEqual(answer.status, 200, answer.body)
            return try XCTUnwrap((answer.json["incidents"] as? [[String: Any]])?.first?["key"] as? String, answer.body)
        }
        // 3 customer reports: SEV2 stays SEV2, paged by `routine` (the triggers were evaluated
        // before its first level went: one pass does both).
        let quiet = try await open("0000000000000a01", annotations: ["customer_reports": "3"])
        let routine = try await lib.receiver.wait(for: 1, at: "/page")[0].json
        XCTAssertEqual(routine["incident"] as? String, quiet)
        XCTAssertEqual(routine["severity"] as? String, "SEV2")
        XCTAssertNil(record(lib, quiet)["fired"], "\(record(lib, quiet))")

        // 25 customer reports: raised to SEV0 before anything was sent, so `critical` pages at once
        // (the alert is of the first one's Alertmanager group, so folded into its run; now more
        // severe than that SEV2 incident, it is paged on its own).
        let loud = try await open("0000000000000a02", annotations: ["customer_reports": "25"])
        let calls = try? await lib.receiver.wait(for: 1, at: "/phone")
        let call = try XCTUnwrap(calls?.first?.json, "no call; record \(record(lib, loud)); stderr: \(serve.stderr)")
        XCTAssertEqual(call["incident"] as? String, loud)
        XCTAssertEqual(call["severity"] as? String, "SEV0")
        XCTAssertEqual(call["policy"] as? String, "critical")
        XCTAssertEqual(call["notify"] as? String, "cto")
        let reason = try XCTUnwrap(call["reason"] as? String, "\(call)")
        XCTAssertEqual(reason, "Significant customer impact detected (customer_impact: customer_reports > 10 OR vip_customer_affected)")
        let fired = try XCTUnwrap(record(lib, loud)["fired"] as? [[String: Any]])
        XCTAssertEqual(fired.map { $0["name"] as? String }, ["customer_impact"], "each trigger once; prolonged_degradation did not hold")
        XCTAssertEqual(record(lib, loud)["severity"] as? String, "SEV0")
        // critical's levels numbered after routine's (a claim or dedup key never names two contents).
        XCTAssertEqual((record(lib, loud)["levels"] as? [[String: Any]])?.map { $0["level"] as? Int }, [3, 4], "\(record(lib, loud))")
        XCTAssertEqual(call["level"] as? Int, 3)
        // The raised incident was never paged as SEV2: its `routine` level 1 was replaced before it went.
        XCTAssertEqual(lib.receiver.deliveries.filter { $0.path == "/page" }.map { $0.json["incident"] as? String }, [quiet])

        // SEV3 maps to no policy; with triggers in the library it gets a record all the same,
        // and the trigger raises it to SEV0's policy.
        let unmapped = try await serve.post("/api/v1/alerts", body: try SeverityEscalationTests.post(
            labels: ["alertname": "ServiceDown", "job": "0000000000000a03", "severity": "SEV3"], annotations: ["customer_reports": "40"],
            fingerprint: "0000000000000a03"), token: lib.sender)
        XCTAssertEqual(unmapped.status, 200, unmapped.body)
        let unmappedKey = try XCTUnwrap((unmapped.json["incidents"] as? [[String: Any]])?.first?["key"] as? String)
        let both = try await lib.receiver.wait(for: 2, at: "/phone")
        XCTAssertEqual(both[1].json["incident"] as? String, unmappedKey, "\(both.map { $0.json })")
        XCTAssertEqual(both[1].json["level"] as? Int, 1, "a record with no level before: critical's first is 1")

        let stopped = try await serve.stop()
        XCTAssertEqual(stopped, 0, serve.stderr)
    }
}
