import Foundation
import MedicEngine
import MedicPostgres
import MedicServeTestKit
import XCTest

/// One fault, one run across servers: an alert reaching one server for a playbook and target
/// that a run started by another server is remediating folds into that run, as it does on one
/// server, instead of starting a second remediation of the same target.
final class SharedRemediesTests: PostgresTestCase {
    func testAnAlertForARemedyGoingOnAnotherServerFoldsIntoItsRun() async throws {
        let (database, address) = try await sharedDatabase()
        let ws = try await SharedServeWorkspace(self, address: address, database: database)
        try """
            actions:
              slow:
                type: infrastructure
                risk_level: low
                idempotent: false
                parameters: {}
                implementation: |
                  echo "slow ${target}" >> effects.log
                  sleep 8
            """.write(to: ws.dir.appendingPathComponent("actions/slow.yaml"), atomically: true, encoding: .utf8)
        try """
            playbook_id: slow-001
            name: slow-001
            version: 1.0.0
            category: infrastructure
            severity: SEV3
            remediation_steps:
              - {step: 1, name: slow, action: slow}
            metadata: {}
            """.write(to: ws.dir.appendingPathComponent("playbooks/slow.yaml"), atomically: true, encoding: .utf8)
        try """
            routes:
              - match: {alertname: Slow}
                playbook: slow-001
                target_label: instance
            """.write(to: ws.dir.appendingPathComponent("medic.yaml"), atomically: true, encoding: .utf8)
        try await ws.seed("slow-001", into: database)
        try? FileManager.default.removeItem(at: ws.effects)
        let a = try await ws.serve(self, "a", lease: 2)
        let b = try await ws.serve(self, "b", lease: 2)

        let first = try await a.post("/api/v1/alerts", body: SharedServeWorkspace.post(alertname: "Slow", fingerprint: "5600000000000001", instance: "same-1"))
        XCTAssertEqual(first.status, 200, first.body)
        let runID = try XCTUnwrap((first.json["incidents"] as? [[String: Any]])?.first?["run"] as? String, first.body)
        _ = try await ServeProcess.poll("the first run's step under way") { ws.effectLines.contains("slow same-1") ? true : nil }
        // Server b lists the runs every third of the lease: leave it two listings.
        try await Task.sleep(nanoseconds: 2_000_000_000)

        // Another alert of the same fault (another fingerprint: another incident; another
        // Alertmanager group, so no group lead folds it) reaches b.
        var payload = try XCTUnwrap(try JSONSerialization.jsonObject(with: SharedServeWorkspace.post(
            alertname: "Slow", fingerprint: "5600000000000002", instance: "same-1")) as? [String: Any])
        payload["groupKey"] = "{}:{team=\"storage\"}"
        let second = try await b.post("/api/v1/alerts", body: try JSONSerialization.data(withJSONObject: payload))
        XCTAssertEqual(second.status, 200, second.body)
        let incident = try XCTUnwrap((second.json["incidents"] as? [[String: Any]])?.first, second.body)
        XCTAssertEqual(incident["run"] as? String, runID, "folded into the run going on server a: \(second.body)")
        XCTAssertFalse((incident["reason"] as? String ?? "").contains("alert group"), second.body)

        let reader = PostgresRunStore(database, owner: "reader")
        _ = try await ServeProcess.poll("the run finished") { () async throws -> Bool? in
            try await reader.summaries().contains { $0.id == runID && $0.status == .finished } ? true : nil
        }
        try await Task.sleep(nanoseconds: 3_000_000_000)
        let runs = try await reader.summaries().filter { $0.playbookID == "slow-001" && $0.targets == ["same-1"] }
        XCTAssertEqual(runs.map(\.id), [runID], "one remediation of the target")
        XCTAssertEqual(ws.effectLines.filter { $0 == "slow same-1" }.count, 1)
    }
}
