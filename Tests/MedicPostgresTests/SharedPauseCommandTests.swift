import Foundation
import MedicEngine
import MedicPostgres
import MedicServeTestKit
import XCTest

/// `medic pause --store` pauses every server sharing the database: an alert posted to one of
/// them afterwards gets a refused run; `medic resume-all --store` lifts it. A store that cannot
/// be used changes nothing.
final class SharedPauseCommandTests: PostgresTestCase {
    func testPauseWithStorePausesTheServersSharingTheDatabase() async throws {
        let (database, address) = try await sharedDatabase()
        let workspace = try await SharedServeWorkspace(self, address: address, database: database)
        let serve = try await workspace.serve(self, "a", lease: 2)
        let flags = PostgresFlags(database)

        let paused = try MedicBinary.run(["pause", "--by", "alice", "--reason", "hands off", "--store", address,
                                          "--state-dir", workspace.dir.appendingPathComponent("elsewhere").path])
        XCTAssertEqual(paused.status, 0, paused.stderr)
        let setting = try await flags.switches.setting(.killSwitch)
        XCTAssertEqual(setting?.by, "alice")
        XCTAssertFalse(FileManager.default.fileExists(atPath: workspace.dir.appendingPathComponent("elsewhere/paused.json").path),
                       "with --store the state directory is not the one paused")

        let posted = try await serve.post("/api/v1/alerts", body: SharedServeWorkspace.post(alertname: "Quick", fingerprint: "5500000000000001",
                                                                                            instance: "pause-1"))
        XCTAssertEqual(posted.status, 200, posted.body)
        let reader = PostgresRunStore(database, owner: "reader")
        let refused = try await ServeProcess.poll("the paused server's run to end (log: \(serve.stderr.suffix(1500)))") { () async throws -> RunSummary? in
            try await reader.summaries().first { $0.targets == ["pause-1"] && $0.status == .finished }
        }
        XCTAssertEqual(refused.outcome, .refused)
        XCTAssertFalse(workspace.effectLines.contains("step 1 pause-1"))

        let resumed = try MedicBinary.run(["resume-all", "--by", "alice", "--store", address])
        XCTAssertEqual(resumed.status, 0, resumed.stderr)
        XCTAssertTrue(resumed.stdout.contains("Resumed by alice"), resumed.stdout)
        let lifted = try await flags.switches.setting(.killSwitch)
        XCTAssertNil(lifted)
    }

    func testAStoreThatCannotBeUsedChangesNothing() async throws {
        let (database, _) = try await sharedDatabase()
        let notAnAddress = try MedicBinary.run(["pause", "--by", "alice", "--store", "mysql://nowhere"])
        XCTAssertEqual(notAnAddress.status, 2, notAnAddress.stderr)
        let unreachable = try MedicBinary.run(["pause", "--by", "alice", "--store", "postgres://medic@127.0.0.1:1/medic"])
        XCTAssertEqual(unreachable.status, 1, unreachable.stderr)
        XCTAssertTrue(unreachable.stderr.contains("reaching the database"), unreachable.stderr)
        let setting = try await PostgresFlags(database).switches.setting(.killSwitch)
        XCTAssertNil(setting)
    }
}
