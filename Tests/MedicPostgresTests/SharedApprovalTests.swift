import Foundation
import MedicEngine
import MedicPostgres
import MedicServeTestKit
import XCTest

/// Approvals across servers sharing a database: who requested a run is known to every server,
/// so the rule "the requester of a run cannot approve it alone" holds whichever one an approval
/// reaches.
final class SharedApprovalTests: PostgresTestCase {
    func testTheRequesterOfARunOnOneServerCannotApproveItOnAnother() async throws {
        let (database, address) = try await sharedDatabase()
        let workspace = try await SharedServeWorkspace(self, address: address, database: database)
        try """
            playbook_id: approve-001
            name: approve-001
            version: 1.0.0
            category: infrastructure
            severity: SEV3
            targets: [web-01]
            safety: {require_approval: true}
            remediation_steps:
              - {step: 1, name: note-1, action: note, parameters: {message: approved}}
            metadata: {}
            """.write(to: workspace.dir.appendingPathComponent("playbooks/approve.yaml"), atomically: true, encoding: .utf8)
        let tokens = workspace.dir.appendingPathComponent("tokens.jsonl").path
        func token(_ name: String, _ roles: [String]) throws -> String {
            let made = try MedicBinary.run(["token", "create", name, "--tokens", tokens] + roles.flatMap { ["--role", $0] })
            XCTAssertEqual(made.status, 0, made.stderr)
            return made.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        let alice = try token("alice", ["operator", "approver"])
        let bob = try token("bob", ["approver"])
        let a = try await workspace.serve(self, "requests", extra: ["--tokens", tokens])
        let b = try await workspace.serve(self, "approves", extra: ["--tokens", tokens])

        let requested = try await a.post("/api/v1/runs", body: Data(#"{"playbook": "approve-001"}"#.utf8), token: alice)
        XCTAssertEqual(requested.status, 202, requested.body)
        let runID = try XCTUnwrap(requested.json["run"] as? String, requested.body)
        let reader = PostgresRunStore(database, owner: "reader")
        _ = try await ServeProcess.poll("run \(runID) waiting for approval") { () async throws -> Bool? in
            try await reader.summaries().first { $0.id == runID }?.status == .pendingApproval ? true : nil
        }
        let own = try await b.post("/api/v1/runs/\(runID)/approve", body: Data(#"{"reason": "mine"}"#.utf8), token: alice)
        XCTAssertEqual(own.status, 403, "alice requested the run on the other server: \(own.body)")
        let recordsAfterRefusal = try await reader.records(of: runID)
        XCTAssertFalse(recordsAfterRefusal.contains { $0.event == .approvalGiven })
        let other = try await b.post("/api/v1/runs/\(runID)/approve", body: Data(#"{"reason": "checked"}"#.utf8), token: bob)
        XCTAssertEqual(other.status, 200, other.body)
        let finished = try await ServeProcess.poll("run \(runID) finished") { () async throws -> RunSummary? in
            try await reader.summaries().first { $0.id == runID && $0.status == .finished }
        }
        XCTAssertEqual(finished.outcome, .succeeded)
        XCTAssertEqual(workspace.effectLines, ["approved web-01"])
    }
}
