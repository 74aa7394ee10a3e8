import Foundation
import MedicEngine
import MedicPostgres
import MedicServeTestKit
import XCTest

/// `retention.every`: servers sharing a database prune it on a schedule, one at a time.
final class SharedServePruneTests: PostgresTestCase {
    func testServersPruneTheDatabaseOnScheduleOnceBetweenThem() async throws {
        let sample = try PostgresPruneTests.realRun.get()
        let database = try await databases(1)[0]
        let workspace = try await SharedServeWorkspace(self, address: try server().address(database.location), database: database)
        let store = PostgresRunStore(database, owner: "old-server")
        let twoDaysAgo = Date().addingTimeInterval(-2 * 86_400)
        for index in 1...12 {
            try await PostgresPruneTests.write(store, String(format: "20261101-0000%02d-0000000c", index), sample,
                                               at: twoDaysAgo.addingTimeInterval(Double(index)))
        }
        let before = try await store.summaries().count
        try FileManager.default.createDirectory(at: workspace.dir.appendingPathComponent("policies"), withIntermediateDirectories: true)
        try "retention:\n  runs: {max_age: 1d, keep_at_least: 0}\n  every: 1s\n"
            .write(to: workspace.dir.appendingPathComponent("policies/retention.yaml"), atomically: true, encoding: .utf8)

        let servers = [try await workspace.serve(self, "a"), try await workspace.serve(self, "b")]
        // The two oldest go (the breaker counts the ten newest of the playbook; its newest success stays).
        _ = try await ServeProcess.poll("the scheduled prune (\(servers.map(\.stderr)))") { () -> Bool? in
            try await store.summaries().count == before - 2 ? true : nil
        }
        let ids = try await store.summaries().map(\.id)
        XCTAssertFalse(ids.contains("20261101-000001-0000000c"))
        XCTAssertFalse(ids.contains("20261101-000002-0000000c"))
        XCTAssertTrue(ids.contains("20261101-000003-0000000c"))
        // Said once between them: each run pruned by one server, counted once.
        let counts = try await ServeProcess.poll("the prune's log line") { () -> Int? in
            let said = servers.flatMap { server in
                server.stderr.split(separator: "\n").compactMap { line -> Int? in
                    guard let range = line.range(of: "pruned the database: ") else { return nil }
                    return Int(line[range.upperBound...].prefix { $0.isNumber })
                }
            }
            let total = said.reduce(0, +)
            return total >= 2 ? total : nil
        }
        XCTAssertEqual(counts, 2)
        for server in servers { XCTAssertFalse(server.stderr.contains("prune: "), server.stderr) }
    }
}
