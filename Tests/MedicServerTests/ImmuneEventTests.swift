import Foundation
import MedicServeTestKit
import XCTest

/// The immune events API of `medic serve` over real HTTP: events stored once in
/// `<state>/events/events.jsonl`, summarised by `/api/v1/health`, published on the bus.
final class ImmuneEventTests: XCTestCase {
    struct Library {
        let dir: URL
        var state: String { dir.appendingPathComponent("state").path }
        var eventsFile: String { state + "/events/events.jsonl" }
        var arguments: [String] { ["--root", dir.path, "--state-dir", state] }

        /// The stored lines, each read as JSON.
        var storedLines: [[String: Any]] {
            let text = (try? String(contentsOfFile: eventsFile, encoding: .utf8)) ?? ""
            return text.split(separator: "\n").map { (try? JSONSerialization.jsonObject(with: Data($0.utf8))) as? [String: Any] ?? [:] }
        }

        /// The CloudEvents in the bus outbox (the default transport), read as JSON.
        var outbox: [[String: Any]] {
            let text = (try? String(contentsOfFile: state + "/outbox.jsonl", encoding: .utf8)) ?? ""
            return text.split(separator: "\n").compactMap { (try? JSONSerialization.jsonObject(with: Data($0.utf8))) as? [String: Any] }
        }
    }

    /// An empty library: the events API needs no playbook.
    func library() throws -> Library {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("medic-events-\(UUID().uuidString)")
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        for folder in ["actions", "playbooks"] {
            try FileManager.default.createDirectory(at: dir.appendingPathComponent(folder), withIntermediateDirectories: true)
        }
        return Library(dir: dir)
    }

    static func event(_ fields: [String: Any]) -> Data {
        try! JSONSerialization.data(withJSONObject: fields, options: [.sortedKeys])
    }

    static var critical: [String: Any] { ["id": "evt-1", "agent_id": "agent-7", "module": "payments", "severity": "CRITICAL",
                                          "type": "ERROR_SPIKE", "message": "errors at 40%", "meta": ["rate": 0.4, "hosts": ["a", "b"]]] }

    func testAnEventIsStoredOnceSummarisedInHealthAndPublishedOnTheBus() async throws {
        let lib = try library()
        var serve = try await ServeProcess(self, in: lib.dir, arguments: lib.arguments)
        let first = try await serve.post("/api/v1/events", body: Self.event(Self.critical))
        XCTAssertEqual(first.status, 201, first.body)
        XCTAssertEqual(first.json["id"] as? String, "evt-1")
        let retry = try await serve.post("/api/v1/events", body: Self.event(Self.critical))
        XCTAssertEqual(retry.status, 200, retry.body)
        XCTAssertEqual(retry.json["id"] as? String, "evt-1")
        XCTAssertEqual(retry.json["stored"] as? Bool, false)
        var other = Self.critical
        other["message"] = "something else"
        let conflict = try await serve.post("/api/v1/events", body: Self.event(other))
        XCTAssertEqual(conflict.status, 409, conflict.body)
        XCTAssertEqual(conflict.json["field"] as? String, "id")
        let anonymous = try await serve.post("/api/v1/events", body: Self.event(["severity": "INFO", "type": "SELF_HEALING_ACTION", "message": "restarted"]))
        XCTAssertEqual(anonymous.status, 201, anonymous.body)
        let generated = try XCTUnwrap(anonymous.json["id"] as? String)
        XCTAssertNotNil(UUID(uuidString: generated), generated)
        let old = try await serve.post("/api/v1/events", body: Self.event(["id": "evt-old", "severity": "WARNING", "type": "POLICY_VIOLATION",
                                                                          "message": "long ago", "created_at": "2020-01-01T00:00:00Z"]))
        XCTAssertEqual(old.status, 201, old.body)

        XCTAssertEqual(lib.storedLines.map { $0["id"] as? String }, ["evt-1", generated, "evt-old"])
        let meta = try XCTUnwrap(lib.storedLines.first?["meta"] as? [String: Any])
        XCTAssertEqual(meta["rate"] as? Double, 0.4)
        XCTAssertEqual(meta["hosts"] as? [String], ["a", "b"])

        let health = try await serve.get("/api/v1/health?window=1h")
        XCTAssertEqual(health.status, 200, health.body)
        XCTAssertEqual(health.json["total"] as? Int, 2, health.body)
        let bySeverity = try XCTUnwrap(health.json["by_severity"] as? [String: [String: Any]], health.body)
        XCTAssertEqual(bySeverity["CRITICAL"]?["count"] as? Int, 1)
        XCTAssertEqual(bySeverity["INFO"]?["count"] as? Int, 1)
        XCTAssertEqual(bySeverity["WARNING"]?["count"] as? Int, 0, "the old event is outside the window")
        XCTAssertNotNil(bySeverity["CRITICAL"]?["latest"] as? String)
        let byType = try XCTUnwrap(health.json["by_type"] as? [String: [String: Any]], health.body)
        XCTAssertEqual(byType["ERROR_SPIKE"]?["count"] as? Int, 1)
        XCTAssertEqual(byType["SELF_HEALING_ACTION"]?["count"] as? Int, 1)
        XCTAssertEqual(byType["POLICY_VIOLATION"]?["count"] as? Int, 0)
        XCTAssertNotNil(health.json["latest"] as? [String: Any])
        let wide = try await serve.get("/api/v1/health?window=30d")
        XCTAssertEqual(wide.json["total"] as? Int, 2, "2020 is outside 30 days too: \(wide.body)")

        // Published once each, the CRITICAL one on both topics.
        let published = try await ServeProcess.poll("the events on the bus (stderr: \(serve.stderr))") { () -> [[String: Any]]? in
            let events = lib.outbox
            return events.count >= 4 ? events : nil
        }
        let topics = published.map { "\($0["type"] as? String ?? "") \(($0["data"] as? [String: Any])?["id"] as? String ?? "")" }
        XCTAssertEqual(topics.sorted(), ["immune.critical_event evt-1", "immune.event_published \(generated)",
                                         "immune.event_published evt-1", "immune.event_published evt-old"].sorted())

        // A retry after a restart is still stored once: the ids are read back from the file.
        _ = try await serve.stop()
        serve = try await ServeProcess(self, in: lib.dir, arguments: lib.arguments)
        let afterRestart = try await serve.post("/api/v1/events", body: Self.event(Self.critical))
        XCTAssertEqual(afterRestart.status, 200, afterRestart.body)
        XCTAssertEqual(lib.storedLines.count, 3)
        let again = try await serve.get("/api/v1/health")
        XCTAssertEqual(again.json["total"] as? Int, 2, again.body)
    }

    func testBadEventsGet400NamingTheFieldAndStoreNothing() async throws {
        let lib = try library()
        let serve = try await ServeProcess(self, in: lib.dir, arguments: lib.arguments)
        let valid: [String: Any] = ["severity": "WARNING", "type": "POLICY_VIOLATION", "message": "m"]
        func with(_ key: String, _ value: Any?) -> Data {
            var fields = valid
            fields[key] = value
            return Self.event(fields)
        }
        let cases: [(body: Data, field: String?)] = [
            (Data("{\"severity\": ".utf8), nil),
            (Data("[1, 2]".utf8), nil),
            (with("severity", nil), "severity"),
            (with("severity", "FATAL"), "severity"),
            (with("severity", 3), "severity"),
            (with("type", "OOPS"), "type"),
            (with("message", ""), "message"),
            (with("message", nil), "message"),
            (with("id", 17), "id"),
            (with("id", String(repeating: "x", count: 300)), "id"),
            (with("agent_id", "a\u{7}b"), "agent_id"),
            (with("created_at", "yesterday"), "created_at"),
            (with("colour", "red"), "colour"),
        ]
        for (body, field) in cases {
            let answer = try await serve.post("/api/v1/events", body: body)
            XCTAssertEqual(answer.status, 400, "\(String(decoding: body, as: UTF8.self)): \(answer.body)")
            XCTAssertNotNil(answer.json["error"] as? String, answer.body)
            XCTAssertEqual(answer.json["field"] as? String, field, "\(String(decoding: body, as: UTF8.self)): \(answer.body)")
        }
        var huge = valid
        huge["message"] = String(repeating: "x", count: 2 << 20)
        let tooLarge = try await serve.post("/api/v1/events", body: Self.event(huge))
        XCTAssertEqual(tooLarge.status, 413, tooLarge.body)
        let text = try await serve.post("/api/v1/events", body: Self.event(valid), contentType: "text/plain")
        XCTAssertEqual(text.status, 415, text.body)
        for window in ["soon", "0h", "31d", "1.5h", "-1h"] {
            let health = try await serve.get("/api/v1/health?window=\(window)")
            XCTAssertEqual(health.status, 400, "\(window): \(health.body)")
            XCTAssertEqual(health.json["field"] as? String, "window", health.body)
        }
        XCTAssertEqual(lib.storedLines.count, 0, "no bad post stored an event")
        let summary = try await serve.get("/api/v1/health")
        XCTAssertEqual(summary.json["total"] as? Int, 0, summary.body)
        let accepted = try await serve.post("/api/v1/events", body: Self.event(valid))
        XCTAssertEqual(accepted.status, 201, "the server still takes events: \(accepted.body)")
    }

    func testTwoHundredConcurrentPostsAreEachStoredExactlyOnce() async throws {
        let lib = try library()
        let serve = try await ServeProcess(self, in: lib.dir, arguments: lib.arguments)
        // Every event posted twice at once (a client retrying before its first answer came).
        let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
            for index in 0..<200 {
                for _ in 0..<2 {
                    group.addTask {
                        try await serve.post("/api/v1/events", body: Self.event(["id": "load-\(index)", "severity": "INFO", "type": "ERROR_SPIKE",
                                                                                 "message": "event \(index)"])).status
                    }
                }
            }
            return try await group.reduce(into: [Int]()) { $0.append($1) }
        }
        let byStatus = Dictionary(grouping: statuses, by: { $0 }).mapValues(\.count)
        XCTAssertEqual(byStatus, [201: 200, 200: 200], "one 201 (stored) and one 200 (a retry) per event")
        let ids = lib.storedLines.compactMap { $0["id"] as? String }
        XCTAssertEqual(ids.count, 200)
        XCTAssertEqual(Set(ids), Set((0..<200).map { "load-\($0)" }))
        let health = try await serve.get("/api/v1/health")
        XCTAssertEqual(health.json["total"] as? Int, 200, health.body)
    }

    func testABusThatCannotBeReachedDoesNotFailThePost() async throws {
        let lib = try library()
        let serve = try await ServeProcess(self, in: lib.dir, arguments: lib.arguments + ["--bus", "webhook:http://127.0.0.1:1/events"])
        let answer = try await serve.post("/api/v1/events", body: Self.event(Self.critical))
        XCTAssertEqual(answer.status, 201, answer.body)
        XCTAssertEqual(lib.storedLines.count, 1)
        _ = try await ServeProcess.poll("the warning that the event was not published") { () -> Bool? in
            serve.stderr.contains("immune event evt-1 not published as immune.critical_event") ? true : nil
        }
        let health = try await serve.get("/healthz")
        XCTAssertEqual(health.status, 200)
    }
}
