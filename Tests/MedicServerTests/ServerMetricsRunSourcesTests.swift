import Foundation
import MedicServeTestKit
import XCTest

/// `/metrics` counts every run the server carries out, whatever started it (an alert, an
/// anomaly rule, a request over the REST API, an approval given over it), and each escalation
/// level sent, by level and channel.
final class ServerMetricsRunSourcesTests: XCTestCase {
    /// Polls `/metrics` (bounded) until the sample `name` with `labels` reaches `value`; returns the samples.
    static func scrape(_ serve: ServeProcess, until name: String, _ labels: [String: String], reaches value: Double,
                       token: String? = nil) async throws -> [ServerMetricsTests.Sample] {
        let deadline = Date().addingTimeInterval(60)
        var samples: [ServerMetricsTests.Sample] = []
        while (ServerMetricsTests.value(samples, name, labels) ?? 0) < value {
            guard Date() < deadline else {
                XCTFail("\(name)\(labels) did not reach \(value) in 60 s: \(samples.filter { $0.name == name }) (stderr: \(serve.stderr))")
                return samples
            }
            try await Task.sleep(nanoseconds: 50_000_000)
            samples = ServerMetricsTests.parse(try await serve.call(.GET, "/metrics", token: token).body).samples
        }
        return samples
    }

    func testRunsRequestedAndApprovedOverTheAPIAreCounted() async throws {
        let ws = try APIWorkspace(self)
        let otto = try ws.token("otto", "operator")
        let bob = try ws.token("bob", "approver")
        let vic = try ws.token("vic", "viewer")
        let serve = try await ServeProcess(self, in: ws.dir, arguments: ws.arguments + ["--tokens", ws.tokensFile])

        let plain = try await serve.call(.POST, "/api/v1/runs", token: otto, json: ["playbook": "plain-001"])
        XCTAssertEqual(plain.status, 202, plain.body)
        let counted = try await Self.scrape(serve, until: "medic_runs_total", ["playbook": "plain-001", "outcome": "succeeded"], reaches: 1, token: vic)
        XCTAssertEqual(ServerMetricsTests.value(counted, "medic_step_duration_seconds_count", ["playbook": "plain-001", "phase": "step", "result": "succeeded"]), 1)

        let requested = try await serve.call(.POST, "/api/v1/runs", token: otto, json: ["playbook": "approve-001"])
        let run = try XCTUnwrap(requested.json["run"] as? String, requested.body)
        _ = try await ServeProcess.poll("the requested run to wait for approval") { () -> Bool? in
            ws.journal(run).contains { $0["event"] as? String == "approval_requested" } ? true : nil
        }
        let approved = try await serve.call(.POST, "/api/v1/runs/\(run)/approve", token: bob, json: ["reason": "checked"])
        XCTAssertEqual(approved.status, 200, approved.body)
        let after = try await Self.scrape(serve, until: "medic_runs_total", ["playbook": "approve-001", "outcome": "succeeded"], reaches: 1, token: vic)
        XCTAssertEqual(ServerMetricsTests.value(after, "medic_runs_total", ["playbook": "approve-001", "outcome": "succeeded"]), 1)
        XCTAssertEqual(ServerMetricsTests.value(after, "medic_runs_total", ["playbook": "plain-001", "outcome": "succeeded"]), 1, "each run once")
    }
}

extension ServeRulesTests {
    func testARunStartedByAnAnomalyRuleIsCountedInMetrics() async throws {
        let ws = try workspace(faultLevel: 1)
        let serve = try await ServeProcess(self, in: ws.dir, arguments: arguments(ws))
        let ruleRun = try await ServeProcess.poll("the rule's run (stderr: \(serve.stderr))") { ws.journals.first?.replacingOccurrences(of: ".jsonl", with: "") }
        try setFault(0, in: ws.dir)
        XCTAssertTrue(FileManager.default.createFile(atPath: ws.dir.appendingPathComponent("release").path, contents: nil))
        _ = try await ServeProcess.poll("run \(ruleRun) to finish (stderr: \(serve.stderr))") { ws.finished(ruleRun) }
        let samples = try await ServerMetricsRunSourcesTests.scrape(serve, until: "medic_runs_total", ["playbook": "linger-001", "outcome": "succeeded"], reaches: 1)
        XCTAssertGreaterThanOrEqual(ServerMetricsTests.value(samples, "medic_time_to_detect_seconds_count", ["playbook": "linger-001"]) ?? 0, 1,
                                    "a rule's run comes from a detection")
    }
}

extension EscalationTests {
    func testEachEscalationLevelSentIsCountedByLevelAndChannel() async throws {
        let lib = try await library()
        let serve = try await ServeProcess(self, in: lib.dir, arguments: lib.arguments)
        let before = ServerMetricsTests.parse(try await serve.call(.GET, "/metrics", token: lib.token).body).samples
        XCTAssertNil(ServerMetricsTests.value(before, "medic_escalations_total", ["level": "1", "method": "webhook"]), "nothing sent yet")
        let key = try await open(serve, lib, severity: "SEV1", fingerprint: "count1")
        _ = try await lib.receiver.wait(for: 1, at: "/hook")
        _ = try await ServeProcess.poll("level 1 marked sent: \(lib.record(key))") { lib.levelState(key, 1) == "sent" ? true : nil }
        let samples = try await ServerMetricsRunSourcesTests.scrape(serve, until: "medic_escalations_total", ["level": "1", "method": "webhook"],
                                                                     reaches: 1, token: lib.token)
        XCTAssertEqual(ServerMetricsTests.value(samples, "medic_escalations_total", ["level": "1", "method": "webhook"]), 1)
    }
}
