import Foundation
import MedicEngine
import MedicKnowledge
import MedicPostgres
import MedicServeTestKit
import XCTest

/// The knowledge base's records and the immune memory in the database, at the store: each
/// record once, every instance's records seen by a follower, no update of the memory lost.
final class SharedKnowledgeTests: PostgresTestCase {
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
