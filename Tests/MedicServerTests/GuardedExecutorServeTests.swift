import Foundation
import MedicServeTestKit
import XCTest

/// The guards of `medic serve`'s executor calls, through the binary: an HTTP step against a
/// loopback receiver that keeps failing opens the breaker of its destination, a later run's step
/// is refused by it (journaled as a failed attempt, saying which guard, why and when), `/metrics`
/// shows it, the bus outbox has the transition's CloudEvent, and a SIGHUP with new limits takes
/// effect without a restart, the breaker keeping its count.
final class GuardedExecutorServeTests: XCTestCase {
    struct Workspace {
        let dir: URL
        let receiver: LoopbackReceiver
        var seeded: Set<String> = []
        var state: String { dir.appendingPathComponent("state").path }
        var configuration: URL { dir.appendingPathComponent("medic.yaml") }
        var arguments: [String] { ["--root", dir.path, "--state-dir", state, "--config", configuration.path, "--no-rules"] }
        var key: String { "http:127.0.0.1:\(receiver.port)" }

        func journals() -> [String] {
            ((try? FileManager.default.contentsOfDirectory(atPath: state + "/runs")) ?? [])
                .filter { $0.hasSuffix(".jsonl") && !seeded.contains($0) }.sorted()
        }

        func records(_ journal: String) -> [[String: Any]] {
            let text = (try? String(contentsOfFile: state + "/runs/" + journal, encoding: .utf8)) ?? ""
            return text.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        }

        /// The summaries of the step's attempts in `journal`.
        func attempts(_ journal: String) -> [String] {
            records(journal).filter { $0["event"] as? String == "step_finished" }
                .compactMap { ($0["result"] as? [String: Any])?["summary"] as? String }
        }

        func finished(_ journal: String) -> Bool { records(journal).contains { $0["event"] as? String == "run_finished" } }

        func configure(failureThreshold: Int) throws {
            try """
                routes:
                  - match: {alertname: ApiDown}
                    playbook: call-api-001
                resilience:
                  http: {failure_threshold: \(failureThreshold), reset_timeout: 1h}
                """.write(to: configuration, atomically: true, encoding: .utf8)
        }
    }

    func workspace() async throws -> Workspace {
        let receiver = try await LoopbackReceiver(self)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("medic-guards-\(UUID().uuidString)")
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        for folder in ["actions", "playbooks"] {
            try FileManager.default.createDirectory(at: dir.appendingPathComponent(folder), withIntermediateDirectories: true)
        }
        try """
            actions:
              call_api:
                type: infrastructure
                executor: http
                risk_level: low
                parameters: {}
                request:
                  method: POST
                  url: \(receiver.url)/api
                  expect_status: [202]
                timeout: 30s
            """.write(to: dir.appendingPathComponent("actions/api.yaml"), atomically: true, encoding: .utf8)
        try """
            playbook_id: call-api-001
            name: Call the API
            version: 1.0.0
            category: infrastructure
            severity: SEV3
            remediation_steps:
              - {step: 1, name: call, action: call_api, retry: {attempts: 2, backoff: linear, initial: 100ms}}
            metadata: {}
            """.write(to: dir.appendingPathComponent("playbooks/api.yaml"), atomically: true, encoding: .utf8)
        var ws = Workspace(dir: dir, receiver: receiver)
        try ws.configure(failureThreshold: 5)
        // A run by hand that succeeded: an automated run of a playbook never seen succeed is held for approval.
        let (status, stderr) = try MedicCommand.status(["run", "call-api-001", "--root", dir.path, "--state-dir", ws.state], in: dir)
        XCTAssertEqual(status, 0, stderr)
        ws.seeded = Set(ws.journals())
        XCTAssertEqual(ws.seeded.count, 1)
        XCTAssertEqual(receiver.deliveries.count, 1)
        return ws
    }

    /// Fires an alert and waits for the run it starts to finish: its journal.
    func alert(_ serve: ServeProcess, _ ws: Workspace, fingerprint: String, runs: Int, token: String? = nil) async throws -> String {
        let before = Set(ws.journals())
        // A group of its own: an alert of a group whose lead still fires would fold into the lead's run.
        var payload = try XCTUnwrap(try JSONSerialization.jsonObject(with: ServeTests.post(labels: ["alertname": "ApiDown", "severity": "SEV3"],
                                                                                          fingerprint: fingerprint)) as? [String: Any])
        payload["groupKey"] = "{}:{fingerprint=\"\(fingerprint)\"}"
        let answer = try await serve.post("/api/v1/alerts", body: try JSONSerialization.data(withJSONObject: payload), token: token)
        XCTAssertEqual(answer.status, 200, answer.body)
        return try await ServeProcess.poll("run \(runs) to finish (stderr: \(serve.stderr))") {
            let journals = ws.journals()
            guard journals.count == runs, let new = journals.first(where: { !before.contains($0) }), ws.finished(new) else { return nil }
            return new
        }
    }

    func metric(_ serve: ServeProcess, _ name: String, _ labels: [String]) async throws -> Double? {
        let text = try await serve.get("/metrics").body
        let line = text.split(separator: "\n").first { line in line.hasPrefix(name + "{") && labels.allSatisfy { line.contains($0) } }
        return line.flatMap { Double($0.split(separator: " ").last ?? "") }
    }

    func testAFailingHTTPDestinationOpensItsBreakerTheNextRunIsRefusedAndAReloadChangesTheLimits() async throws {
        let ws = try await workspace()
        ws.receiver.failing = 1_000_000
        let serve = try await ServeProcess(self, in: ws.dir, arguments: ws.arguments)
        let key = ws.key

        // Run 1: both attempts reach the receiver and fail; 2 failures are under the threshold of 5.
        let first = try await alert(serve, ws, fingerprint: "guard-1", runs: 1)
        XCTAssertEqual(ws.attempts(first).count, 2, "\(ws.records(first))")
        XCTAssertEqual(ws.receiver.deliveries.count, 3)
        let closed = try await metric(serve, "medic_guard_breaker_state", ["key=\"\(key)\"", "state=\"closed\""])
        XCTAssertEqual(closed, 1)
        let failures = try await metric(serve, "medic_guard_failures_total", ["key=\"\(key)\""])
        XCTAssertEqual(failures, 2)

        // A threshold of 2, put in force by SIGHUP: the breaker kept its count of 2 failures.
        try ws.configure(failureThreshold: 2)
        kill(serve.process.processIdentifier, SIGHUP)
        _ = try await ServeProcess.poll("the reload (stderr: \(serve.stderr))") { serve.stderr.contains("reloaded:") ? true : nil }

        // Run 2: its first attempt fails (3 in a row: the breaker opens), its second is refused.
        let second = try await alert(serve, ws, fingerprint: "guard-2", runs: 2)
        XCTAssertEqual(ws.receiver.deliveries.count, 4, "the second attempt was not sent")
        let secondAttempts = ws.attempts(second)
        XCTAssertEqual(secondAttempts.count, 2, "\(secondAttempts)")
        XCTAssertTrue(secondAttempts[1].contains("refused by the guard \(key): its circuit breaker is open after 3 failures in a row"),
                      secondAttempts[1])
        XCTAssertTrue(secondAttempts[1].contains("it lets a trial call through at "), secondAttempts[1])

        // Run 3: refused at every attempt, nothing sent; the run failed, journaled, not skipped.
        let third = try await alert(serve, ws, fingerprint: "guard-3", runs: 3)
        XCTAssertEqual(ws.receiver.deliveries.count, 4)
        XCTAssertEqual(ws.attempts(third).filter { $0.contains("refused by the guard \(key)") }.count, 2, "\(ws.attempts(third))")
        let outcome = ws.records(third).first { $0["event"] as? String == "run_finished" }?["outcome"] as? String
        XCTAssertEqual(outcome, "failed")

        let open = try await metric(serve, "medic_guard_breaker_state", ["key=\"\(key)\"", "state=\"open\""])
        XCTAssertEqual(open, 1)
        let refused = try await metric(serve, "medic_guard_rejections_total", ["key=\"\(key)\"", "by=\"breaker\""])
        XCTAssertEqual(refused, 3)

        // The transition on the bus: one CloudEvent in the outbox.
        let outbox = (try? String(contentsOfFile: ws.state + "/outbox.jsonl", encoding: .utf8)) ?? ""
        let events = outbox.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
            .filter { $0["type"] as? String == "dev.medic.guard.opened" }
        XCTAssertEqual(events.count, 1, outbox)
        XCTAssertEqual(events.first?["subject"] as? String, key)
        XCTAssertEqual(events.first?["source"] as? String, "medic/guards")
        XCTAssertEqual((events.first?["data"] as? [String: Any])?["reason"] as? String, "3 failures in a row")
        let status = try await serve.stop()
        XCTAssertEqual(status, 0, serve.stderr)
    }
}
