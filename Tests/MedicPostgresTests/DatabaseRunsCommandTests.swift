import Foundation
import MedicEngine
import MedicPostgres
import MedicServeTestKit
import XCTest

/// `medic runs`, `medic show` and `medic prune` against a real shared database, through the
/// built binary: an operator sees the runs every server made, and prunes the database.
final class DatabaseRunsCommandTests: PostgresTestCase {
    /// A fresh migrated database with runs written through the library as a server writes them:
    /// 12 finished two days ago and one still going (its lease held). Its address.
    private func populated() async throws -> (address: String, database: StateDatabase) {
        let sample = try PostgresPruneTests.realRun.get()
        let database = try await databases(1)[0]
        let store = PostgresRunStore(database, owner: "server-a")
        let twoDaysAgo = Date().addingTimeInterval(-2 * 86_400)
        for index in 1...12 {
            try await PostgresPruneTests.write(store, String(format: "20261101-0000%02d-0000000a", index), sample,
                                               at: twoDaysAgo.addingTimeInterval(Double(index)))
        }
        try await PostgresPruneTests.write(store, "20261102-000000-0000000b", Array(sample.prefix(3)), at: Date(), holding: true)
        return (try server().address(database.location), database)
    }

    func testRunsAndShowReadTheDatabase() async throws {
        let (address, _) = try await populated()
        let json = try MedicBinary.run(["runs", "--store", address, "--json"])
        XCTAssertEqual(json.status, 0, json.stderr)
        let runs = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [[String: Any]])
        XCTAssertEqual(runs.count, 13)
        XCTAssertEqual(runs.last?["id"] as? String, "20261102-000000-0000000b")
        XCTAssertEqual(runs.last?["status"] as? String, "running")
        XCTAssertEqual(runs.first?["status"] as? String, "finished")

        let text = try MedicBinary.run(["runs"], environment: ["MEDIC_STORE": address])
        XCTAssertEqual(text.status, 0, text.stderr)
        XCTAssertTrue(text.stdout.contains("20261101-000001-0000000a"), text.stdout)
        XCTAssertTrue(text.stdout.contains("note-001"), text.stdout)
        // --state-dir reads the state directory, as before.
        let local = try MedicBinary.run(["runs", "--state-dir", FileManager.default.temporaryDirectory.appendingPathComponent("none-\(UUID())").path],
                                        environment: ["MEDIC_STORE": address])
        XCTAssertTrue(local.stdout.contains("No runs yet"), local.stdout)

        let shown = try MedicBinary.run(["show", "20261101-000003", "--store", address, "--json"])
        XCTAssertEqual(shown.status, 0, shown.stderr)
        let document = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(shown.stdout.utf8)) as? [String: Any])
        XCTAssertEqual((document["records"] as? [Any])?.count, try PostgresPruneTests.realRun.get().count)
        XCTAssertEqual((document["report"] as? [String: Any])?["outcome"] as? String, "succeeded")
        let timeline = try MedicBinary.run(["show", "20261101-000003", "--store", address])
        XCTAssertEqual(timeline.status, 0, timeline.stderr)
        XCTAssertTrue(timeline.stdout.contains("20261101-000003-0000000a"), timeline.stdout)

        let ambiguous = try MedicBinary.run(["show", "20261101", "--store", address])
        XCTAssertNotEqual(ambiguous.status, 0)
        XCTAssertTrue(ambiguous.stderr.contains("names 4 runs") || ambiguous.stderr.contains("give more of the id"), ambiguous.stderr)
        let missing = try MedicBinary.run(["show", "20991231", "--store", address])
        XCTAssertNotEqual(missing.status, 0)
        XCTAssertTrue(missing.stderr.contains("no run '20991231'"), missing.stderr)
    }

    func testPruneTheDatabaseThroughTheBinary() async throws {
        let (address, database) = try await populated()
        let library = FileManager.default.temporaryDirectory.appendingPathComponent("medic-prune-lib-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: library.appendingPathComponent("policies"), withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: library) }
        try "retention:\n  runs: {max_age: 1d, keep_at_least: 0}\n"
            .write(to: library.appendingPathComponent("policies/retention.yaml"), atomically: true, encoding: .utf8)

        let dry = try MedicBinary.run(["prune", "--store", address, "--library", library.path, "--dry-run", "--json"])
        XCTAssertEqual(dry.status, 0, dry.stderr)
        let planned = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(dry.stdout.utf8)) as? [String: Any])
        XCTAssertEqual(planned["dry_run"] as? Bool, true)
        XCTAssertEqual((planned["actions"] as? [[String: Any]])?.compactMap { $0["run"] as? String },
                       ["20261101-000001-0000000a", "20261101-000002-0000000a"], "the breaker's 10 and the running run stay")
        XCTAssertEqual((planned["removed"] as? [String: Int])?["medic_runs"], 2)
        let runsAfterDryRun = try await PostgresRunStore(database, owner: "x").summaries().count
        XCTAssertEqual(runsAfterDryRun, 13, "--dry-run changed the database")

        let done = try MedicBinary.run(["prune", "--store", address, "--library", library.path])
        XCTAssertEqual(done.status, 0, done.stderr)
        XCTAssertTrue(done.stdout.contains("delete run 20261101-000001-0000000a:"), done.stdout)
        XCTAssertTrue(done.stdout.contains("medic_runs: 2 row(s) deleted"), done.stdout)
        XCTAssertTrue(done.stdout.contains("Pruned 2 run(s)"), done.stdout)
        let left = try await PostgresRunStore(database, owner: "x").summaries().map(\.id)
        XCTAssertEqual(left.count, 11)
        XCTAssertFalse(left.contains("20261101-000001-0000000a"))
        XCTAssertTrue(left.contains("20261102-000000-0000000b"))

        let bad = try MedicBinary.run(["prune", "--store", "nonsense", "--library", library.path])
        XCTAssertEqual(bad.status, 2, bad.stderr)
        XCTAssertTrue(bad.stderr.contains("is not a PostgreSQL address"), bad.stderr)
        let unreachable = try MedicBinary.run(["prune", "--store", "postgres://medic@127.0.0.1:1/medic", "--library", library.path])
        XCTAssertEqual(unreachable.status, 1, unreachable.stderr)
        XCTAssertTrue(unreachable.stderr.contains("reaching the database"), unreachable.stderr)
        let runsAfterBadAddresses = try await PostgresRunStore(database, owner: "x").summaries().count
        XCTAssertEqual(runsAfterBadAddresses, 11)
    }
}
