import Foundation
import MedicEngine
import MedicPostgres
import MedicServeTestKit
import XCTest

/// One server whose database goes away in the middle of a run: it says it is not ready and
/// refuses new alerts with 503 while the database is away, and once it is back the run cut short
/// is taken over and finished, the refused alert taken, no step twice. A class of its own: it
/// stops its PostgreSQL.
final class SharedServeDatabaseOutageTests: PostgresTestCase {
    func testAServerAnswers503WhileTheDatabaseIsAwayAndTakesItsRunOverWhenItReturns() async throws {
        let (database, address) = try await sharedDatabase()
        let workspace = try await SharedServeWorkspace(self, address: address, database: database)
        let serve = try await workspace.serve(self, "alone", lease: 2)
        let first = try await serve.post("/api/v1/alerts", body: SharedServeWorkspace.post(alertname: "Long", fingerprint: "5300000000000001",
                                                                                            instance: "outage-1"))
        XCTAssertEqual(first.status, 200, first.body)
        let runID = try XCTUnwrap((first.json["incidents"] as? [[String: Any]])?.first?["run"] as? String, first.body)
        _ = try await ServeProcess.poll("the run under way") { workspace.effectLines.contains("step 2 outage-1") ? true : nil }

        let postgres = try server()
        postgres.stop()
        let later = SharedServeWorkspace.post(alertname: "Quick", fingerprint: "5300000000000002", instance: "outage-2")
        let refused = try await serve.post("/api/v1/alerts", body: later)
        XCTAssertEqual(refused.status, 503, "an alert whose incident cannot be made durable is refused: \(refused.body)")
        let ready = try await ServeProcess.poll("/readyz to say the database is away") { () async throws -> Int? in
            let answer = try await serve.get("/readyz")
            return answer.status == 503 ? answer.status : nil
        }
        XCTAssertEqual(ready, 503)
        let stepsWhileAway = workspace.effectLines.count
        try postgres.start()

        let retried = try await ServeProcess.poll("the retried alert taken (stderr: \(serve.stderr.suffix(1500)))", seconds: 120) {
            () async throws -> Int? in
            let answer = try? await serve.post("/api/v1/alerts", body: later)
            return answer?.status == 200 ? 200 : nil
        }
        XCTAssertEqual(retried, 200)
        let reader = PostgresRunStore(database, owner: "reader")
        let run = try await ServeProcess.poll("run \(runID) taken over and finished (stderr: \(serve.stderr.suffix(2000)))", seconds: 180) {
            () async throws -> RunSummary? in
            try await reader.summaries().first { $0.id == runID && $0.status == .finished }
        }
        XCTAssertNotNil(run.outcome)
        XCTAssertTrue(serve.stderr.contains("taking over interrupted run"), serve.stderr.suffix(2000).description)
        let steps = workspace.effectLines.filter { $0.hasSuffix(" outage-1") }
        XCTAssertEqual(steps.count, Set(steps).count, "a step ran twice: \(steps)")
        XCTAssertGreaterThanOrEqual(workspace.effectLines.count, stepsWhileAway)
        _ = try await ServeProcess.poll("the retried alert's run finished", seconds: 120) { () async throws -> Bool? in
            try await reader.summaries().contains { $0.targets == ["outage-2"] && $0.status == .finished } ? true : nil
        }
        XCTAssertEqual(workspace.effectLines.filter { $0.hasSuffix(" outage-2") }, ["step 1 outage-2"])
    }
}
