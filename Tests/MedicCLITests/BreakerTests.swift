import Foundation
import XCTest

/// The remediation circuit breaker through the binary: three failed runs open it, the next run
/// is refused by the `breaker` gate before any step, `medic breaker list` shows it, and
/// `medic breaker reset` closes it (recorded in the audit log). No step of the test waits on the
/// wall clock: the cooldown (1 h) never elapses here.
final class BreakerTests: XCTestCase {
    private static let actions = """
        actions:
          check_flag:
            type: infrastructure
            risk_level: low
            parameters: {flag: required}
            implementation: test -e "${flag}"
        """

    private static let playbook = """
        playbook_id: flaky-001
        name: flaky
        version: 1.0.0
        category: infrastructure
        severity: SEV2
        parameters:
          flag: {type: string, required: true}
        targets: [web-01]
        remediation_steps:
          - {step: 1, name: check, action: check_flag}
        metadata: {}
        """

    private struct Workspace {
        var dir: URL
        var state: String { dir.appendingPathComponent("state").path }
        var flag: String { dir.appendingPathComponent("flag").path }

        func run() throws -> MedicRun {
            try Medic.run(["run", "flaky-001", "--root", dir.path, "--state-dir", state, "--param", "flag=\(flag)", "--json"], in: dir)
        }

        func medic(_ arguments: [String]) throws -> MedicRun { try Medic.run(arguments + ["--state-dir", state], in: dir) }

        /// The run's outcome, the gate verdict that stopped it (if any), and whether a step started.
        func inspect(_ result: MedicRun) throws -> (String?, [String: Any]?, Bool) {
            let report = try Medic.json(result.stdout)
            let journal = try XCTUnwrap(report["journal"] as? String)
            let records = try RunEvidence.lines(journal)
            let blocking = try RunEvidence.gates(records).first { $0["decision"] as? String != "pass" }
            return (report["outcome"] as? String, blocking, records.contains { $0["event"] as? String == "step_started" && $0["phase"] as? String == "step" })
        }
    }

    private func workspace() throws -> Workspace {
        let dir = try Medic.temporaryDirectory(self)
        for folder in ["actions", "playbooks"] {
            try FileManager.default.createDirectory(at: dir.appendingPathComponent(folder), withIntermediateDirectories: true)
        }
        try Self.actions.write(to: dir.appendingPathComponent("actions/a.yaml"), atomically: true, encoding: .utf8)
        try Self.playbook.write(to: dir.appendingPathComponent("playbooks/p.yaml"), atomically: true, encoding: .utf8)
        return Workspace(dir: dir)
    }

    func testThreeFailuresOpenTheBreakerAndAResetClosesIt() throws {
        let ws = try workspace()
        for attempt in 1...3 {
            let failed = try ws.run()
            XCTAssertEqual(failed.status, 1, failed.stdout + failed.stderr)
            let (outcome, blocking, started) = try ws.inspect(failed)
            XCTAssertEqual(outcome, "failed", "run \(attempt)")
            XCTAssertNil(blocking, "run \(attempt) passes every gate")
            XCTAssertTrue(started)
        }

        let refused = try ws.run()
        XCTAssertEqual(refused.status, 1)
        let (outcome, blocking, started) = try ws.inspect(refused)
        XCTAssertEqual(outcome, "refused")
        XCTAssertEqual(blocking?["gate"] as? String, "breaker")
        let reason = blocking?["reason"] as? String ?? ""
        XCTAssertTrue(reason.contains("3 consecutive failures: runs "), reason)
        XCTAssertTrue(reason.contains("half-opens at "), reason)
        XCTAssertTrue(reason.contains("medic breaker reset flaky-001 --by NAME"), reason)
        XCTAssertFalse(started, "no step started")
        // Operators were alerted on the bus, naming the breaker.
        let runID = try XCTUnwrap(try Medic.json(refused.stdout)["run_id"] as? String)
        let events = try RunEvidence.refusals(inState: ws.state, runID: runID)
        XCTAssertEqual(events.map { $0["gate"] as? String }, ["breaker"])
        XCTAssertEqual(events.first?["decision"] as? String, "refuse")
        XCTAssertEqual(events.first?["playbook_id"] as? String, "flaky-001")
        XCTAssertEqual(events.first?["reason"] as? String, "breaker: " + reason)

        let list = try ws.medic(["breaker", "list", "--json"])
        XCTAssertEqual(list.status, 0, list.stderr)
        let breakers = try XCTUnwrap(try Medic.json(list.stdout)["breakers"] as? [[String: Any]])
        XCTAssertEqual(breakers.count, 1)
        XCTAssertEqual(breakers.first?["playbook"] as? String, "flaky-001")
        XCTAssertEqual(breakers.first?["state"] as? String, "open")
        XCTAssertEqual(breakers.first?["failures"] as? Int, 3, "the refused run does not count")
        XCTAssertEqual(breakers.first?["runs"] as? Int, 3)
        XCTAssertEqual(breakers.first?["consecutive_failures"] as? Int, 3)
        XCTAssertNotNil(breakers.first?["until"] as? String)
        let text = try ws.medic(["breaker", "list"])
        XCTAssertTrue(text.stdout.contains("flaky-001  open  3 of the last 3 runs failed, 3 in a row  until "), text.stdout)

        let reset = try ws.medic(["breaker", "reset", "flaky-001", "--by", "alice", "--reason", "flag restored"])
        XCTAssertEqual(reset.status, 0, reset.stderr)
        XCTAssertTrue(FileManager.default.createFile(atPath: ws.flag, contents: Data()))
        let next = try ws.run()
        XCTAssertEqual(next.status, 0, next.stdout)
        let (nextOutcome, nextBlocking, nextStarted) = try ws.inspect(next)
        XCTAssertEqual(nextOutcome, "succeeded")
        XCTAssertNil(nextBlocking)
        XCTAssertTrue(nextStarted)

        let after = try XCTUnwrap(try Medic.json(try ws.medic(["breaker", "list", "--json"]).stdout)["breakers"] as? [[String: Any]])
        XCTAssertEqual(after.first?["state"] as? String, "closed")
        XCTAssertEqual(after.first?["runs"] as? Int, 1, "runs before the reset no longer count")
        XCTAssertEqual(after.first?["reset_by"] as? String, "alice")
        let audit = try String(contentsOfFile: ws.state + "/audit.jsonl", encoding: .utf8)
        XCTAssertTrue(audit.contains(#""by":"alice","event":"breaker_reset","playbook":"flaky-001","reason":"flag restored""#), audit)
        XCTAssertTrue(FileManager.default.fileExists(atPath: ws.state + "/breakers.json"))
    }

    func testResetNeedsByAndListWithoutRunsSaysSo() throws {
        let ws = try workspace()
        XCTAssertEqual(try ws.medic(["breaker", "reset", "flaky-001"]).status, 2, "--by is required")
        let empty = try ws.medic(["breaker", "list"])
        XCTAssertEqual(empty.status, 0)
        XCTAssertTrue(empty.stdout.contains("No runs in the state directory."), empty.stdout)
        XCTAssertEqual(try Medic.json(try ws.medic(["breaker", "list", "--json"]).stdout)["breakers"] as? [String], [])
    }
}
