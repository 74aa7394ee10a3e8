import Foundation
import MedicEngine
import MedicPostgres
import MedicServeTestKit
import XCTest

/// The anomaly rules of two servers sharing a database (`medic serve --store` without
/// `--no-rules`): one fault is one run, whichever server evaluates the rules.
final class SharedRulesTests: PostgresTestCase {
    func testTwoServersWithRulesStartOneRunForOneFault() async throws {
        let (database, address) = try await sharedDatabase()
        let workspace = try await SharedServeWorkspace(self, address: address, database: database)
        try FileManager.default.createDirectory(at: workspace.dir.appendingPathComponent("rules"), withIntermediateDirectories: true)
        try """
            rules:
              - name: fault-seen
                metric: fault_level
                detector: threshold
                params: {op: ">", value: 0}
                severity: SEV3
                playbook: quick-001
            """.write(to: workspace.dir.appendingPathComponent("rules/fault.yaml"), atomically: true, encoding: .utf8)
        let metrics = workspace.dir.appendingPathComponent("metrics.yaml").path
        try """
            metric_sources:
              - {name: state, type: file, path: state.json, metrics: [fault_level]}
            """.write(toFile: metrics, atomically: true, encoding: .utf8)
        let state = workspace.dir.appendingPathComponent("state.json")
        try #"{"fault_level": 0}"#.write(to: state, atomically: true, encoding: .utf8)
        let servers = [try await workspace.serve(self, "rules-a", rules: metrics), try await workspace.serve(self, "rules-b", rules: metrics)]
        for server in servers {
            _ = try await ServeProcess.poll("the rules to be read (stderr: \(server.stderr.suffix(1500)))") {
                server.stderr.contains("rules: watching") ? true : nil
            }
        }

        try #"{"fault_level": 1}"#.write(to: state, atomically: true, encoding: .utf8)
        let reader = PostgresRunStore(database, owner: "reader")
        let fromRules = { try await reader.summaries().filter { $0.playbookID == "quick-001" && !$0.targets.contains("seed") } }
        _ = try await ServeProcess.poll("the rule's run started") { () async throws -> Bool? in try await fromRules().isEmpty ? nil : true }
        // The fault cleared once its run is under way: a fault still there after its run ends is a new incident.
        try #"{"fault_level": 0}"#.write(to: state, atomically: true, encoding: .utf8)
        let run = try await ServeProcess.poll("the rule's run finished (a: \(servers[0].stderr.suffix(1000)); b: \(servers[1].stderr.suffix(1000)))",
                                              seconds: 120) { () async throws -> RunSummary? in
            try await fromRules().first { $0.status == .finished }
        }
        XCTAssertEqual(run.outcome, .succeeded)
        let detection = try await reader.records(of: run.id).first { $0.event == .runStarted }?.detection
        XCTAssertEqual(detection?.rule, "fault-seen")

        // Both servers evaluate rounds a while longer (a negative check: it cannot fail by itself).
        try await Task.sleep(nanoseconds: 2_000_000_000)
        let runs = try await fromRules()
        XCTAssertEqual(runs.map(\.id), [run.id], "one fault, one run, across both servers")
        XCTAssertEqual(workspace.effectLines.filter { $0.hasPrefix("step 1") }.count, 1, "\(workspace.effectLines)")
    }
}
