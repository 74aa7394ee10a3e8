import Foundation
import MedicEngine
import MedicPostgres
import MedicServeTestKit
import XCTest

/// Two `medic serve` sharing one PostgreSQL share their guards' breakers: a shell target whose
/// steps time out opens the breaker of server a, and server b then refuses that target's steps
/// without running them; after the reset timeout, a's trial succeeds, and b hears of the closing
/// and runs the target's steps again. The breaker's transitions are published once, by the
/// server whose breaker moved, to the database's outbox.
final class SharedGuardServeTests: PostgresTestCase {
    func testAnOpeningOnOneServerIsRefusedByTheOtherAndAClosingReachesIt() async throws {
        let database = try await databases(1)[0]
        let ws = try await SharedServeWorkspace(self, address: try server().address(database.location), database: database)
        let dir = ws.dir
        let calls = dir.appendingPathComponent("calls.log")
        let healthy = dir.appendingPathComponent("healthy")
        // Each call leaves a line; an unhealthy target hangs past the step's timeout (a failure of
        // the destination, for its breaker).
        try """
            actions:
              probe:
                type: infrastructure
                risk_level: low
                idempotent: true
                parameters: {}
                timeout: 1s
                implementation: |
                  echo "called ${target}" >> calls.log
                  if [ -f healthy ]; then exit 0; fi
                  sleep 20
            """.write(to: dir.appendingPathComponent("actions/probe.yaml"), atomically: true, encoding: .utf8)
        try """
            playbook_id: probe-001
            name: probe
            version: 1.0.0
            category: infrastructure
            severity: SEV3
            remediation_steps:
              - {step: 1, name: probe, action: probe, retry: {attempts: 2, backoff: linear, initial: 100ms}}
            metadata: {}
            """.write(to: dir.appendingPathComponent("playbooks/probe.yaml"), atomically: true, encoding: .utf8)
        try """
            routes:
              - match: {alertname: Probe}
                playbook: probe-001
                target_label: instance
            resilience:
              shell: {failure_threshold: 2, reset_timeout: 45s}
            """.write(to: dir.appendingPathComponent("medic.yaml"), atomically: true, encoding: .utf8)
        XCTAssertTrue(FileManager.default.createFile(atPath: healthy.path, contents: Data()))
        try await ws.seed("probe-001", into: database)
        try FileManager.default.removeItem(at: healthy)
        try? FileManager.default.removeItem(at: calls)
        func called() -> Int { ((try? String(contentsOf: calls, encoding: .utf8)) ?? "").split(separator: "\n").filter { $0 == "called db-1" }.count }

        let runs = PostgresRunStore(database, owner: "reader")
        func finished() async throws -> [RunSummary] {
            try await runs.summaries().filter { $0.playbookID == "probe-001" && $0.targets == ["db-1"] && $0.status == .finished }
        }
        var alerts = 0
        func alert(_ serve: ServeProcess) async throws -> RunSummary {
            let before = Set(try await finished().map(\.id))
            alerts += 1
            let fingerprint = String(format: "b%015x", alerts)
            // A group of its own: an alert of a group whose lead is known folds into the lead's run.
            var payload = try XCTUnwrap(try JSONSerialization.jsonObject(with: SharedServeWorkspace.post(
                alertname: "Probe", fingerprint: fingerprint, instance: "db-1")) as? [String: Any])
            payload["groupKey"] = "{}:{fingerprint=\"\(fingerprint)\"}"
            let answer = try await serve.post("/api/v1/alerts", body: try JSONSerialization.data(withJSONObject: payload))
            XCTAssertEqual(answer.status, 200, answer.body)
            return try await ServeProcess.poll("run \(alerts) finished (stderr: \(serve.stderr.suffix(800)))") {
                try await finished().first { !before.contains($0.id) }
            }
        }
        let key = "shell:db-1"
        func state(_ serve: ServeProcess) async throws -> String? {
            let text = try await serve.get("/metrics").body
            return text.split(separator: "\n").first { line in
                line.hasPrefix("medic_guard_breaker_state{") && line.contains("key=\"\(key)\"") && Double(line.split(separator: " ").last ?? "") == 1
            }.flatMap { line in ["closed", "open", "half_open"].first { line.contains("state=\"\($0)\"") } }
        }
        func metric(_ serve: ServeProcess, _ name: String, _ labels: [String]) async throws -> Double? {
            let text = try await serve.get("/metrics").body
            let line = text.split(separator: "\n").first { line in line.hasPrefix(name + "{") && labels.allSatisfy { line.contains($0) } }
            return line.flatMap { Double($0.split(separator: " ").last ?? "") }
        }

        let a = try await ws.serve(self, "a")
        let b = try await ws.serve(self, "b")

        // a's run: both attempts time out; the second failure opens a's breaker.
        let first = try await alert(a)
        XCTAssertEqual(first.outcome, .failed)
        XCTAssertEqual(called(), 2)
        let aState = try await state(a)
        XCTAssertEqual(aState, "open")

        // b hears of it without a call of its own, and refuses the target's steps: nothing runs.
        _ = try await ServeProcess.poll("b holds a's opening (stderr: \(b.stderr.suffix(800)))") { try await state(b) == "open" ? true : nil }
        let second = try await alert(b)
        XCTAssertEqual(second.outcome, .failed)
        XCTAssertEqual(called(), 2, "b did not run the step on the failing target")
        let refused = try await metric(b, "medic_guard_rejections_total", ["key=\"\(key)\"", "by=\"breaker\""])
        XCTAssertEqual(refused, 2, "both of b's attempts refused by its breaker")
        let bFailures = try await metric(b, "medic_guard_failures_total", ["key=\"\(key)\""])
        XCTAssertEqual(bFailures ?? 0, 0)

        // The target heals; after a's reset timeout a's trial succeeds, and b hears of the closing.
        XCTAssertTrue(FileManager.default.createFile(atPath: healthy.path, contents: Data()))
        _ = try await ServeProcess.poll("a's reset timeout to pass", seconds: 120) { try await state(a) == "half_open" ? true : nil }
        let trial = try await alert(a)
        XCTAssertEqual(trial.outcome, .succeeded)
        XCTAssertEqual(called(), 3)
        _ = try await ServeProcess.poll("b holds a's closing (stderr: \(b.stderr.suffix(800)))") { try await state(b) == "closed" ? true : nil }
        let last = try await alert(b)
        XCTAssertEqual(last.outcome, .succeeded)
        XCTAssertEqual(called(), 4, "b runs the target's steps again")

        // Each transition published once, by a, into the database's outbox; none to a's own file.
        var types: [String] = []
        let rows = try await database.client.query("SELECT event FROM medic_outbox ORDER BY id", logger: database.logger)
        for try await event in rows.decode(String.self) {
            guard let object = try JSONSerialization.jsonObject(with: Data(event.utf8)) as? [String: Any],
                  object["subject"] as? String == key, let type = object["type"] as? String else { continue }
            types.append(type)
        }
        XCTAssertEqual(types, ["dev.medic.guard.opened", "dev.medic.guard.half_opened", "dev.medic.guard.closed"])
        for name in ["a", "b"] {
            let own = (try? String(contentsOf: dir.appendingPathComponent("state-\(name)/outbox.jsonl"), encoding: .utf8)) ?? ""
            XCTAssertFalse(own.contains("dev.medic.guard."), "server \(name)'s outbox file: \(own)")
        }
        for serve in [a, b] {
            let status = try await serve.stop()
            XCTAssertEqual(status, 0, serve.stderr)
        }
    }
}
