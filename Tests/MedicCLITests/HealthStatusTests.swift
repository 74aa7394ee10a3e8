import Foundation
import MedicTestSupport
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// `medic status` and `medic degrade` through the binary (docs/health.md): real TCP ports and
/// real commands, the snapshot kept in the state directory, changes on the bus once, and the
/// degradation level at the severity_policy gate.
final class HealthStatusTests: XCTestCase {
    /// A TCP socket on 127.0.0.1 listening on a port the system chose, closed when the test ends;
    /// with `listening` false, the port is closed again at once (nothing answers on it).
    private func loopbackPort(listening: Bool) throws -> Int32 {
        let (fd, bound) = try LocalPostgres.boundLoopbackSocket()
        XCTAssertEqual(listen(fd, 8), 0)
        let port = Int32(bound)
        if listening { addTeardownBlock { close(fd) } } else { close(fd) }
        return port
    }

    private func events(_ state: URL) -> [[String: Any]] {
        ((try? String(contentsOf: state.appendingPathComponent("outbox.jsonl"), encoding: .utf8)) ?? "").split(separator: "\n")
            .compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
    }

    func testStatusRunsTCPAndCommandChecksAndSaysEachChangeOnce() throws {
        let dir = try Medic.temporaryDirectory(self)
        let open = try loopbackPort(listening: true), closed = try loopbackPort(listening: false)
        let checks = dir.appendingPathComponent("health-checks.yaml")
        try """
            component: api
            shallow_checks:
              port_open: {host: 127.0.0.1, port: \(open), timeout: 5s}
              command_ok: {command: "true", timeout: 10s}
            deep_checks:
              port_closed: {host: 127.0.0.1, port: \(closed), timeout: 5s, component: cache}
              command_fails: {command: "echo boom >&2; exit 3", timeout: 10s, component: worker, retry: 0}
            comprehensive_checks:
              signup_flow:
                steps: [create_test_user, login]
            """.write(to: checks, atomically: true, encoding: .utf8)
        let state = dir.appendingPathComponent("state")
        let run = try Medic.run(["status", "--checks", checks.path, "--state-dir", state.path, "--json"], in: dir)
        XCTAssertEqual(run.status, 1, "two components are not healthy: \(run.stderr)")
        let json = try Medic.json(run.stdout)
        let components = try XCTUnwrap(json["components"] as? [[String: Any]])
        XCTAssertEqual(components.map { $0["component"] as? String }, ["api", "cache", "worker"])
        XCTAssertEqual(components.map { $0["state"] as? String }, ["HEALTHY", "UNHEALTHY", "UNHEALTHY"])
        let results = Dictionary(uniqueKeysWithValues: try XCTUnwrap(json["checks"] as? [[String: Any]]).map { ($0["name"] as? String ?? "", $0) })
        XCTAssertEqual(results["port_open"]?["passed"] as? Bool, true, "\(results)")
        XCTAssertEqual(results["command_ok"]?["passed"] as? Bool, true, "\(results)")
        XCTAssertEqual(results["port_closed"]?["passed"] as? Bool, false)
        XCTAssertEqual(results["port_closed"]?["attempts"] as? Int, 3, "a deep check is retried twice")
        XCTAssertTrue((results["port_closed"]?["detail"] as? String ?? "").contains("refused"), "\(results["port_closed"] ?? [:])")
        XCTAssertEqual(results["command_fails"]?["attempts"] as? Int, 1, "retry: 0")
        let detail = results["command_fails"]?["detail"] as? String ?? ""
        XCTAssertTrue(detail.contains("exit 3") && detail.contains("boom"), detail)
        XCTAssertEqual((json["not_run"] as? [[String: Any]])?.first?["name"] as? String, "signup_flow")
        XCTAssertEqual(json["score"] as? Int, 33, "2 shallow passes of 1 + 1 + 2 + 2")
        let levels = (json["degradation"] as? [[String: Any]])?.map { "\($0["system"] ?? "")=\($0["level"] ?? "")" }
        XCTAssertEqual(levels, ["api=full", "cache=minimal", "worker=minimal"])

        let types = events(state).compactMap { $0["type"] as? String }
        XCTAssertEqual(types.filter { $0 == "dev.medic.health.check_failed" }.count, 2, "\(types)")
        XCTAssertEqual(types.filter { $0 == "dev.medic.health.state_changed" }.count, 2, "\(types)")
        XCTAssertEqual(types.filter { $0 == "dev.medic.degradation.changed" }.count, 2, "\(types)")

        let again = try Medic.run(["status", "--checks", checks.path, "--state-dir", state.path], in: dir)
        XCTAssertEqual(again.status, 1, again.stderr)
        XCTAssertEqual(events(state).count, types.count, "nothing changed: nothing published again")
        XCTAssertTrue(again.stdout.contains("not run: signup_flow (comprehensive, api)"), again.stdout)

        let saved = try Medic.run(["status", "--state-dir", state.path], in: dir)
        XCTAssertEqual(saved.status, 1, saved.stderr)
        XCTAssertTrue(saved.stdout.split(separator: "\n").contains { $0.hasPrefix("cache") && $0.contains("UNHEALTHY") }, saved.stdout)
        XCTAssertTrue(saved.stdout.contains("automated_remediation_noncritical OFF"), saved.stdout)

        // An override set since the round shows at once, beside the levels health set.
        let held = try Medic.run(["degrade", "set", "emergency", "--system", "api", "--by", "ops", "--state-dir", state.path], in: dir)
        XCTAssertEqual(held.status, 0, held.stderr)
        let now = try Medic.json(try Medic.run(["status", "--state-dir", state.path, "--json"], in: dir).stdout)
        XCTAssertEqual((now["degradation"] as? [[String: Any]])?.map { "\($0["system"] ?? "")=\($0["level"] ?? "")/\($0["source"] ?? "")" },
                       ["api=emergency/override", "cache=minimal/health", "worker=minimal/health"])
        XCTAssertEqual((now["features"] as? [[String: Any]])?.first { $0["name"] as? String == "automated_remediation" }?["on"] as? Bool, false)
    }

    func testABadChecksFileIsRefusedLocatedAndNothingIsWritten() throws {
        let dir = try Medic.temporaryDirectory(self)
        let checks = dir.appendingPathComponent("checks.yaml")
        try "shallow_checks:\n  port:\n    port: 70000\n".write(to: checks, atomically: true, encoding: .utf8)
        let run = try Medic.run(["status", "--checks", checks.path, "--state-dir", dir.appendingPathComponent("state").path], in: dir)
        XCTAssertEqual(run.status, 1)
        XCTAssertTrue(run.stderr.contains("checks.yaml:3:") && run.stderr.contains("M206"), run.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir.appendingPathComponent("state").path))
        let none = try Medic.run(["status", "--state-dir", dir.appendingPathComponent("state").path], in: dir)
        XCTAssertEqual(none.status, 1)
        XCTAssertTrue(none.stderr.contains("no health check has run"), none.stderr)
    }

    private func library(_ dir: URL) throws {
        for folder in ["actions", "playbooks"] {
            try FileManager.default.createDirectory(at: dir.appendingPathComponent(folder), withIntermediateDirectories: true)
        }
        try """
            actions:
              note:
                type: infrastructure
                risk_level: low
                parameters: {}
                implementation: echo noted
            """.write(to: dir.appendingPathComponent("actions/note.yaml"), atomically: true, encoding: .utf8)
        for (id, severity) in [("note-sev2-001", "SEV2"), ("note-sev0-001", "SEV0")] {
            try """
                playbook_id: \(id)
                name: \(id)
                version: 1.0.0
                category: infrastructure
                severity: \(severity)
                targets: [web-01]
                remediation_steps:
                  - {step: 1, name: note, action: note}
                metadata: {}
                """.write(to: dir.appendingPathComponent("playbooks/\(id).yaml"), atomically: true, encoding: .utf8)
        }
    }

    private func severityVerdict(_ playbook: String, mode: String, dir: URL, state: URL) throws -> [String: Any] {
        let plan = try Medic.run(["plan", playbook, "--root", dir.path, "--state-dir", state.path, "--mode", mode, "--json"], in: dir)
        let gates = try XCTUnwrap(try Medic.json(plan.stdout)["gates"] as? [[String: Any]], plan.stdout + plan.stderr)
        return try XCTUnwrap(gates.first { $0["gate"] as? String == "severity_policy" })
    }

    /// At `minimal` (here set by hand) automated runs of non-critical severities are stopped at
    /// the gate stage, saying why; a critical one and a person's run go on; clearing restores.
    func testAManualDegradationLevelStopsAutomatedNonCriticalRunsAtTheGate() throws {
        let dir = try Medic.temporaryDirectory(self)
        try library(dir)
        let state = dir.appendingPathComponent("state")
        XCTAssertEqual(try severityVerdict("note-sev2-001", mode: "automated", dir: dir, state: state)["decision"] as? String, "pass")

        let set = try Medic.run(["degrade", "set", "minimal", "--by", "ops", "--reason", "drill", "--state-dir", state.path], in: dir)
        XCTAssertEqual(set.status, 0, set.stderr)
        XCTAssertEqual(events(state).last?["type"] as? String, "dev.medic.degradation.override")
        XCTAssertEqual((events(state).last?["data"] as? [String: String])?["level"], "minimal")

        let stopped = try severityVerdict("note-sev2-001", mode: "automated", dir: dir, state: state)
        XCTAssertEqual(stopped["decision"] as? String, "refuse")
        let reason = stopped["reason"] as? String ?? ""
        XCTAssertTrue(reason.contains("degradation level minimal") && reason.contains("set by ops: drill")
                      && reason.contains("automated remediation of SEV2 is suspended"), reason)
        XCTAssertEqual(try severityVerdict("note-sev0-001", mode: "automated", dir: dir, state: state)["decision"] as? String, "pass")
        XCTAssertEqual(try severityVerdict("note-sev2-001", mode: "manual", dir: dir, state: state)["decision"] as? String, "pass")

        let emergency = try Medic.run(["degrade", "set", "emergency", "--by", "ops", "--state-dir", state.path], in: dir)
        XCTAssertEqual(emergency.status, 0, emergency.stderr)
        let none = try severityVerdict("note-sev0-001", mode: "automated", dir: dir, state: state)
        XCTAssertEqual(none["decision"] as? String, "refuse")
        XCTAssertTrue((none["reason"] as? String ?? "").contains("automated remediation is suspended"), "\(none)")

        let clear = try Medic.run(["degrade", "clear", "--by", "ops", "--state-dir", state.path], in: dir)
        XCTAssertEqual(clear.status, 0, clear.stderr)
        XCTAssertEqual(try severityVerdict("note-sev2-001", mode: "automated", dir: dir, state: state)["decision"] as? String, "pass")

        let bad = try Medic.run(["degrade", "set", "sometimes", "--by", "ops", "--state-dir", state.path], in: dir)
        XCTAssertEqual(bad.status, 2)
        XCTAssertTrue(bad.stderr.contains("full, reduced, minimal, emergency"), bad.stderr)
    }
}
