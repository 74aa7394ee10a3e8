import Foundation
import MedicEngine
import MedicEngineTestKit
import MedicModel
import XCTest

final class BusExecutorTests: XCTestCase {
    private func scratch() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("medic-bus-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        return dir
    }

    private func server(_ respond: @escaping @Sendable (LoopbackHTTPServer.Request) -> LoopbackHTTPServer.Response = { _ in .init() })
        throws -> LoopbackHTTPServer {
        let server = try LoopbackHTTPServer(respond: respond)
        addTeardownBlock { server.shutdown() }
        return server
    }

    private func request(topic: String = "plugin.lifecycle.restart", parameters: [String: String] = ["plugin": "cache"],
                         runID: String = "run-7", step: Int = 3, timeout: Double = 20) -> ExecutionRequest {
        ExecutionRequest(runID: runID, stepNumber: step, stepName: "restart the cache", action: "restart_plugin", purpose: .step,
                         executor: .bus, topic: topic, parameters: parameters, timeout: timeout)
    }

    /// The outbox's lines, each parsed as a JSON object, failing on a line that is not one.
    private func lines(of outbox: URL) throws -> [[String: Any]] {
        let text = try String(contentsOf: outbox, encoding: .utf8)
        XCTAssertTrue(text.hasSuffix("\n"))
        return try text.split(separator: "\n", omittingEmptySubsequences: false).dropLast().map { line in
            try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], "not an object: \(line)")
        }
    }

    func testOutboxGetsOneCloudEventPerLine() async throws {
        let outbox = try scratch().appendingPathComponent("outbox.jsonl")
        let clock = ManualClock()
        let bus = BusExecutor(transport: .outbox(path: outbox.path), clock: clock)
        let first = try await bus.execute(request())
        let second = try await bus.execute(request(topic: "connectivity.drain", parameters: ["node": "db-2"], step: 4))
        XCTAssertTrue(first.succeeded)
        XCTAssertEqual(first.summary, "published plugin.lifecycle.restart to outbox \(outbox.path)")

        let events = try lines(of: outbox)
        XCTAssertEqual(events.count, 2)
        XCTAssertEqual(events[0]["specversion"] as? String, "1.0")
        XCTAssertEqual(events[0]["type"] as? String, "plugin.lifecycle.restart")
        XCTAssertEqual(events[0]["source"] as? String, "medic/runs/run-7")
        XCTAssertEqual(events[0]["subject"] as? String, "restart the cache")
        XCTAssertEqual(events[0]["datacontenttype"] as? String, "application/json")
        XCTAssertEqual(events[0]["data"] as? [String: String], ["plugin": "cache"])
        XCTAssertEqual(events[0]["medicrun"] as? String, "run-7")
        XCTAssertEqual(events[0]["medicstep"] as? String, "3")
        XCTAssertEqual(events[0]["time"] as? String, "2027-01-15T08:00:00.000Z")
        XCTAssertEqual(events[0]["id"] as? String, first.outputs["event_id"])
        XCTAssertEqual(events[1]["type"] as? String, "connectivity.drain")
        XCTAssertEqual(events[1]["data"] as? [String: String], ["node": "db-2"])
        XCTAssertEqual(events[1]["medicstep"] as? String, "4")
        XCTAssertEqual(events[1]["id"] as? String, second.outputs["event_id"])
        XCTAssertNotEqual(first.outputs["event_id"], second.outputs["event_id"])
    }

    func testEventEncodingIsOneSortedLine() throws {
        let event = CloudEvent(id: "e-1", source: "medic/runs/r", type: "t", time: Date(timeIntervalSince1970: 1_800_000_000.25),
                               subject: "s", data: ["b": "2", "a": "1"], runID: "r", stepNumber: 2)
        let json = String(decoding: try event.structuredJSON(), as: UTF8.self)
        XCTAssertEqual(json, #"{"data":{"a":"1","b":"2"},"datacontenttype":"application/json","id":"e-1","medicrun":"r","# +
                             #""medicstep":"2","source":"medic/runs/r","specversion":"1.0","subject":"s","# +
                             #""time":"2027-01-15T08:00:00.250Z","type":"t"}"#)
        XCTAssertEqual(try CloudEvent.decode(structuredJSON: Data(json.utf8)), event)
    }

    func testHostileValuesRoundTripExactly() async throws {
        let outbox = try scratch().appendingPathComponent("outbox.jsonl")
        let hostile = [
            "quotes": #"say "hi" and \"escaped\" \ alone"#,
            "newlines": "one\ntwo\r\nthree\u{2028}four",
            "controls": "nul\u{0}bell\u{7}esc\u{1B}tab\t",
            "unicode": "héllo ☃ 🚑 中文 \u{FEFF}",
            "json": #"{"a": [1, 2]}"#,
        ]
        let bus = BusExecutor(transport: .outbox(path: outbox.path))
        let result = try await bus.execute(request(topic: "observability.alert.operator", parameters: hostile))

        let events = try lines(of: outbox)
        XCTAssertEqual(events.count, 1, "a value's line break must not split the event")
        XCTAssertEqual(events.first?["data"] as? [String: String], hostile)
        let line = try String(contentsOf: outbox, encoding: .utf8).dropLast()
        let event = try CloudEvent.decode(structuredJSON: Data(line.utf8))
        XCTAssertEqual(event.data, hostile)
        XCTAssertEqual(event.id, result.outputs["event_id"])
    }

    func testOutboxDirectoryIsCreatedAndFileIsPrivate() async throws {
        let outbox = try scratch().appendingPathComponent("var/lib/medic/outbox.jsonl")
        _ = try await BusExecutor(transport: .outbox(path: outbox.path)).execute(request())
        XCTAssertEqual(try lines(of: outbox).count, 1)
        let permissions = try FileManager.default.attributesOfItem(atPath: outbox.path)[.posixPermissions] as? Int
        XCTAssertEqual(permissions, 0o600)
    }

    func testUnwritableOutboxThrowsNamingThePath() async throws {
        let file = try scratch().appendingPathComponent("plain-file")
        try Data("not a directory".utf8).write(to: file)
        for outbox in [file.appendingPathComponent("outbox.jsonl").path, file.appendingPathComponent("sub/outbox.jsonl").path] {
            do {
                _ = try await BusExecutor(transport: .outbox(path: outbox)).execute(request())
                XCTFail("expected ExecutorError for \(outbox)")
            } catch let error as ExecutorError {
                XCTAssertTrue(error.description.contains(outbox), error.description)
                XCTAssertTrue(error.description.contains("Not a directory"), error.description)
            }
        }
    }

    func testConcurrentAppendsStayWholeLines() async throws {
        let outbox = try scratch().appendingPathComponent("outbox.jsonl")
        let bus = BusExecutor(transport: .outbox(path: outbox.path))
        // Values large enough that a write split in two would show.
        let payload = String(repeating: "x", count: 16 << 10)
        let ids = try await withThrowingTaskGroup(of: String?.self) { group in
            for index in 0..<50 {
                let append = request(parameters: ["index": String(index), "payload": payload])
                group.addTask { try await bus.execute(append).outputs["event_id"] }
            }
            return try await group.reduce(into: Set<String>()) { ids, id in if let id { ids.insert(id) } }
        }
        let events = try lines(of: outbox)
        XCTAssertEqual(events.count, 50)
        XCTAssertEqual(Set(events.compactMap { $0["id"] as? String }), ids)
        XCTAssertEqual(Set(events.compactMap { ($0["data"] as? [String: String])?["index"] }), Set((0..<50).map(String.init)))
        XCTAssertTrue(events.allSatisfy { ($0["data"] as? [String: String])?["payload"] == payload })
    }

    func testWebhookGetsOneStructuredCloudEvent() async throws {
        let server = try server { _ in .init(status: 202) }
        let bus = BusExecutor(transport: .webhook(url: server.baseURL + "/events?token=secret", headers: ["Authorization": "Bearer t"]))
        let result = try await bus.execute(request())
        XCTAssertTrue(result.succeeded, result.summary)
        XCTAssertEqual(result.summary, "published plugin.lifecycle.restart to webhook \(server.baseURL)")

        XCTAssertEqual(server.requests.count, 1)
        let received = try XCTUnwrap(server.requests.first)
        XCTAssertEqual(received.method, "POST")
        XCTAssertEqual(received.uri, "/events?token=secret")
        XCTAssertEqual(received.header("Content-Type"), "application/cloudevents+json; charset=utf-8")
        XCTAssertEqual(received.header("Authorization"), "Bearer t")
        let event = try CloudEvent.decode(structuredJSON: received.body)
        XCTAssertEqual(event.id, result.outputs["event_id"])
        XCTAssertEqual(event.type, "plugin.lifecycle.restart")
        XCTAssertEqual(event.data, ["plugin": "cache"])
        XCTAssertEqual(event.runID, "run-7")
        XCTAssertEqual(event.stepNumber, 3)
    }

    func testWebhookErrorStatusIsAFailedStep() async throws {
        let server = try server { _ in .init(status: 500, body: "broken") }
        let result = try await BusExecutor(transport: .webhook(url: server.baseURL, headers: [:])).execute(request())
        XCTAssertFalse(result.succeeded)
        XCTAssertEqual(result.exitStatus, 500)
        XCTAssertEqual(result.summary, "webhook answered HTTP 500")
        XCTAssertEqual(server.requests.count, 1)
    }

    func testUnreachableWebhookIsAFailedStepNotAThrow() async throws {
        let closed = try LoopbackHTTPServer()
        let url = closed.baseURL
        closed.shutdown()
        let result = try await BusExecutor(transport: .webhook(url: url, headers: [:])).execute(request(timeout: 2))
        XCTAssertFalse(result.succeeded)
        let server = url.replacingOccurrences(of: "http://", with: "")
        XCTAssertTrue(result.summary.hasPrefix("cannot publish plugin.lifecycle.restart: request to \(server) failed: "), result.summary)
        XCTAssertTrue(result.summary.lowercased().contains("refused"), result.summary)
        XCTAssertFalse(result.timedOut)
    }

    func testStdoutTransportSucceeds() async throws {
        let result = try await BusExecutor(transport: .stdout).execute(request())
        XCTAssertTrue(result.succeeded)
        XCTAssertEqual(result.summary, "published plugin.lifecycle.restart to stdout")
        XCTAssertNotNil(result.outputs["event_id"])
    }

    func testMissingTopicThrows() async {
        var noTopic = request()
        noTopic.topic = nil
        do {
            _ = try await BusExecutor(transport: .stdout).execute(noTopic)
            XCTFail("expected ExecutorError")
        } catch {
            XCTAssertTrue(error is ExecutorError)
        }
    }

    func testTransportParsesTheThreeSpellings() throws {
        XCTAssertEqual(try BusTransport.parse("stdout"), .stdout)
        XCTAssertEqual(try BusTransport.parse("outbox:/var/lib/medic/outbox.jsonl"), .outbox(path: "/var/lib/medic/outbox.jsonl"))
        XCTAssertEqual(try BusTransport.parse("outbox:relative.jsonl"), .outbox(path: "relative.jsonl"))
        XCTAssertEqual(try BusTransport.parse("webhook:https://hooks.example.internal/medic"),
                       .webhook(url: "https://hooks.example.internal/medic", headers: [:]))
        XCTAssertEqual(try BusTransport.parse("webhook:http://127.0.0.1:8080"), .webhook(url: "http://127.0.0.1:8080", headers: [:]))
        for bad in ["", "STDOUT", "stdout:", "outbox:", "outbox", "webhook:", "webhook:ftp://example.com", "webhook:example.com",
                    "kafka:topic", "https://hooks.example.internal"] {
            XCTAssertThrowsError(try BusTransport.parse(bad), bad) { error in
                let message = (error as? ExecutorError)?.description ?? ""
                XCTAssertTrue(message.contains("stdout, outbox:PATH, webhook:URL"), message)
            }
        }
    }
}
