import Foundation
import MedicEngine
import MedicPostgres
import PostgresNIO
import XCTest

/// Incidents, switches, the audit log and the outbox in a real PostgreSQL, with several
/// instances (connection pools) at once.
final class SharedStateStoresTests: PostgresTestCase {
    func testOfEightInstancesOpeningOneIncidentExactlyOneCreatesIt() async throws {
        let databases = try await databases(8)
        let keys = (0..<200).map { "fp\($0)-1733472000000" }
        let outcomes = try await withThrowingTaskGroup(of: [(String, Bool, String)].self) { group in
            for (number, database) in databases.enumerated() {
                group.addTask {
                    let incidents = PostgresIncidents(database)
                    var seen: [(String, Bool, String)] = []
                    for key in keys.shuffled() {
                        let (stored, created) = try await incidents.open(key: key, body: "{\"opened_by\":\"instance-\(number)\"}")
                        seen.append((key, created, stored.body))
                    }
                    return seen
                }
            }
            return try await group.reduce(into: [(String, Bool, String)]()) { $0 += $1 }
        }
        for key in keys {
            let mine = outcomes.filter { $0.0 == key }
            XCTAssertEqual(mine.count, 8)
            XCTAssertEqual(mine.filter(\.1).count, 1, "\(key) created \(mine.filter(\.1).count) times")
            XCTAssertEqual(Set(mine.map(\.2)).count, 1, "every instance sees the winner's incident")
        }
        let all = try await PostgresIncidents(databases[0]).all()
        XCTAssertEqual(all.count, 200)
    }

    /// Four instances each add 50 to one counter kept in an incident, by read, change, write
    /// with the version read, and again on a conflict: none of the 200 additions is lost.
    func testConcurrentUpdatesLoseNothing() async throws {
        let databases = try await databases(4)
        _ = try await PostgresIncidents(databases[0]).open(key: "k", body: "0")
        try await withThrowingTaskGroup(of: Void.self) { group in
            for database in databases {
                group.addTask {
                    let incidents = PostgresIncidents(database)
                    for _ in 0..<50 {
                        while true {
                            let current = try await incidents.incident(key: "k")!
                            if try await incidents.update(key: "k", from: current.version, to: String(Int(current.body)! + 1)) != nil { break }
                        }
                    }
                }
            }
            try await group.waitForAll()
        }
        let final = try await PostgresIncidents(databases[0]).incident(key: "k")
        XCTAssertEqual(final?.body, "200")
        XCTAssertEqual(final?.version, 201)
        let stale = try await PostgresIncidents(databases[0]).update(key: "k", from: 1, to: "lost")
        XCTAssertNil(stale, "a change from an old version is refused")
    }

    func testSwitchesAreChangedWithTheirAuditRecordAndTheAuditLogIsAppendOnly() async throws {
        let databases = try await databases(2)
        let switches = PostgresOperatorSwitches(databases[0]), other = PostgresOperatorSwitches(databases[1])
        let audit = PostgresAuditLog(databases[1])
        let now = Date(timeIntervalSince1970: 1_765_000_000)
        let off = try await other.setting(.killSwitch)
        XCTAssertNil(off)
        try await switches.turnOn(.killSwitch, by: "alice", reason: "database migration", now: now)
        let on = try await other.setting(.killSwitch)
        XCTAssertEqual(on?.by, "alice")
        XCTAssertEqual(on?.reason, "database migration")
        let safe = try await other.setting(.safeMode)
        XCTAssertNil(safe, "the switches are separate")
        let turnedOff = try await other.turnOff(.killSwitch, by: "bob", reason: nil, now: now.addingTimeInterval(60))
        XCTAssertTrue(turnedOff)
        let again = try await other.turnOff(.killSwitch, by: "bob", reason: nil, now: now.addingTimeInterval(61))
        XCTAssertFalse(again)
        let records = try await audit.records()
        XCTAssertEqual(records.map { $0["event"] }, ["paused", "resumed"], "\(records)")
        XCTAssertEqual(records.map { $0["by"] }, ["alice", "bob"])
        for statement in ["UPDATE medic_audit SET fields = '{}'::jsonb", "DELETE FROM medic_audit", "TRUNCATE medic_audit"] {
            do {
                try await databases[0].client.query(PostgresQuery(unsafeSQL: statement))
                XCTFail("\(statement) must be refused")
            } catch let error as PSQLError {
                XCTAssertEqual(error.serverInfo?[.sqlState], "MD003")
            }
        }
        let kept = try await audit.records()
        XCTAssertEqual(kept.count, 2)
    }

    final class Published: @unchecked Sendable {
        private let lock = NSLock()
        private var ids: [String] = []
        func add(_ events: [OutboxEvent]) { lock.withLock { ids += events.map(\.id) } }
        var all: [String] { lock.withLock { ids } }
    }

    func testDispatchersOnFourInstancesPublishEachEventOnceAndAFailedPublishIsRetried() async throws {
        let databases = try await databases(4)
        let events = (0..<1000).map { OutboxEvent(id: "evt-\($0)", json: Array("{\"id\":\"evt-\($0)\"}".utf8)) }
        try await PostgresOutbox(databases[0]).enqueue(Array(events[0..<600]))
        try await PostgresOutbox(databases[1]).enqueue(Array(events[500..<1000]))  // 100 stored twice: kept once
        let waiting = try await PostgresOutbox(databases[2]).waiting()
        XCTAssertEqual(waiting, 1000)

        // A dispatcher whose publish fails leaves its batch for the others.
        struct BusDown: Error {}
        do {
            try await PostgresOutbox(databases[3]).dispatch(limit: 50) { _ in throw BusDown() }
            XCTFail("the publish error comes back")
        } catch is BusDown {}
        let stillWaiting = try await PostgresOutbox(databases[0]).waiting()
        XCTAssertEqual(stillWaiting, 1000)

        let published = Published()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for database in databases {
                group.addTask {
                    let outbox = PostgresOutbox(database)
                    while try await outbox.dispatch(limit: 25, { published.add($0) }) > 0 {}
                }
            }
            try await group.waitForAll()
        }
        XCTAssertEqual(published.all.count, 1000, "each event published once")
        XCTAssertEqual(Set(published.all), Set(events.map(\.id)))
        let left = try await PostgresOutbox(databases[0]).waiting()
        XCTAssertEqual(left, 0)
        var attempts: [Int] = []
        for try await (count) in try await databases[0].client.query("SELECT attempts FROM medic_outbox WHERE event_id = 'evt-0'").decode(Int.self) {
            attempts.append(count)
        }
        XCTAssertEqual(attempts, [2], "the failed attempt was counted")
    }

    /// An event stored in a transaction that rolls back is never published.
    func testAnEventOfARolledBackChangeIsNeverStored() async throws {
        let databases = try await databases(1)
        struct Abandon: Error {}
        let logger = databases[0].logger
        do {
            try await databases[0].client.withTransaction(logger: logger) { connection in
                try await PostgresOutbox.enqueue([OutboxEvent(id: "evt-x", json: Array("{}".utf8))], on: connection, logger: logger)
                throw Abandon()
            }
        } catch {}
        let waiting = try await PostgresOutbox(databases[0]).waiting()
        XCTAssertEqual(waiting, 0)
    }
}
