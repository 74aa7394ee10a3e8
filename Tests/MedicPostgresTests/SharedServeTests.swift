import AsyncHTTPClient
import Foundation
import MedicEngine
import MedicPostgres
import MedicServeTestKit
import NIOCore
import XCTest

/// Several `medic serve` processes sharing one real PostgreSQL, as an operator deploys them:
/// Alertmanager's posts sprayed across all of them, instances killed mid-run.
final class SharedServeTests: PostgresTestCase {
    /// 10,000 posts over 50 incidents (each posted 200 times), from 32 clients, spread over three
    /// servers: exactly one run per incident, each step run once.
    func testThreeServersUnderAStormStartExactlyOneRunPerIncident() async throws {
        let (database, address) = try await sharedDatabase()
        let workspace = try await SharedServeWorkspace(self, address: address, database: database)
        var servers: [ServeProcess] = []
        for name in ["medic-a", "medic-b", "medic-c"] { servers.append(try await workspace.serve(self, name)) }
        let incidents = 50, posts = 10_000, clients = 32
        var order = (0..<posts).map { $0 % incidents }
        var generator = SystemRandomNumberGenerator()
        order.shuffle(using: &generator)
        let bodies = (0..<incidents).map { SharedServeWorkspace.post(alertname: "Quick", fingerprint: String(format: "f%015x", $0), instance: "host-\($0)") }
        let urls = servers.map { $0.baseURL + "/api/v1/alerts" }
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: HTTPClient.Configuration(
            connectionPool: .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: clients)))
        addTeardownBlock { try? await client.shutdown() }
        let statuses = try await withThrowingTaskGroup(of: [Int: Int].self) { tasks in
            for worker in 0..<clients {
                tasks.addTask { [order] in
                    var counts: [Int: Int] = [:]
                    for index in stride(from: worker, to: order.count, by: clients) {
                        var request = HTTPClientRequest(url: urls[index % urls.count])
                        request.method = .POST
                        request.headers.add(name: "Content-Type", value: "application/json")
                        request.body = .bytes(ByteBuffer(bytes: bodies[order[index]]))
                        let response = try await client.execute(request, timeout: .seconds(120))
                        _ = try await response.body.collect(upTo: 1 << 20)
                        counts[Int(response.status.code), default: 0] += 1
                    }
                    return counts
                }
            }
            return try await tasks.reduce(into: [Int: Int]()) { total, counts in total.merge(counts, uniquingKeysWith: +) }
        }
        XCTAssertEqual(statuses, [200: posts], "every post answered 200 once its incident was durable")
        let reader = PostgresRunStore(database, owner: "reader")
        let started = { try await reader.summaries().filter { $0.playbookID == "quick-001" && !$0.targets.contains("seed") } }
        let finished: [RunSummary]
        do {
            finished = try await ServeProcess.poll("50 runs finished", seconds: 240) { () async throws -> [RunSummary]? in
                let runs = try await started()
                return runs.count >= incidents && runs.allSatisfy { $0.status == .finished } ? runs : nil
            }
        } catch {
            let runs = try await started()
            let logs = servers.map { String($0.stderr.suffix(1500)) }.joined(separator: "\n---\n")
                + "\nfirst incident: " + ((try? await PostgresIncidents(database).all().first?.body) ?? "none")
            return XCTFail("\(error): \(runs.count) runs, \(Dictionary(grouping: runs, by: \.status.rawValue).mapValues(\.count)); servers said:\n\(logs)")
        }
        XCTAssertEqual(finished.count, incidents, "one run per incident, whichever server each post reached")
        XCTAssertTrue(finished.allSatisfy { $0.outcome == .succeeded }, "\(finished.map { "\($0.id) \($0.outcome?.rawValue ?? "-")" })")
        let notes = workspace.effectLines
        XCTAssertEqual(notes.count, incidents, "each incident's step ran once: \(notes.count) lines")
        XCTAssertEqual(Set(notes), Set((0..<incidents).map { "step 1 host-\($0)" }))
        let opened = try await PostgresIncidents(database).keys()
        XCTAssertEqual(opened.count, incidents)
    }

    /// A fresh migrated database and its address (`--store`).
    private func sharedDatabase() async throws -> (StateDatabase, String) {
        let database = try await databases(1)[0]
        return (database, try server().address(database.location))
    }
}
