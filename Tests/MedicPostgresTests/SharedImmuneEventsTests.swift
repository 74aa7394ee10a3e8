import Foundation
import MedicPostgres
import MedicServeTestKit
import MedicServer
import MedicText
import XCTest

/// Immune events posted to servers sharing a database are stored once, whichever server took
/// them, and every server's health summary counts them.
final class SharedImmuneEventsTests: PostgresTestCase {
    func testAnEventPostedToOneServerIsCountedByAnotherAndARetryToItIsNotStoredTwice() async throws {
        let (database, address) = try await sharedDatabase()
        let workspace = try await SharedServeWorkspace(self, address: address, database: database)
        let a = try await workspace.serve(self, "a", lease: 2)
        let b = try await workspace.serve(self, "b", lease: 2)
        let event = Data(#"{"id": "evt-shared-1", "agent_id": "agent-7", "severity": "CRITICAL", "type": "ERROR_SPIKE", "message": "errors x10"}"#.utf8)
        let first = try await a.post("/api/v1/events", body: event)
        XCTAssertEqual(first.status, 201, first.body)
        let retried = try await b.post("/api/v1/events", body: event)
        XCTAssertEqual(retried.status, 200, "a retry to another server finds the event stored: \(retried.body)")
        let changed = try await b.post("/api/v1/events", body: Data(#"{"id": "evt-shared-1", "severity": "INFO", "type": "ERROR_SPIKE", "message": "other"}"#.utf8))
        XCTAssertEqual(changed.status, 409, changed.body)

        for server in [a, b] {
            let total = try await ServeProcess.poll("the event counted by every server") { () async throws -> Int? in
                let health = try await server.get("/api/v1/health?window=1h")
                let total = health.json["total"] as? Int
                return total == 1 ? total : nil
            }
            XCTAssertEqual(total, 1)
        }
        let store = try await PostgresImmuneEventStore.open(database)
        let since = try XCTUnwrap(Timestamp(Date().addingTimeInterval(-3600)))
        XCTAssertEqual(store.events(since: since).map(\.id), ["evt-shared-1"])
    }
}
