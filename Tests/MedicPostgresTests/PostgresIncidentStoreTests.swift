import Foundation
import MedicPostgres
import MedicServeTestKit
import MedicServer
import XCTest

/// The incident store of servers sharing a database, as `IncidentStoring` promises it.
final class PostgresIncidentStoreTests: PostgresTestCase {
    /// 4 servers each changing one incident 25 times at once: every change kept, and each
    /// change's closure run exactly once (an acknowledgement audits inside it: run twice, it
    /// would audit twice).
    func testConcurrentUpdatesRunEachChangeOnceAndLoseNone() async throws {
        let databases = try await databases(4)
        let opened = try JSONDecoder().decode(AlertIncident.self, from: Data("""
            {"key": "inc-1", "fingerprint": "f1", "group_key": "g", "receiver": "medic", "status": "firing", "labels": {},
             "annotations": {}, "starts_at": "2026-12-06T05:00:00Z", "generator_url": "", "opened_at": "2026-12-06T05:00:01Z",
             "handling": "unhandled", "parameters": {}}
            """.utf8))
        _ = try await PostgresIncidentStore(databases[0]).open(opened)
        let calls = Calls()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (server, database) in databases.enumerated() {
                group.addTask {
                    let store = PostgresIncidentStore(database)
                    for change in 0..<25 {
                        let outcome = try await store.update(key: "inc-1") { incident in
                            calls.add()
                            incident.labels["s\(server)-\(change)"] = "x"
                            return nil
                        }
                        guard case .changed = outcome else { throw LocalPostgres.Failure("not changed: \(String(describing: outcome))") }
                    }
                }
            }
            try await group.waitForAll()
        }
        let stored = try await PostgresIncidentStore(databases[0]).incident(key: "inc-1")
        XCTAssertEqual(stored?.labels.count, 100, "no change lost")
        XCTAssertEqual(calls.count, 100, "each change's closure ran once")
        let refused = try await PostgresIncidentStore(databases[1]).update(key: "inc-1") { _ in "no" }
        XCTAssertEqual(refused, .refused("no"))
        let missing = try await PostgresIncidentStore(databases[1]).update(key: "inc-2") { _ in nil }
        XCTAssertNil(missing)
    }
}

private final class Calls: @unchecked Sendable {
    private let lock = NSLock()
    private var n = 0
    func add() { lock.withLock { n += 1 } }
    var count: Int { lock.withLock { n } }
}
