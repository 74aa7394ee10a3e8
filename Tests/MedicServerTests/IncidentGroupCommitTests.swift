import Foundation
import MedicServer
import XCTest

/// `FileIncidentStore.open` with group commit, against the guarantees written on
/// `IncidentStoring`: an atomic claim of a key across stores (two stores on one folder are two
/// committers, as two processes are), durable before it returns (a file a crash lost is written
/// again from the log of openings), whole, and a failure changes nothing.
final class IncidentGroupCommitTests: XCTestCase {
    func state() throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("medic-incidents-\(UUID().uuidString)")
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir.path
    }

    /// An incident as the intake decides one, decoded from its stored form.
    static func incident(_ key: String, run: String = UUID().uuidString) -> AlertIncident {
        let object: [String: Any] = [
            "key": key, "fingerprint": "f", "group_key": "{}:{}", "receiver": "medic", "status": "firing", "labels": ["alertname": "X"],
            "annotations": [:], "starts_at": "2026-12-06T05:00:00.000Z", "generator_url": "", "opened_at": "2026-12-06T05:00:01.000Z",
            "handling": "alertname", "playbook": "p", "parameters": [:], "run_id": run,
        ]
        return try! JSONDecoder().decode(AlertIncident.self, from: JSONSerialization.data(withJSONObject: object))
    }

    /// The log of openings does not grow for the life of the server: every `logCompactedAfter`
    /// incidents it is emptied, its incidents made durable where they lie, and none is lost.
    func testTheLogOfOpeningsIsEmptiedAsItGrowsAndKeepsEveryIncident() async throws {
        let state = try state()
        let store = try FileIncidentStore(stateDirectory: state, logCompactedAfter: 10)
        for number in 0..<35 {
            let opened = try await store.open(Self.incident("k-\(number)"))
            XCTAssertTrue(opened.created)
        }
        let log = (try? String(contentsOfFile: state + "/incidents/.opened.jsonl", encoding: .utf8)) ?? ""
        let lines = log.split(separator: "\n").count
        XCTAssertLessThan(lines, 10, "the log was emptied as it grew: \(lines) lines")
        let all = store.all()
        XCTAssertEqual(all.incidents.count, 35)
        XCTAssertEqual(all.problems, [])
        // A repeat of an incident from before a compaction is found, not opened again.
        let again = try await store.open(Self.incident("k-0"))
        XCTAssertFalse(again.created)
    }

    func testConcurrentOpensOfOneKeyThroughTwoStoresCreateItExactlyOnceAndShareFsyncs() async throws {
        let state = try state()
        let stores = [try FileIncidentStore(stateDirectory: state), try FileIncidentStore(stateDirectory: state)]
        let keys = 40, opensPerKey = 10
        let answers = try await withThrowingTaskGroup(of: (String, AlertIncident, Bool).self) { tasks in
            for key in 0..<keys {
                for attempt in 0..<opensPerKey {
                    tasks.addTask {
                        let opened = try await stores[attempt % 2].open(Self.incident("k-\(key)"))
                        return ("k-\(key)", opened.incident, opened.created)
                    }
                }
            }
            return try await tasks.reduce(into: [(String, AlertIncident, Bool)]()) { $0.append($1) }
        }
        XCTAssertEqual(answers.count, keys * opensPerKey)
        for key in 0..<keys {
            let ofKey = answers.filter { $0.0 == "k-\(key)" }
            XCTAssertEqual(ofKey.filter(\.2).count, 1, "exactly one open created k-\(key)")
            let stored = try XCTUnwrap(try stores[0].incident(key: "k-\(key)"))
            XCTAssertTrue(ofKey.allSatisfy { $0.1 == stored }, "every open answers the incident stored, with its run")
        }
        let batches = stores[0].openBatches + stores[1].openBatches
        XCTAssertLessThan(batches, keys * opensPerKey / 2, "concurrent opens share their commits: \(batches) batches")
        XCTAssertEqual(stores[0].all().problems, [])
    }

    func testAnAcknowledgedIncidentWhoseFileACrashLostOrCutIsWrittenAgain() async throws {
        let state = try state()
        let store = try FileIncidentStore(stateDirectory: state)
        let lost = Self.incident("lost"), cut = Self.incident("cut")
        for incident in [lost, cut] {
            let opened = try await store.open(incident)
            XCTAssertTrue(opened.created)
        }
        // What a crash can leave of files whose data were never fsync'ed on their own.
        try FileManager.default.removeItem(atPath: store.path(key: "lost"))
        try Data().write(to: URL(fileURLWithPath: store.path(key: "cut")))
        let reopened = try FileIncidentStore(stateDirectory: state)
        XCTAssertEqual(try reopened.incident(key: "lost"), lost)
        XCTAssertEqual(try reopened.incident(key: "cut"), cut)
        XCTAssertEqual(reopened.all().problems, [])
    }

    func testANameACrashLeftDamagedBeforeItWasAcknowledgedIsTakenOver() async throws {
        let state = try state()
        let store = try FileIncidentStore(stateDirectory: state)
        // A name linked, its data lost, and no answer sent: the retry opens the incident.
        try Data().write(to: URL(fileURLWithPath: store.path(key: "torn")))
        let incident = Self.incident("torn")
        let opened = try await store.open(incident)
        XCTAssertTrue(opened.created)
        XCTAssertEqual(try store.incident(key: "torn"), incident)
        let again = try await store.open(Self.incident("torn"))
        XCTAssertFalse(again.created)
        XCTAssertEqual(again.incident, incident)
    }

    func testTheLogOfOpeningsIsEmptiedWhenTheNextProcessFirstOpens() async throws {
        let state = try state()
        let first = try FileIncidentStore(stateDirectory: state)
        for index in 0..<10 { _ = try await first.open(Self.incident("a-\(index)")) }
        let log = first.directory + "/.opened.jsonl"
        XCTAssertEqual(try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n").count, 10)
        let next = try FileIncidentStore(stateDirectory: state)
        _ = try await next.open(Self.incident("b"))
        XCTAssertEqual(try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n").count, 1, "the earlier openings were settled")
        XCTAssertEqual(next.all().incidents.count, 11)
    }

    func testAFailedOpenChangesNothingAndReadersNeverSeeAPart() async throws {
        let state = try state()
        let store = try FileIncidentStore(stateDirectory: state)
        _ = try await store.open(Self.incident("kept"))
        do {
            _ = try await store.open(Self.incident("no-such-folder/x"))
            XCTFail("an incident whose name cannot be made is refused")
        } catch {}
        let reader = Task.detached { () -> [String] in
            var problems: [String] = []
            for _ in 0..<200 { problems += store.all().problems }
            return problems
        }
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            for index in 0..<100 { tasks.addTask { _ = try await store.open(Self.incident("w-\(index)")) } }
            try await tasks.waitForAll()
        }
        let problems = await reader.value
        XCTAssertEqual(problems, [], "a reader sees each incident whole")
        let names = try FileManager.default.contentsOfDirectory(atPath: store.directory)
        XCTAssertEqual(names.filter { $0.hasPrefix(".tmp-") }, [], "no temporary file is left")
        XCTAssertFalse(try String(contentsOfFile: store.directory + "/.opened.jsonl", encoding: .utf8).contains("no-such-folder"))
        XCTAssertEqual(store.all().incidents.count, 101)
    }
}
