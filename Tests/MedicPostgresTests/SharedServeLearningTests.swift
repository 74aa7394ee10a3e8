import Foundation
import MedicEngine
import MedicPostgres
import MedicServeTestKit
import XCTest

/// Servers sharing a database each learn every run that ended on any of them: a run finished on
/// one server is in the other's incident history and immune memory, once, and not twice in its
/// own server's.
final class SharedServeLearningTests: PostgresTestCase {
    func testARunFinishedOnOneServerIsLearnedOnceByEachServer() async throws {
        let (database, address) = try await sharedDatabase()
        let workspace = try await SharedServeWorkspace(self, address: address, database: database)
        let a = try await workspace.serve(self, "a", lease: 2)
        let b = try await workspace.serve(self, "b", lease: 2)
        let posted = try await a.post("/api/v1/alerts", body: SharedServeWorkspace.post(alertname: "Quick", fingerprint: "5400000000000001",
                                                                                         instance: "learn-1"))
        XCTAssertEqual(posted.status, 200, posted.body)
        let runID = try XCTUnwrap((posted.json["incidents"] as? [[String: Any]])?.first?["run"] as? String, posted.body)
        let reader = PostgresRunStore(database, owner: "reader")
        _ = try await ServeProcess.poll("run \(runID) finished") { () async throws -> Bool? in
            try await reader.summaries().contains { $0.id == runID && $0.status == .finished } ? true : nil
        }

        func records(of server: String) -> [String] {
            let history = workspace.dir.appendingPathComponent("state-\(server)/knowledge/incident-history.jsonl")
            return ((try? String(contentsOf: history, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
                .filter { $0.contains("\"run_id\":\"\(runID)\"") }
        }
        _ = try await ServeProcess.poll("server b to learn run \(runID) (b's log: \(b.stderr.suffix(1500)))", seconds: 180) { records(of: "b").isEmpty ? nil : true }
        // An alert's run teaches the immune memory its fault's cure, on its own server and on the
        // others (after the incident's record: each is written in turn, so each is waited for).
        for server in ["a", "b"] {
            func memory() -> String {
                (try? String(contentsOf: workspace.dir.appendingPathComponent("state-\(server)/knowledge/immune-memory.json"), encoding: .utf8)) ?? ""
            }
            _ = try await ServeProcess.poll("\(server)'s immune memory to learn the run's lesson: \(memory().prefix(1500))", seconds: 60) {
                memory().contains(runID) && memory().contains("alertmanager:Quick") ? true : nil
            }
        }
        // Two more of b's passes, and of a's: a run is learned once by each.
        try await Task.sleep(nanoseconds: 5_000_000_000)
        XCTAssertEqual(records(of: "b").count, 1, records(of: "b").joined(separator: "\n"))
        XCTAssertEqual(records(of: "a").count, 1, records(of: "a").joined(separator: "\n"))
    }
}
