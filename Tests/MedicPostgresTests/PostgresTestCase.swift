import Foundation
import MedicPostgres
import MedicServeTestKit
import MedicTestSupport
import XCTest

/// A test class with a PostgreSQL server of its own, started before its first test and stopped
/// after its last; each test takes fresh databases from it.
class PostgresTestCase: XCTestCase {
    nonisolated(unsafe) private static var servers: [ObjectIdentifier: Result<LocalPostgres, any Error>] = [:]

    override class func setUp() {
        super.setUp()
        servers[ObjectIdentifier(self)] = Result { try LocalPostgres() }
    }

    override class func tearDown() {
        // Shut down here: a test's teardown block may hold the server past its class.
        if case .success(let server)? = servers[ObjectIdentifier(self)] { server.shutdown() }
        servers[ObjectIdentifier(self)] = nil
        super.tearDown()
    }

    /// The class's server (a skip without PostgreSQL, a failure under CI).
    func server() throws -> LocalPostgres {
        guard let started = Self.servers[ObjectIdentifier(Self.self)] else { throw LocalPostgres.Failure("no server was started") }
        return try LocalPostgres.orSkip { try started.get() }
    }

    /// `count` instances (each its own connection pool, as separate servers have) on one fresh
    /// database, migrated unless `migrated` is false; shut down when the test ends.
    func databases(_ count: Int, migrated: Bool = true) async throws -> [StateDatabase] {
        let location = try server().freshDatabase()
        let databases = (0..<count).map { _ in StateDatabase(location) }
        addTeardownBlock { for database in databases { await database.shutdown() } }
        if migrated { try await SchemaMigrations.migrate(databases[0]) }
        return databases
    }
}
