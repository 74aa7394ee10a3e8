import Foundation
import MedicServeTestKit
import MedicPostgres
import PostgresNIO
import XCTest

/// `SchemaMigrations` and `medic migrate` against a real PostgreSQL.
final class SchemaMigrationTests: PostgresTestCase {
    private func database() async throws -> (LocalPostgres, StateDatabase) {
        (try server(), try await databases(1, migrated: false)[0])
    }

    private func versions(_ database: StateDatabase) async throws -> [Int] {
        var found: [Int] = []
        for try await (version) in try await database.client.query("SELECT version FROM medic_schema ORDER BY version").decode(Int.self) {
            found.append(version)
        }
        return found
    }

    private func exists(_ relation: String, in database: StateDatabase) async throws -> Bool {
        var found = false
        for try await (exists) in try await database.client.query("SELECT to_regclass(\(relation)) IS NOT NULL").decode(Bool.self) {
            found = exists
        }
        return found
    }

    func testAFreshDatabaseIsMigratedOnceAndThenIsCurrent() async throws {
        let (_, database) = try await database()
        let before = try await SchemaMigrations.status(of: database)
        XCTAssertEqual(before.version, 0)
        XCTAssertEqual(before.pending, SchemaMigrations.all)
        do {
            try await SchemaMigrations.requireCurrent(database)
            XCTFail("an empty database is not current")
        } catch let refusal as SchemaMigrations.Refusal {
            XCTAssertEqual(refusal, .older(found: 0, needed: SchemaMigrations.latest))
        }

        let dry = try await SchemaMigrations.migrate(database, dryRun: true)
        XCTAssertEqual(dry.applied.map(\.version), SchemaMigrations.all.map(\.version))
        let afterDry = try await exists("medic_schema", in: database)
        XCTAssertFalse(afterDry, "a dry run creates nothing")

        let first = try await SchemaMigrations.migrate(database)
        XCTAssertEqual(first.from, 0)
        XCTAssertEqual(first.applied.map(\.version), Array(1...SchemaMigrations.latest))
        let again = try await SchemaMigrations.migrate(database)
        XCTAssertEqual(again.from, SchemaMigrations.latest)
        XCTAssertEqual(again.applied, [])
        let applied = try await versions(database)
        XCTAssertEqual(applied, Array(1...SchemaMigrations.latest))
        try await SchemaMigrations.requireCurrent(database)
        for relation in ["medic_leases", "medic_run_records", "medic_fencing_tokens"] {
            let present = try await exists(relation, in: database)
            XCTAssertTrue(present, relation)
        }
    }

    /// Several servers starting at once all migrate; each migration is applied once.
    func testConcurrentMigrationsApplyEachVersionOnce() async throws {
        let (server, database) = try await database()
        let others = (0..<5).map { _ in StateDatabase(database.location) }
        addTeardownBlock { for other in others { await other.shutdown() } }
        _ = server
        let results = try await withThrowingTaskGroup(of: Int.self) { group in
            for other in others { group.addTask { try await SchemaMigrations.migrate(other).applied.count } }
            return try await group.reduce(into: [Int]()) { $0.append($1) }
        }
        XCTAssertEqual(results.reduce(0, +), SchemaMigrations.latest, "\(results)")
        XCTAssertEqual(results.filter { $0 > 0 }.count, 1, "one migrator applied everything: \(results)")
        let applied = try await versions(database)
        XCTAssertEqual(applied, Array(1...SchemaMigrations.latest))
    }

    /// A schema from a newer Medic is refused before anything is changed.
    func testANewerSchemaIsRefusedAndLeftAlone() async throws {
        let (_, database) = try await database()
        try await SchemaMigrations.migrate(database)
        let newer = SchemaMigrations.latest + 1
        try await database.client.query("INSERT INTO medic_schema (version, name) VALUES (\(newer), 'from the future')")
        for dryRun in [true, false] {
            do {
                try await SchemaMigrations.migrate(database, dryRun: dryRun)
                XCTFail("a newer schema must be refused")
            } catch let refusal as SchemaMigrations.Refusal {
                XCTAssertEqual(refusal, .newer(found: newer, known: SchemaMigrations.latest))
                XCTAssertTrue(refusal.description.contains("newer than this Medic knows"), refusal.description)
            }
        }
        do {
            try await SchemaMigrations.requireCurrent(database)
            XCTFail("a newer schema is not current")
        } catch let refusal as SchemaMigrations.Refusal {
            XCTAssertEqual(refusal, .newer(found: newer, known: SchemaMigrations.latest))
        }
        let applied = try await versions(database)
        XCTAssertEqual(applied, Array(1...SchemaMigrations.latest) + [newer])
    }

    /// A migration that fails part way leaves nothing of itself: not the objects it made before
    /// the failure, not its version.
    func testAFailedMigrationLeavesTheSchemaAsItWas() async throws {
        let (_, database) = try await database()
        // An object in the way of the first migration's second statement.
        try await database.client.query("CREATE TABLE medic_leases (unrelated integer)")
        do {
            try await SchemaMigrations.migrate(database)
            XCTFail("the migration must fail on the table in its way")
        } catch let failure as PostgresFailure {
            XCTAssertEqual(failure.sqlState, "42P07", failure.description)  // duplicate_table
            XCTAssertTrue(failure.description.contains("medic_leases"), failure.description)
        }
        let sequence = try await exists("medic_fencing_tokens", in: database)
        XCTAssertFalse(sequence, "the statement before the failure was rolled back")
        let schema = try await exists("medic_schema", in: database)
        XCTAssertFalse(schema, "no version was recorded")
        let status = try await SchemaMigrations.status(of: database)
        XCTAssertEqual(status.version, 0)
    }

    // MARK: - medic migrate

    func testTheMigrateCommand() async throws {
        let (server, database) = try await database()
        let address = server.address(database.location)
        let dry = try MedicBinary.run(["migrate", "--store", address, "--dry-run", "--json"])
        XCTAssertEqual(dry.status, 0, dry.stderr)
        let dryReport = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(dry.stdout.utf8)) as? [String: Any])
        XCTAssertEqual(dryReport["dry_run"] as? Bool, true)
        XCTAssertEqual(dryReport["from"] as? Int, 0)
        XCTAssertEqual(dryReport["to"] as? Int, SchemaMigrations.latest)
        XCTAssertEqual(dryReport["store"] as? String, database.location.description)
        let stillEmpty = try await SchemaMigrations.status(of: database)
        XCTAssertEqual(stillEmpty.version, 0, "--dry-run changed the database")

        let text = try MedicBinary.run(["migrate", "--store", address])
        XCTAssertEqual(text.status, 0, text.stderr)
        XCTAssertTrue(text.stdout.contains("schema version 0; applied:"), text.stdout)
        XCTAssertTrue(text.stdout.contains("Now at version \(SchemaMigrations.latest)."), text.stdout)

        let json = try MedicBinary.run(["migrate", "--json"], environment: ["MEDIC_STORE": address])
        XCTAssertEqual(json.status, 0, json.stderr)
        let report = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        XCTAssertEqual(report["from"] as? Int, SchemaMigrations.latest)
        XCTAssertEqual((report["applied"] as? [Any])?.count, 0)
    }

    /// Another migrator holds the migrations' lock longer than `--lock-timeout`: the command
    /// gives up, says the schema was not changed, and it was not.
    func testAMigrationThatWaitsPastItsLockTimeoutChangesNothing() async throws {
        let (server, database) = try await database()
        let address = server.address(database.location)
        let result: MedicBinary.Result = try await database.client.withTransaction(logger: database.logger) { connection in
            for try await _ in try await connection.query("SELECT pg_advisory_xact_lock(\(Int64(0x6D_65_64_69_63)))", logger: database.logger) {}
            return try MedicBinary.run(["migrate", "--store", address, "--lock-timeout", "1"])
        }
        XCTAssertEqual(result.status, 1, result.stderr)
        XCTAssertTrue(result.stderr.contains("lock timeout"), result.stderr)
        XCTAssertTrue(result.stderr.contains("the schema was not changed"), result.stderr)
        let status = try await SchemaMigrations.status(of: database)
        XCTAssertEqual(status.version, 0)
    }

    func testTheMigrateCommandRefusesBadAddressesAndUnreachableServers() throws {
        let usage = try MedicBinary.run(["migrate", "--store", "mysql://root@db/medic"])
        XCTAssertEqual(usage.status, 2, usage.stderr)
        XCTAssertTrue(usage.stderr.contains("not a PostgreSQL address"), usage.stderr)
        let secret = try MedicBinary.run(["migrate", "--store", "postgres://medic:s3cret@127.0.0.1:5432/"])
        XCTAssertEqual(secret.status, 2, secret.stderr)
        XCTAssertTrue(secret.stderr.contains("names no database"), secret.stderr)
        XCTAssertFalse(secret.stderr.contains("s3cret"), "the password is never printed: \(secret.stderr)")
        // A password that breaks the address's syntax is not printed either.
        for odd in ["postgres://medic:pa#s3cret@db/medic?sslmode=bogus", "postgres://medic:pa s3cret@db:99999/medic", "mysql://medic:s3cret@db/medic"] {
            let refused = try MedicBinary.run(["migrate", "--store", odd])
            XCTAssertEqual(refused.status, 2, refused.stderr)
            XCTAssertFalse(refused.stderr.contains("s3cret"), "the password is never printed: \(refused.stderr)")
        }
        let none = try MedicBinary.run(["migrate"], environment: ["MEDIC_STORE": nil])
        XCTAssertEqual(none.status, 2, none.stderr)

        let port = try LocalPostgres.freePort()
        let unreachable = try MedicBinary.run(["migrate", "--store", "postgres://medic:s3cret@127.0.0.1:\(port)/medic?sslmode=disable",
                                               "--connect-timeout", "3"])
        XCTAssertEqual(unreachable.status, 1, unreachable.stderr)
        XCTAssertTrue(unreachable.stderr.contains("the schema was not changed"), unreachable.stderr)
        XCTAssertTrue(unreachable.stderr.contains("reaching the database"), unreachable.stderr)
        XCTAssertTrue(unreachable.stderr.contains("postgres://medic@127.0.0.1:\(port)/medic"), unreachable.stderr)
        XCTAssertFalse(unreachable.stderr.contains("s3cret"), unreachable.stderr)
    }
}
