import Foundation
import MedicTestSupport
import XCTest

/// `medic prune --store` and `medic runs --store` print the shapes their schemas under
/// schemas/output/ document, against a real PostgreSQL (skipped without one, a failure under CI).
final class DatabaseOutputSchemaTests: XCTestCase {
    func testPruneAndRunsAgainstADatabaseMatchTheirSchemas() throws {
        let server: LocalPostgres
        do {
            server = try LocalPostgres()
        } catch let missing as LocalPostgres.NotInstalled {
            if ProcessInfo.processInfo.environment["CI"] == "true" { XCTFail("CI must have PostgreSQL: \(missing)") }
            throw XCTSkip(missing.description)
        }
        let address = server.address(try server.freshDatabase())
        let dir = try Medic.temporaryDirectory(self)
        let migrated = try Medic.run(["migrate", "--store", address], in: dir)
        XCTAssertEqual(migrated.status, 0, migrated.stderr)

        for dryRun in [true, false] {
            let prune = try Medic.run(["prune", "--store", address, "--library", dir.path, "--json"] + (dryRun ? ["--dry-run"] : []), in: dir)
            XCTAssertEqual(prune.status, 0, prune.stderr)
            let value = try JSONSerialization.jsonObject(with: Data(prune.stdout.utf8))
            let checker = try OutputSchemaChecker(schema: Medic.repositoryRoot.appendingPathComponent("schemas/output/prune.schema.json"))
            XCTAssertEqual(checker.problems(value), [], prune.stdout)
            let document = try XCTUnwrap(value as? [String: Any])
            XCTAssertEqual(document["dry_run"] as? Bool, dryRun)
            XCTAssertEqual((document["removed"] as? [String: Int])?["medic_runs"], 0, prune.stdout)
        }
        let runs = try Medic.run(["runs", "--store", address, "--json"], in: dir)
        XCTAssertEqual(runs.status, 0, runs.stderr)
        let checker = try OutputSchemaChecker(schema: Medic.repositoryRoot.appendingPathComponent("schemas/output/runs.schema.json"))
        XCTAssertEqual(checker.problems(try JSONSerialization.jsonObject(with: Data(runs.stdout.utf8))), [], runs.stdout)
    }
}
