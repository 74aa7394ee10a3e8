import Foundation
@testable import MedicKnowledge
import XCTest

/// The immune memory's typed actions (seed-systems §1): their topics, how they are stored and
/// learned, and the record of a cure.
final class RemediationActionTypeTests: XCTestCase {
    private let start = Date(timeIntervalSince1970: 1_800_000_000)

    func testEachTypeHasTheSeedsTopicAndBackAgain() {
        let topics = Dictionary(uniqueKeysWithValues: RemediationActionType.allCases.map { ($0.rawValue, $0.topic) })
        XCTAssertEqual(topics, [
            "RestartPlugin": "plugin.lifecycle.restart", "TripCircuitBreaker": "resilience.circuit-breaker.trip",
            "DrainConnections": "connectivity.drain", "ScaleDown": "cluster.autoscale.down", "IsolateNode": "cluster.node.isolate",
            "RerouteTraffic": "loadbalancer.reroute", "RestoreFromCheckpoint": "disaster-recovery.restore-checkpoint",
            "NotifyOperator": "observability.alert.operator", "Custom": "chaos.remediation.custom",
        ])
        for type in RemediationActionType.allCases { XCTAssertEqual(RemediationActionType(topic: type.topic), type) }
        XCTAssertNil(RemediationActionType(topic: "dev.medic.remediation.finished"))
    }

    func testATypedActionIsStoredWithItsParametersAndAnOldDocumentStillLoads() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("medic-typed-\(UUID().uuidString)")
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        let kb = try KnowledgeBase(directory: dir.path)
        var memory = ImmuneMemory()
        let fault = FaultSignature(faultType: "plugin-crash", components: ["edge-1"], pattern: "plugin-crash:edge")
        let typed = RemediationAction(playbookID: "edge", action: "restart", priority: 1, timeout: 5, type: .restartPlugin,
                                      parameters: ["plugin": "cache"])
        let step = RemediationAction(playbookID: "edge", action: "log", priority: 2)
        _ = memory.learn(RemediationOutcome(signature: fault, actions: [step, typed], succeeded: true, origin: .run), at: start)
        try ImmuneMemoryDocument.save(memory, to: kb)
        let text = try String(contentsOfFile: ImmuneMemoryDocument.path(in: kb), encoding: .utf8)
        XCTAssertTrue(text.contains("\"type\" : \"RestartPlugin\""), text)
        XCTAssertEqual(text.components(separatedBy: "\"type\"").count, 2, "an untyped action stores no type: \(text)")
        let loaded = try ImmuneMemoryDocument.load(from: kb, at: start).memory
        XCTAssertEqual(loaded, memory)
        XCTAssertEqual(loaded.entries.first?.actions, [typed, step])

        // A document written before actions had types: its actions load untyped.
        var document = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        var entries = try XCTUnwrap(document["entries"] as? [[String: Any]])
        entries[0]["actions"] = try XCTUnwrap(entries[0]["actions"] as? [[String: Any]]).map {
            $0.filter { $0.key != "type" && $0.key != "parameters" }
        }
        document["entries"] = entries
        let old = try JSONSerialization.data(withJSONObject: document)
        XCTAssertFalse(String(decoding: old, as: UTF8.self).contains("RestartPlugin"))
        try old.write(to: URL(fileURLWithPath: ImmuneMemoryDocument.path(in: kb)))
        let actions = try XCTUnwrap(try ImmuneMemoryDocument.load(from: kb, at: start).memory.entries.first?.actions)
        XCTAssertEqual(actions.map(\.type), [nil, nil])
        XCTAssertEqual(actions.map(\.parameters), [nil, nil])
    }

    func testAnExperimentNamesTypesAndParameters() throws {
        let parsed = try ChaosExperimentResult.parse("""
            {"fault_type": "f", "components": [], "pattern": "f", "succeeded": true,
             "remediation": [{"playbook_id": "p", "action": "trip", "type": "TripCircuitBreaker", "parameters": {"breaker": "db"}},
                             {"playbook_id": "p", "action": "page"}]}
            """, source: "x")
        XCTAssertEqual(parsed.first?.actions.map(\.type), [.tripCircuitBreaker, nil])
        XCTAssertEqual(parsed.first?.actions.first?.parameters, ["breaker": "db"])
        XCTAssertThrowsError(try ChaosExperimentResult.parse("""
            {"fault_type": "f", "components": [], "pattern": "f", "succeeded": true,
             "remediation": [{"playbook_id": "p", "action": "a", "type": "ScaleDown", "parameters": {"n": 3}}]}
            """, source: "x")) { error in
            XCTAssertTrue("\(error)".contains("remediation[0].parameters.n' must be a string"), "\(error)")
        }
    }

    func testACureRecordCountsItsActions() throws {
        func action(_ status: ImmuneCureRecord.Status) -> ImmuneCureRecord.Action {
            .init(type: .scaleDown, topic: "cluster.autoscale.down", playbookID: "p", action: "a", priority: 1, timeout: 30,
                  status: status, acknowledged: status != .timedOut, seconds: 0.5, eventID: "e", error: status == .succeeded ? nil : "no")
        }
        let record = ImmuneCureRecord(cureID: "cure-1", signatureID: "s", faultType: "f", pattern: "p", transport: "webhook",
                                      startedAt: start, finishedAt: start + 1.5, seconds: 1.5,
                                      actions: [action(.succeeded), action(.failed), action(.timedOut)], skipped: [])
        XCTAssertEqual([record.total, record.succeeded, record.failed], [3, 1, 2])
        XCTAssertEqual(record.startedAt, "2027-01-15T08:00:00.000Z")
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("medic-cures-\(UUID().uuidString)")
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        let store = FileKnowledgeStore(directory: dir.path)
        XCTAssertEqual(try ImmuneCureLog.records(in: store).records, [], "no knowledge base yet: no record, nothing created")
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir.path))
        try ImmuneCureLog.append(record, to: store)
        try ImmuneCureLog.append(record, to: store)
        XCTAssertEqual(try ImmuneCureLog.records(in: store).records, [record, record])
        XCTAssertEqual(try ImmuneCureLog.records(in: store, signatureID: "other").records, [])
    }
}
