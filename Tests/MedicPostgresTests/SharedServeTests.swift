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

    /// A server stopped (SIGSTOP) mid-run for longer than its lease: the other server takes the
    /// run over and finishes it; once the stopped one goes on (SIGCONT), the database refuses its
    /// late record (a stale fencing token), it says it lost the run, and no step runs twice.
    func testAServerPausedPastItsLeaseHasItsLateWritesRefusedAndNoticesIt() async throws {
        let (database, address) = try await sharedDatabase()
        let workspace = try await SharedServeWorkspace(self, address: address, database: database)
        let paused = try await workspace.serve(self, "paused", lease: 2)
        let answer = try await paused.post("/api/v1/alerts", body: SharedServeWorkspace.post(alertname: "Long", fingerprint: "5709000000000001",
                                                                                              instance: "stopped-host"))
        XCTAssertEqual(answer.status, 200, answer.body)
        let reader = PostgresRunStore(database, owner: "reader")
        _ = try await ServeProcess.poll("the paused server's run under way", seconds: 60) {
            workspace.effectLines.contains("step 3 stopped-host") ? true : nil
        }
        kill(paused.process.processIdentifier, SIGSTOP)
        let survivor = try await workspace.serve(self, "survivor", lease: 2, extra: ["--log-level", "info"])
        let run: RunSummary
        do {
            run = try await ServeProcess.poll("the run finished by the survivor", seconds: 120) { () async throws -> RunSummary? in
                try await reader.summaries().first { $0.targets == ["stopped-host"] && $0.status == .finished }
            }
        } catch {
            kill(paused.process.processIdentifier, SIGCONT)
            let runs = try await reader.summaries().filter { $0.targets == ["stopped-host"] }.map { "\($0.id) \($0.status.rawValue)" }
            return XCTFail("\(error): runs \(runs); the survivor said:\n\(survivor.stderr.suffix(3000))")
        }
        let recordsAtTakeover = try await reader.records(of: run.id).count
        kill(paused.process.processIdentifier, SIGCONT)
        // Paused between two transactions, its next record carries a stale token; paused inside
        // one, the database ended that session after 10 s and rolled it back. Either way the
        // run stops there, and it says so.
        let said = try await ServeProcess.poll("the paused server noticing it lost the run", seconds: 60) {
            paused.stderr.contains("run could not go on") ? paused.stderr : nil
        }
        XCTAssertTrue(said.contains(run.id), said)
        // Which lease it finds lost first depends on where it was paused: the run's (a stale
        // token), its session (ended by the database, or closed by the server itself when the
        // statement it sent before the pause had outlived its deadline: postgres-nio's
        // `clientClosedConnection`), or the target's (taken by the survivor).
        let lower = said.lowercased()
        XCTAssertTrue(lower.contains("no longer held with token") || lower.contains("terminat") || lower.contains("closed")
                      || lower.contains("the lease of target stopped-host was lost"), said)
        let records = try await reader.records(of: run.id)
        XCTAssertEqual(records.count, recordsAtTakeover, "the paused server wrote nothing after the takeover")
        XCTAssertEqual(records.last?.event, .runFinished)
        let steps = workspace.effectLines.filter { $0.hasSuffix(" stopped-host") }
        XCTAssertEqual(steps.count, Set(steps).count, "a step ran twice: \(steps)")
        _ = survivor
    }

    /// The alerts of one Alertmanager group (one playbook on one target), posted at once to two
    /// servers, again and again (20 rounds, each its own group): one run per group, the other
    /// alerts' incidents folded into it, whichever server each reached first.
    func testOneGroupsAlertsReachingTwoServersFoldIntoOneRun() async throws {
        let (database, address) = try await sharedDatabase()
        let workspace = try await SharedServeWorkspace(self, address: address, database: database)
        let servers = [try await workspace.serve(self, "left"), try await workspace.serve(self, "right")]
        let groups = 20, members = 3
        for group in 0..<groups {
            let bodies = (0..<members).map {
                SharedServeWorkspace.post(alertname: "Quick", fingerprint: String(format: "g%07x%08x", group, $0), instance: "grouped-\(group)")
            }
            let statuses = try await withThrowingTaskGroup(of: Int.self) { tasks in
                for body in bodies {
                    for server in servers { tasks.addTask { try await server.post("/api/v1/alerts", body: body).status } }
                }
                return try await tasks.reduce(into: [Int]()) { $0.append($1) }
            }
            XCTAssertEqual(statuses, Array(repeating: 200, count: members * servers.count))
        }
        let reader = PostgresRunStore(database, owner: "reader")
        let grouped = { try await reader.summaries().filter { $0.targets.first?.hasPrefix("grouped-") == true } }
        let runs: [RunSummary]
        do {
            runs = try await ServeProcess.poll("the groups' runs finished", seconds: 120) { () async throws -> [RunSummary]? in
                let runs = try await grouped()
                return runs.count >= groups && runs.allSatisfy { $0.status == .finished } ? runs : nil
            }
        } catch {
            let found = try await grouped()
            let incidents = await PostgresIncidentStore(database).all().incidents.filter { $0.target?.hasPrefix("grouped-") == true }
            return XCTFail("\(error): runs \(found.map { "\($0.targets) \($0.status.rawValue) \($0.outcome?.rawValue ?? "-")" }); "
                           + "incidents \(incidents.map { "\($0.target ?? "") run \($0.runID ?? "-") folded \($0.foldedInto ?? "-") \($0.reason ?? "")" })")
        }
        XCTAssertEqual(runs.count, groups, "one run per group: \(runs.map(\.targets))")
        XCTAssertEqual(Set(runs.flatMap(\.targets)).count, groups)
        let incidents = await PostgresIncidentStore(database).all().incidents.filter { $0.target?.hasPrefix("grouped-") == true }
        XCTAssertEqual(incidents.count, groups * members)
        XCTAssertEqual(incidents.filter { $0.foldedInto != nil }.count, groups * (members - 1), "all but each group's lead folded")
        XCTAssertEqual(workspace.effectLines.filter { $0.contains("grouped-") }.count, groups, "each group's step once")
    }
}

extension PostgresTestCase {
    /// A fresh migrated database and its address (`--store`).
    func sharedDatabase() async throws -> (StateDatabase, String) {
        let database = try await databases(1)[0]
        return (database, try server().address(database.location))
    }
}
