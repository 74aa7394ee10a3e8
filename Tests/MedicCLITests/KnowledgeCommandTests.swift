import Foundation
import XCTest

/// `medic kb stats` through the built binary, over the incident records real `medic run`s wrote.
final class KnowledgeCommandTests: XCTestCase {
    private static let actions = """
        actions:
          ok:
            type: infrastructure
            risk_level: low
            implementation: "true"
          undoable:
            type: infrastructure
            risk_level: low
            implementation: "true"
            rollback: "true"
          fail:
            type: infrastructure
            risk_level: low
            implementation: exit 4
        """

    private static let playbooks = [
        """
        playbook_id: ok-001
        name: Works
        version: 1.0.0
        category: infrastructure
        severity: SEV3
        remediation_steps:
          - {step: 1, name: fine, action: ok}
        metadata: {}
        """,
        """
        playbook_id: fail-001
        name: Fails
        version: 1.0.0
        category: infrastructure
        severity: SEV3
        remediation_steps:
          - {step: 1, name: burn, action: fail, on_failure: abort}
        metadata: {}
        """,
        """
        playbook_id: undo-001
        name: Undone
        version: 2.0.0
        category: infrastructure
        severity: SEV3
        remediation_steps:
          - {step: 1, name: change, action: undoable}
          - {step: 2, name: burn, action: fail, on_failure: rollback}
        rollback: {available: true}
        metadata: {}
        """,
    ]

    private func workspace() throws -> URL {
        let dir = try Medic.temporaryDirectory(self)
        for folder in ["actions", "playbooks"] {
            try FileManager.default.createDirectory(at: dir.appendingPathComponent(folder), withIntermediateDirectories: true)
        }
        try Self.actions.write(to: dir.appendingPathComponent("actions/a.yaml"), atomically: true, encoding: .utf8)
        for (index, playbook) in Self.playbooks.enumerated() {
            try playbook.write(to: dir.appendingPathComponent("playbooks/p\(index).yaml"), atomically: true, encoding: .utf8)
        }
        return dir
    }

    private func run(_ playbook: String, in dir: URL) throws -> MedicRun {
        try Medic.run(["run", playbook, "--root", dir.path, "--state-dir", dir.appendingPathComponent("state").path], in: dir)
    }

    private func stats(_ dir: URL, _ extra: [String] = []) throws -> MedicRun {
        try Medic.run(["kb", "stats", "--state-dir", dir.appendingPathComponent("state").path] + extra, in: dir)
    }

    func testStatsCountEveryRunsOutcomeByPlaybookAndOverall() throws {
        let dir = try workspace()
        for (playbook, status) in [("ok-001", 0), ("ok-001", 0), ("fail-001", 1), ("undo-001", 1)] as [(String, Int32)] {
            let result = try run(playbook, in: dir)
            XCTAssertEqual(result.status, status, playbook + ": " + result.stderr)
        }
        let result = try stats(dir, ["--json", "--since", "1h"])
        XCTAssertEqual(result.status, 0, result.stderr)
        let json = try Medic.json(result.stdout)
        let kpis = try XCTUnwrap(json["kpis"] as? [String: Any])
        // 4 manual runs, none refused: 2 succeeded (ok-001 twice), 1 failed, 1 rolled back.
        XCTAssertEqual(kpis["incidents"] as? Int, 4)
        XCTAssertEqual(kpis["attempted"] as? Int, 4)
        XCTAssertEqual(kpis["remediation_accuracy"] as? Double, 0.5)        // 2 succeeded / 4 attempted
        XCTAssertEqual(kpis["rollback_rate"] as? Double, 0.25)              // 1 rolled back / 4 attempted
        XCTAssertEqual(kpis["automation_rate"] as? Double, 0)               // 0 automated / 4 incidents
        XCTAssertEqual(kpis["auto_remediation_success_rate"] as? Double, 0) // 0 automated and succeeded / 4
        XCTAssertEqual(kpis["manual_intervention_rate"] as? Double, 0)      // none escalated, asked approval, or refused
        XCTAssertTrue(kpis["mttd"] is NSNull, "no run was detected by a rule")
        XCTAssertTrue(kpis["false_positive_rate"] is NSNull, "no detected incident")
        let mttr = try XCTUnwrap(kpis["mttr"] as? Double, "the two successes were resolved")
        XCTAssertTrue(mttr >= 0 && mttr < 30, "\(mttr)")

        let playbooks = try XCTUnwrap(json["playbooks"] as? [[String: Any]])
        XCTAssertEqual(playbooks.compactMap { $0["playbook_id"] as? String }, ["fail-001", "ok-001", "undo-001"])
        func book(_ id: String) throws -> [String: Any] { try XCTUnwrap(playbooks.first { $0["playbook_id"] as? String == id }) }
        XCTAssertEqual(try book("ok-001")["runs"] as? Int, 2)
        XCTAssertEqual(try book("ok-001")["successes"] as? Int, 2)
        XCTAssertEqual(try book("ok-001")["success_rate"] as? Double, 1)      // 2 / 2
        XCTAssertEqual(try book("fail-001")["runs"] as? Int, 1)
        XCTAssertEqual(try book("fail-001")["successes"] as? Int, 0)
        XCTAssertEqual(try book("fail-001")["success_rate"] as? Double, 0)    // 0 / 1
        XCTAssertEqual(try book("fail-001")["rollback_rate"] as? Double, 0)   // aborted, nothing undone
        XCTAssertEqual(try book("undo-001")["rollback_rate"] as? Double, 1)   // 1 rolled back / 1
        let steps = try XCTUnwrap(try book("undo-001")["steps"] as? [[String: Any]])
        XCTAssertEqual(steps.map { $0["name"] as? String }, ["change", "burn"])
        XCTAssertEqual(steps.map { $0["success_rate"] as? Double }, [1, 0])    // change 1/1, burn 0/1
        XCTAssertNotNil(try book("ok-001")["p95_execution_time"] as? Double)

        let text = try stats(dir)
        XCTAssertEqual(text.status, 0, text.stderr)
        XCTAssertTrue(text.stdout.contains("Incidents: 4 (4 attempted)"), text.stdout)
        XCTAssertTrue(text.stdout.contains("remediation accuracy"), text.stdout)
        XCTAssertTrue(text.stdout.contains("50.0%"), text.stdout)
        for id in ["ok-001", "fail-001", "undo-001", "step 2 burn"] { XCTAssertTrue(text.stdout.contains(id), id) }
    }

    func testStatsWithoutAnyRunAreEmptyAndABadSinceIsAUsageError() throws {
        let dir = try workspace()
        let result = try stats(dir, ["--json"])
        XCTAssertEqual(result.status, 0, result.stderr)
        let json = try Medic.json(result.stdout)
        XCTAssertEqual((json["kpis"] as? [String: Any])?["incidents"] as? Int, 0)
        XCTAssertTrue((json["kpis"] as? [String: Any])?["remediation_accuracy"] is NSNull)
        XCTAssertEqual((json["playbooks"] as? [Any])?.count, 0)
        XCTAssertEqual(try stats(dir, ["--since", "soon"]).status, 2)
    }
}
