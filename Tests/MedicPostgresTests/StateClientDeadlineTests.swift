import Foundation
import MedicPostgres
import MedicServeTestKit
import MedicServer
import PostgresNIO
import XCTest

/// The pool as the stores use it never waits for an absent database longer than its deadline,
/// and a transaction that gave up never runs after. A class of its own: it stops its PostgreSQL.
final class StateClientDeadlineTests: PostgresTestCase {
    func testACallWhileTheDatabaseIsAwayFailsAtItsDeadlineAndNeverRunsLate() async throws {
        let postgres = try server()
        let location = try postgres.freshDatabase()
        let database = StateDatabase(location, connectTimeout: .seconds(1), statementDeadline: 1)
        addTeardownBlock { await database.shutdown() }
        try await SchemaMigrations.migrate(database)
        postgres.stop()
        let ran = Flag()
        // Without the deadline these calls waited for ever: bounded here so the test fails instead.
        let transaction = await outcome { try await answered(within: 60) {
            try await database.client.withTransaction(logger: database.logger) { connection in
                ran.set()
                try await connection.query("INSERT INTO medic_switches (name, set_by, reason, set_at) VALUES ('kill_switch', 'late', NULL, 'now')",
                                           logger: database.logger)
            }
        } }
        XCTAssertThrowsError(try transaction.get()) { error in
            XCTAssertFalse(error is Late && (error as! Late).seconds == 60, "the transaction waited past its own deadline: \(error)")
        }
        let query = await outcome { try await answered(within: 60) { _ = try await database.client.query("SELECT 1", logger: database.logger) } }
        XCTAssertThrowsError(try query.get()) { error in
            XCTAssertFalse(error is Late && (error as! Late).seconds == 60, "the query waited past its own deadline: \(error)")
        }

        try postgres.start()
        let again = try await ServeProcess.poll("the database to answer again") {
            try? await database.client.withTransaction(logger: database.logger) { connection in
                for try await (one) in try await connection.query("SELECT 1", logger: database.logger).decode(Int.self) { return one }
                return 0
            }
        }
        XCTAssertEqual(again, 1)
        // The pool had the abandoned transaction's request: had it run, it would have by now.
        try await Task.sleep(nanoseconds: 3_000_000_000)
        XCTAssertFalse(ran.isSet, "a transaction given up at its deadline ran after the database came back")
        var switches = 0
        for try await (count) in try await database.client.query("SELECT count(*)::int FROM medic_switches", logger: database.logger).decode(Int.self) {
            switches = count
        }
        XCTAssertEqual(switches, 0)
    }

    func testACancelledCallStopsWaitingForItsConnection() async throws {
        let postgres = try server()
        let location = try postgres.freshDatabase()
        let database = StateDatabase(location, connectTimeout: .seconds(1), statementDeadline: 120)
        addTeardownBlock { await database.shutdown() }
        try await SchemaMigrations.migrate(database)
        postgres.stop()
        addTeardownBlock { try? postgres.start() }
        let call = Task {
            try await database.client.withTransaction(logger: database.logger) { connection in
                try await connection.query("SELECT 1", logger: database.logger)
            }
        }
        try await Task.sleep(nanoseconds: 500_000_000)
        call.cancel()
        // Without heeding the cancellation the call would wait out its 120 s deadline.
        let ended = await outcome { try await answered(within: 60) { _ = await call.result } }
        XCTAssertNoThrow(try ended.get(), "the cancelled call still waited for its connection")
        let result = await call.result
        XCTAssertThrowsError(try result.get())
        try postgres.start()
    }
}

extension StateClientDeadlineTests {
    /// The driver drops a statement written on a connection that has closed, without failing
    /// it: a run whose record was being written when the database stopped waited for ever.
    func testAStatementSentOnAConnectionThatClosedFailsAtOnce() async throws {
        let postgres = try server()
        let location = try postgres.freshDatabase()
        // A deadline far longer than the test's bound: what ends the statement is the closing.
        let database = StateDatabase(location, connectTimeout: .seconds(1), statementDeadline: 600)
        addTeardownBlock { await database.shutdown() }
        try await SchemaMigrations.migrate(database)
        addTeardownBlock { try? postgres.start() }
        let transaction = await outcome { try await answered(within: 60) {
            try await database.client.withTransaction(logger: database.logger) { connection in
                postgres.stop()
                _ = try await ServeProcess.poll("the connection to see its server gone") { connection.isClosed ? true : nil }
                try await connection.perform("INSERT INTO medic_switches (name, set_by, reason, set_at) VALUES ('kill_switch', 'late', NULL, 'now')",
                                             logger: database.logger)
            }
        } }
        XCTAssertThrowsError(try transaction.get()) { error in
            XCTAssertTrue(error is ConnectionLost, "the statement on a closed connection did not fail as lost: \(error)")
        }
        try postgres.start()
        let switches = try await ServeProcess.poll("the database to answer again") { () async throws -> Int? in
            guard let rows = try? await database.client.query("SELECT count(*)::int FROM medic_switches", logger: database.logger) else { return nil }
            for try await (count) in rows.decode(Int.self) { return count }
            return nil
        }
        XCTAssertEqual(switches, 0)
    }
}

private func outcome(_ body: () async throws -> Void) async -> Result<Void, any Error> {
    do { return .success(try await body()) } catch { return .failure(error) }
}

private final class Flag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    func set() { lock.withLock { value = true } }
    var isSet: Bool { lock.withLock { value } }
}
