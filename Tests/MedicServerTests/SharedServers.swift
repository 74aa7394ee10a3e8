import Foundation
import MedicServeTestKit
import XCTest

/// Servers sharing one fresh, migrated PostgreSQL database, as the shared-state tests of the
/// server start them: each `medic serve` with a state directory of its own (`state-<name>`) in
/// `dir`, `arguments` (the library, its configuration) then `--store` and `--instance`.
enum SharedServers {
    /// A fresh database on the local PostgreSQL (the test is skipped without one), migrated by
    /// `medic migrate`: its address. The server is kept until the test ends, then shut down.
    static func database(_ test: XCTestCase, in dir: URL) throws -> (LocalPostgres, String) {
        let postgres = try LocalPostgres.orSkip { try LocalPostgres() }
        test.addTeardownBlock { postgres.shutdown() }
        let address = postgres.address(try postgres.freshDatabase())
        let (status, migrated) = try MedicCommand.status(["migrate", "--store", address], in: dir)
        XCTAssertEqual(status, 0, migrated)
        return (postgres, address)
    }

    static func start(_ test: XCTestCase, _ names: [String], in dir: URL, address: String, arguments: [String]) async throws -> [ServeProcess] {
        var servers: [ServeProcess] = []
        for name in names {
            servers.append(try await ServeProcess(test, in: dir, arguments: [
                "--root", dir.path, "--state-dir", dir.appendingPathComponent("state-\(name)").path, "--workdir", dir.path,
            ] + arguments + ["--store", address, "--instance", name]))
        }
        return servers
    }
}
