import Foundation
import MedicServeTestKit
import XCTest

/// Acknowledging and resolving over HTTP: the body rules every API route follows, and every
/// change audited or not made at all.
final class IncidentAckAuditTests: XCTestCase {
    /// IncidentAckTests' library: a server with operators' (alice, bob) and a sender's (sam) tokens.
    func serve() async throws -> (ServeProcess, IncidentAckTests.Library) {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("medic-ackaudit-\(UUID().uuidString)")
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        for folder in ["actions", "playbooks"] {
            try FileManager.default.createDirectory(at: dir.appendingPathComponent(folder), withIntermediateDirectories: true)
        }
        try ServeTests.actions.write(to: dir.appendingPathComponent("actions/test.yaml"), atomically: true, encoding: .utf8)
        for (index, playbook) in ServeTests.playbooks.enumerated() {
            try playbook.write(to: dir.appendingPathComponent("playbooks/p\(index).yaml"), atomically: true, encoding: .utf8)
        }
        try ServeTests.config.write(to: dir.appendingPathComponent("medic.yaml"), atomically: true, encoding: .utf8)
        var tokens: [String: String] = [:]
        for name in ["alice", "bob"] { tokens[name] = try ServeProcess.token(name, in: dir) }
        tokens["sam"] = try ServeProcess.token("sam", role: "sender", in: dir)
        let lib = IncidentAckTests.Library(dir: dir, tokens: tokens)
        return (try await ServeProcess(self, in: dir, arguments: lib.arguments), lib)
    }

    /// Opens an incident no playbook handles (so no run starts): its key.
    func open(_ serve: ServeProcess, _ lib: IncidentAckTests.Library, fingerprint: String) async throws -> String {
        let answer = try await serve.post("/api/v1/alerts", body: ServeTests.post(labels: ["alertname": "DiskFull"], fingerprint: fingerprint),
                                          token: lib.tokens["sam"])
        XCTAssertEqual(answer.status, 200, answer.body)
        return try XCTUnwrap((answer.json["incidents"] as? [[String: Any]])?.first?["key"] as? String, answer.body)
    }

    func testAnEmptyBodyIsAnEmptyObjectAsOnEveryAPIRoute() async throws {
        let (serve, lib) = try await serve()
        let key = try await open(serve, lib, fingerprint: "empty1")
        let ack = try await serve.post("/api/v1/incidents/\(key)/ack", body: Data(), contentType: nil, token: lib.tokens["alice"])
        XCTAssertEqual(ack.status, 200, ack.body)
        XCTAssertEqual((lib.incident(key)["acknowledgement"] as? [String: Any])?["by"] as? String, "alice", "\(lib.incident(key))")
        let resolve = try await serve.post("/api/v1/incidents/\(key)/resolve", body: Data(), token: lib.tokens["bob"])
        XCTAssertEqual(resolve.status, 200, resolve.body)
        XCTAssertEqual(lib.incident(key)["status"] as? String, "resolved")
        XCTAssertNil((lib.incident(key)["resolution"] as? [String: Any])?["note"], "\(lib.incident(key))")
        // A body that is not empty still needs its Content-Type, and to be a JSON object.
        let other = try await open(serve, lib, fingerprint: "empty2")
        let untyped = try await serve.post("/api/v1/incidents/\(other)/ack", body: Data("{}".utf8), contentType: nil, token: lib.tokens["alice"])
        XCTAssertEqual(untyped.status, 415, untyped.body)
        let array = try await serve.post("/api/v1/incidents/\(other)/ack", body: Data("[]".utf8), token: lib.tokens["alice"])
        XCTAssertEqual(array.status, 400, array.body)
        XCTAssertNil(lib.incident(other)["acknowledgement"])
    }

    func testAChangeWhoseAuditRecordCannotBeWrittenIsNotMade() async throws {
        let (serve, lib) = try await serve()
        let key = try await open(serve, lib, fingerprint: "audit1")
        // An audit log that cannot be written: its path is a folder.
        let audit = lib.state + "/audit.jsonl"
        try? FileManager.default.removeItem(atPath: audit)
        try FileManager.default.createDirectory(atPath: audit, withIntermediateDirectories: false)
        for action in ["ack", "resolve"] {
            let refused = try await serve.post("/api/v1/incidents/\(key)/\(action)", body: IncidentAckTests.body(["note": "x"]), token: lib.tokens["alice"])
            XCTAssertEqual(refused.status, 503, "\(action): \(refused.body)")
            XCTAssertTrue((refused.json["error"] as? String ?? "").contains("audit"), refused.body)
        }
        XCTAssertNil(lib.incident(key)["acknowledgement"], "an unaudited acknowledgement was made: \(lib.incident(key))")
        XCTAssertEqual(lib.incident(key)["status"] as? String, "firing", "an unaudited resolution was made: \(lib.incident(key))")
        XCTAssertNil(lib.incident(key)["resolution"])

        // Once the audit log can be written, the same request is made and audited once.
        try FileManager.default.removeItem(atPath: audit)
        let ack = try await serve.post("/api/v1/incidents/\(key)/ack", body: IncidentAckTests.body(["note": "x"]), token: lib.tokens["alice"])
        XCTAssertEqual(ack.status, 200, ack.body)
        XCTAssertEqual(lib.audit.compactMap { $0["event"] as? String }, ["incident_acknowledged"], "\(lib.audit)")
    }
}
