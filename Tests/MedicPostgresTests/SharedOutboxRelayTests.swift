import Foundation
import MedicEngine
import MedicPostgres
import MedicServeTestKit
import XCTest

/// The bus outbox of servers sharing one PostgreSQL: a run's bus step publishes into the
/// database, and whichever server relays (`--relay`) delivers it, once each in normal operation,
/// and also when the server that ran the step is dead by then.
final class SharedOutboxRelayTests: PostgresTestCase {
    func testEventsStoredByAServerThatDiedAreDeliveredByAnotherAndEachOnce() async throws {
        let database = try await databases(1)[0]
        let address = try server().address(database.location)
        let ws = try await SharedServeWorkspace(self, address: address, database: database)
        try """
            actions:
              announce:
                type: infrastructure
                executor: bus
                risk_level: low
                parameters: {host: required}
                topic: dev.example.restart
            """.write(to: ws.dir.appendingPathComponent("actions/announce.yaml"), atomically: true, encoding: .utf8)
        try """
            playbook_id: announce-001
            name: announce a restart
            version: 1.0.0
            category: infrastructure
            severity: SEV3
            parameters:
              host: {type: string, default: seed}
            remediation_steps:
              - {step: 1, name: announce, action: announce, parameters: {host: "${host}"}}
            metadata: {}
            """.write(to: ws.dir.appendingPathComponent("playbooks/announce.yaml"), atomically: true, encoding: .utf8)
        try """
            routes:
              - match: {alertname: Announce}
                playbook: announce-001
                target_label: instance
                parameters_from_labels: {host: instance}
            """.write(to: ws.dir.appendingPathComponent("medic.yaml"), atomically: true, encoding: .utf8)
        try await ws.seed("announce-001", into: database)
        let outbox = PostgresOutbox(database)
        let relayed = ws.dir.appendingPathComponent("relayed.jsonl")
        func delivered() -> [[String: Any]] {
            ((try? String(contentsOf: relayed, encoding: .utf8)) ?? "").split(separator: "\n")
                .compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        }
        let runs = PostgresRunStore(database, owner: "reader")
        func finished() async throws -> Int {
            try await runs.summaries().filter { $0.playbookID == "announce-001" && !$0.targets.contains("seed") && $0.status == .finished }.count
        }

        // A server that does not relay: its runs' events wait in the database; it is killed.
        let quiet = try await ws.serve(self, "quiet")
        for host in 0..<3 {
            let answer = try await quiet.post("/api/v1/alerts", body: SharedServeWorkspace.post(alertname: "Announce", fingerprint: String(format: "a%015x", host),
                                                                                               instance: "host-\(host)"))
            XCTAssertEqual(answer.status, 200, answer.body)
        }
        _ = try await ServeProcess.poll("3 runs finished (stderr: \(quiet.stderr.suffix(800)))") { try await finished() == 3 ? true : nil }
        // Each run's step event, and the immune memory's change as it learned the run's cure.
        _ = try await ServeProcess.poll("6 events in the database's outbox") { try await outbox.waiting() == 6 ? true : nil }
        _ = try await quiet.stop(with: SIGKILL)

        // Two relaying servers: the dead one's events, then their own, each delivered once.
        let relays = [try await ws.serve(self, "one", extra: ["--relay", "outbox:" + relayed.path]),
                      try await ws.serve(self, "two", extra: ["--relay", "outbox:" + relayed.path])]
        _ = try await ServeProcess.poll("the dead server's events delivered") { delivered().count >= 6 ? true : nil }
        for host in 3..<7 {
            let answer = try await relays[host % 2].post("/api/v1/alerts", body: SharedServeWorkspace.post(
                alertname: "Announce", fingerprint: String(format: "a%015x", host), instance: "host-\(host)"))
            XCTAssertEqual(answer.status, 200, answer.body)
        }
        _ = try await ServeProcess.poll("7 runs finished") { try await finished() == 7 ? true : nil }
        _ = try await ServeProcess.poll("the outbox drained") { try await outbox.waiting() == 0 ? true : nil }
        let all = delivered()
        XCTAssertEqual(Set(all.compactMap { $0["id"] as? String }).count, all.count, "each event delivered once: \(all)")
        let events = all.filter { $0["type"] as? String == "dev.example.restart" }
        XCTAssertEqual(events.count, 7, "each step's event delivered once: \(all)")
        let learned = all.filter { $0["type"] as? String == "chaos.immune-memory.changed" }
        XCTAssertEqual(learned.count, 7, "each run's lesson published once, by the server that ran it: \(all)")
        XCTAssertEqual(all.count, 14, "\(all)")
        let hosts = Set(events.compactMap { ($0["data"] as? [String: Any])?["host"] as? String })
        XCTAssertEqual(hosts, Set((0..<7).map { "host-\($0)" }))
    }
}
