import Foundation
import MedicEngine
import MedicKnowledge
import MedicPostgres
import MedicServeTestKit
import XCTest

/// The knowledge base and the immune memory shared through the database: what one server's
/// run teaches, every server ranks with, and a dead server takes none of it with it.
final class SharedKnowledgeTests: PostgresTestCase {
    /// A route with two candidates: the incident's ranking (`GET /api/v1/incidents/{key}`) says
    /// what the knowledge base knows of each.
    static let rankedRoute = "\n" + """
          - match: {alertname: Ranked}
            playbooks: [quick-001, long-001]
            target_label: instance

        """

    /// A run finished on server A is learned in the database: once A is killed (its state
    /// directory gone with its host), server B ranks a new incident with A's run in the history.
    /// (An alert's run names no fault signature, so it teaches the immune memory nothing; the
    /// memory's sharing is the store's test below.)
    func testARunFinishedOnOneServerIsLearnedByTheOtherAfterTheFirstDies() async throws {
        let (database, address) = try await sharedDatabase()
        let workspace = try await SharedServeWorkspace(self, address: address, database: database)
        let config = workspace.dir.appendingPathComponent("medic.yaml")
        try (try String(contentsOf: config, encoding: .utf8) + Self.rankedRoute).write(to: config, atomically: true, encoding: .utf8)
        let a = try await workspace.serve(self, "teacher")
        let b = try await workspace.serve(self, "learner")

        let first = try await a.post("/api/v1/alerts", body: SharedServeWorkspace.post(alertname: "Ranked", fingerprint: "7100000000000001",
                                                                                        instance: "ranked-a"))
        XCTAssertEqual(first.status, 200, first.body)
        let runID = try XCTUnwrap((first.json["incidents"] as? [[String: Any]])?.first?["run"] as? String, first.body)
        let reader = PostgresRunStore(database, owner: "reader")
        let finished = try await ServeProcess.poll("run \(runID) finished (teacher said: \(a.stderr.suffix(1500)))", seconds: 120) {
            () async throws -> RunSummary? in
            try await reader.summaries().first { $0.id == runID && $0.status == .finished }
        }
        XCTAssertEqual(finished.outcome, .succeeded)
        XCTAssertEqual(finished.playbookID, "quick-001", "with no history the tie goes to the first candidate")
        let knowledge = PostgresKnowledgeStore(database)
        let recorded = try await ServeProcess.poll("the incident record of \(runID) in the database", seconds: 60) { () -> [IncidentRecord]? in
            let records = try Self.incidentRecords(knowledge)
            return records.contains { $0.runID == runID } ? records : nil
        }
        XCTAssertEqual(recorded.filter { $0.runID == runID }.count, 1)
        // The teacher's host is lost: the process and its state directory.
        kill(a.process.processIdentifier, SIGKILL)
        a.process.waitUntilExit()
        try FileManager.default.removeItem(at: workspace.dir.appendingPathComponent("state-teacher"))

        let second = try await b.post("/api/v1/alerts", body: SharedServeWorkspace.post(alertname: "Ranked", fingerprint: "7100000000000002",
                                                                                         instance: "ranked-b"))
        XCTAssertEqual(second.status, 200, second.body)
        let key = try XCTUnwrap((second.json["incidents"] as? [[String: Any]])?.first?["key"] as? String, second.body)
        let got = try await b.get("/api/v1/incidents/\(key)")
        XCTAssertEqual(got.status, 200, got.body)
        let ranking = try XCTUnwrap((got.json["incident"] as? [String: Any])?["ranking"] as? [String: Any], got.body)
        let candidates = try XCTUnwrap(ranking["candidates"] as? [[String: Any]], got.body)
        let quick = try XCTUnwrap(candidates.first { $0["playbook"] as? String == "quick-001" }, got.body)
        XCTAssertTrue((quick["why"] as? String ?? "").contains("1 of 1 run(s) succeeded"),
                      "server B ranks with the run server A finished: \(quick["why"] ?? "none")")
        let long = try XCTUnwrap(candidates.first { $0["playbook"] as? String == "long-001" }, got.body)
        XCTAssertTrue((long["why"] as? String ?? "").contains("no run recorded"), "\(long["why"] ?? "none")")
        XCTAssertFalse(FileManager.default.fileExists(atPath: workspace.dir.appendingPathComponent("state-learner/knowledge").path),
                       "with --store nothing is learned into a server's own directory")
    }

    /// Two stores on two pools appending the same incident record (a run finished, then recorded
    /// again by a server that took it over, or a retry): one record. A follower reading from a
    /// position gets exactly what was appended after it, from whichever instance.
    func testAnIncidentRecordIsStoredOncePerRunAndFollowersSeeEveryInstancesRecords() async throws {
        let databases = try await databases(2)
        let (left, right) = (PostgresKnowledgeStore(databases[0]), PostgresKnowledgeStore(databases[1]))
        func record(_ run: String, _ playbook: String) -> [UInt8] {
            Array(#"{"playbook_id":"\#(playbook)","run_id":"\#(run)","x":1}"#.utf8)
        }
        try left.append(record("run-1", "p"), to: .incidentHistory, durable: true)
        try right.append(record("run-1", "p"), to: .incidentHistory, durable: true)
        try right.appendBatch([record("run-2", "p"), record("run-1", "p"), record("run-3", "q")], to: .incidentHistory, durable: true)
        var lines: [String] = []
        let position = try left.forEachLine(in: .incidentHistory, after: .start, restarting: { XCTFail("no restart") }) {
            lines.append(String(decoding: $0, as: UTF8.self))
        }
        XCTAssertEqual(lines, [record("run-1", "p"), record("run-2", "p"), record("run-3", "q")].map { String(decoding: $0, as: UTF8.self) },
                       "each run's record once, in the order appended")
        try left.append(record("run-4", "q"), to: .incidentHistory, durable: true)
        var after: [String] = []
        _ = try right.forEachLine(in: .incidentHistory, after: position, restarting: { XCTFail("no restart") }) {
            after.append(String(decoding: $0, as: UTF8.self))
        }
        XCTAssertEqual(after, [String(decoding: record("run-4", "q"), as: UTF8.self)])
        XCTAssertThrowsError(try left.append(Array("not json".utf8), to: .incidentHistory, durable: true))
        var count = 0
        try right.forEachLine(in: .incidentHistory) { _, number in count = number }
        XCTAssertEqual(count, 4, "a refused record changes nothing")
        XCTAssertNil(try left.readDocument(.rootCauses))
        try left.replaceDocument(Array(#"{"causes":[]}"#.utf8), of: .rootCauses)
        XCTAssertEqual(try right.readDocument(.rootCauses).map { String(decoding: $0, as: UTF8.self) }, #"{"causes":[]}"#)
    }

    /// Four instances teaching the memory at once, 25 lessons each, each about a fault of its
    /// own: none of the 100 updates is lost.
    func testConcurrentUpdatesOfTheImmuneMemoryLoseNone() async throws {
        let databases = try await databases(4)
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            for (instance, database) in databases.enumerated() {
                tasks.addTask {
                    let memory = PostgresImmuneMemory(database)
                    for lesson in 0..<25 {
                        let signature = FaultSignature(faultType: "fault-\(instance)-\(lesson)", components: ["c"], pattern: "p:\(instance)")
                        let outcome = RemediationOutcome(signature: signature, actions: [RemediationAction(playbookID: "cure", action: "a",
                                                                                                        priority: 1, timeout: 1)],
                                                         succeeded: true, origin: .run, originID: "run-\(instance)-\(lesson)")
                        _ = try memory.update(capacity: ImmuneMemory.defaultCapacity, at: Date()) { memory in
                            ((), memory.learn(outcome, at: Date()))
                        }
                    }
                }
            }
            try await tasks.waitForAll()
        }
        let memory = try PostgresImmuneMemory(databases[0]).read(capacity: ImmuneMemory.defaultCapacity, at: Date())
        XCTAssertEqual(memory.count, 100)
    }

    static func incidentRecords(_ store: PostgresKnowledgeStore) throws -> [IncidentRecord] {
        var records: [IncidentRecord] = []
        try store.forEachLine(in: .incidentHistory) { line, _ in
            records.append(try JSONDecoder().decode(IncidentRecord.self, from: Data(line)))
        }
        return records
    }
}
