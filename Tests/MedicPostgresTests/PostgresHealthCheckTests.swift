import Foundation
import MedicServeTestKit
import MedicEngine
import MedicModel
import MedicPostgres
import XCTest

/// The postgres health check (docs/health.md): `SELECT 1` against a real PostgreSQL through the
/// client the `medic` binary hands the engine's probes.
final class PostgresHealthCheckTests: PostgresTestCase {
    private func check(_ url: String, statement: String = "SELECT 1") -> HealthCheckDefinition {
        HealthCheckDefinition(name: "database_connectivity", tier: .deep, component: "database",
                              probe: .postgres(url: url, statement: statement), timeout: 10, retries: 0)
    }

    private let probes = HealthProbes(postgres: { try await PostgresHealthStatement.run(url: $0, statement: $1, timeout: $2) })

    func testSelectOneAnswersOnALiveServerAndFailsSayingWhyOtherwise() async throws {
        let server = try server()
        let address = server.address(try server.freshDatabase())
        let live = await probes.run(check(address))
        XCTAssertTrue(live.passed, live.detail)
        XCTAssertEqual(live.detail, "'SELECT 1' answered")

        let refused = await probes.run(check(address, statement: "SELECT * FROM no_such_table"))
        XCTAssertFalse(refused.passed)
        XCTAssertTrue(refused.detail.contains("no_such_table"), refused.detail)

        let closed = try LocalPostgres.freePort()
        let unreachable = await probes.run(check("postgres://medic@127.0.0.1:\(closed)/medic?sslmode=disable"))
        XCTAssertFalse(unreachable.passed)
        XCTAssertTrue(unreachable.detail.contains("reaching the database"), unreachable.detail)

        let withoutClient = await HealthProbes().run(check(address))
        XCTAssertFalse(withoutClient.passed)
        XCTAssertTrue(withoutClient.detail.contains("no PostgreSQL client"), withoutClient.detail)
    }
}
