import Foundation
import MedicServeTestKit
import XCTest

/// People acknowledging and resolving incidents: over HTTP on the real server, and with
/// `medic ack` / `medic resolve` on the same state directory.
final class IncidentAckTests: XCTestCase {
    struct Library {
        let dir: URL
        /// The operators' tokens by name (alice, bob, carol, dave, frank), a viewer's (vera) and a sender's (sam).
        let tokens: [String: String]
        var state: String { dir.appendingPathComponent("state").path }
        var arguments: [String] {
            ["--root", dir.path, "--state-dir", state, "--workdir", dir.path, "--config", dir.appendingPathComponent("medic.yaml").path]
                + ServeProcess.tokenArguments(in: dir)
        }

        func incident(_ key: String) -> [String: Any] {
            let data = FileManager.default.contents(atPath: state + "/incidents/\(key).json") ?? Data()
            return (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] ?? [:]
        }

        var audit: [[String: Any]] {
            let text = (try? String(contentsOfFile: state + "/audit.jsonl", encoding: .utf8)) ?? ""
            return text.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        }
    }

    func library() throws -> Library {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("medic-ack-\(UUID().uuidString)")
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
        for name in ["alice", "bob", "carol", "dave", "frank"] { tokens[name] = try ServeProcess.token(name, in: dir) }
        tokens["vera"] = try ServeProcess.token("vera", role: "viewer", in: dir)
        tokens["sam"] = try ServeProcess.token("sam", role: "sender", in: dir)
        return Library(dir: dir, tokens: tokens)
    }

    /// Opens an incident no playbook handles (so no run starts): its key.
    func openIncident(_ serve: ServeProcess, _ lib: Library, fingerprint: String) async throws -> String {
        let answer = try await serve.post("/api/v1/alerts", body: ServeTests.post(labels: ["alertname": "DiskFull"], fingerprint: fingerprint),
                                          token: lib.tokens["sam"])
        XCTAssertEqual(answer.status, 200, answer.body)
        return try XCTUnwrap((answer.json["incidents"] as? [[String: Any]])?.first?["key"] as? String, answer.body)
    }

    static func body(_ object: [String: Any]) -> Data { try! JSONSerialization.data(withJSONObject: object) }

    func testAPersonAcknowledgesThenResolvesAnIncidentOverHTTPRecordedOnItAndAudited() async throws {
        let lib = try library()
        let serve = try await ServeProcess(self, in: lib.dir, arguments: lib.arguments)
        let key = try await openIncident(serve, lib, fingerprint: "ack1")
        let (alice, bob, carol, dave, viewer) = (lib.tokens["alice"], lib.tokens["bob"], lib.tokens["carol"], lib.tokens["dave"], lib.tokens["vera"])
        let anonymous = try await serve.post("/api/v1/incidents/\(key)/ack", body: Self.body(["note": "x"]))
        XCTAssertEqual(anonymous.status, 401, anonymous.body)
        let onlyViewing = try await serve.post("/api/v1/incidents/\(key)/ack", body: Self.body(["note": "x"]), token: viewer)
        XCTAssertEqual(onlyViewing.status, 403, onlyViewing.body)

        // Who acknowledged is the token's name, whatever the body claims.
        let ack = try await serve.post("/api/v1/incidents/\(key)/ack", body: Self.body(["by": "mallory", "note": "looking"]), token: alice)
        XCTAssertEqual(ack.status, 200, ack.body)
        let acknowledged = try XCTUnwrap(lib.incident(key)["acknowledgement"] as? [String: Any], "\(lib.incident(key))")
        XCTAssertEqual(acknowledged["by"] as? String, "alice")
        XCTAssertEqual(acknowledged["note"] as? String, "looking")
        XCTAssertNotNil(acknowledged["at"] as? String)
        XCTAssertEqual(lib.incident(key)["status"] as? String, "firing")

        let again = try await serve.post("/api/v1/incidents/\(key)/ack", body: Self.body([:]), token: bob)
        XCTAssertEqual(again.status, 409, again.body)
        XCTAssertTrue((again.json["error"] as? String ?? "").contains("alice"), again.body)
        XCTAssertEqual((lib.incident(key)["acknowledgement"] as? [String: Any])?["by"] as? String, "alice", "the first acknowledgement stays")

        let resolve = try await serve.post("/api/v1/incidents/\(key)/resolve", body: Self.body(["note": "disk cleaned"]), token: carol)
        XCTAssertEqual(resolve.status, 200, resolve.body)
        XCTAssertEqual(lib.incident(key)["status"] as? String, "resolved")
        XCTAssertEqual((lib.incident(key)["resolution"] as? [String: Any])?["by"] as? String, "carol")
        XCTAssertNotNil(lib.incident(key)["resolved_at"] as? String)
        for action in ["resolve", "ack"] {
            let late = try await serve.post("/api/v1/incidents/\(key)/\(action)", body: Self.body([:]), token: dave)
            XCTAssertEqual(late.status, 409, "\(action): \(late.body)")
        }

        let audited = lib.audit.filter { $0["incident"] as? String == key }
        XCTAssertEqual(audited.map { $0["event"] as? String }, ["incident_acknowledged", "incident_resolved"], "\(lib.audit)")
        XCTAssertEqual(audited.map { $0["by"] as? String }, ["alice", "carol"])
        XCTAssertEqual(audited.last?["note"] as? String, "disk cleaned")
    }

    func testBadAcknowledgementsGetTheirErrorCodesAndChangeNothing() async throws {
        let lib = try library()
        let serve = try await ServeProcess(self, in: lib.dir, arguments: lib.arguments)
        let key = try await openIncident(serve, lib, fingerprint: "bad1")
        let token = lib.tokens["alice"]
        let before = lib.incident(key)
        let cases: [(String, Data, String?, Int, String?)] = [
            ("/api/v1/incidents/\(key)/ack", Data("{".utf8), "application/json", 400, nil),
            ("/api/v1/incidents/\(key)/ack", Self.body(["note": 3]), "application/json", 400, "note"),
            ("/api/v1/incidents/\(key)/resolve", Self.body(["by": "a", "note": 1]), "application/json", 400, "note"),
            ("/api/v1/incidents/\(key)/resolve", Self.body(["by": "a", "who": "b"]), "application/json", 400, "who"),
            ("/api/v1/incidents/\(key)/resolve", Self.body(["by": "a"]), "text/plain", 415, nil),
            ("/api/v1/incidents/no-such-key-1/ack", Self.body(["by": "a"]), "application/json", 404, nil),
            ("/api/v1/incidents/a.b/resolve", Self.body(["by": "a"]), "application/json", 400, "key"),
        ]
        for (path, body, type, status, field) in cases {
            let answer = try await serve.post(path, body: body, contentType: type, token: token)
            XCTAssertEqual(answer.status, status, "\(path) \(String(decoding: body, as: UTF8.self)): \(answer.body)")
            XCTAssertNotNil(answer.json["error"] as? String, answer.body)
            XCTAssertEqual(answer.json["field"] as? String, field, answer.body)
        }
        XCTAssertEqual(NSDictionary(dictionary: lib.incident(key)), NSDictionary(dictionary: before))
        XCTAssertTrue(lib.audit.isEmpty, "\(lib.audit)")
    }

    func testMedicAckAndResolveWorkOnTheServersStoreByKeyOrItsStart() async throws {
        let lib = try library()
        let serve = try await ServeProcess(self, in: lib.dir, arguments: lib.arguments)
        let key = try await openIncident(serve, lib, fingerprint: "cli1")
        let state = ["--state-dir", lib.state]

        let (unknown, unknownErr) = try MedicCommand.status(["ack", "zzz", "--by", "erin"] + state, in: lib.dir)
        XCTAssertEqual(unknown, 1, unknownErr)
        XCTAssertTrue(unknownErr.contains("no incident"), unknownErr)

        let elsewhere = lib.dir.appendingPathComponent("other-state").path
        let (none, noneErr) = try MedicCommand.status(["resolve", key, "--by", "erin", "--state-dir", elsewhere], in: lib.dir)
        XCTAssertEqual(none, 1, noneErr)
        XCTAssertTrue(noneErr.contains("no incident"), noneErr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: elsewhere), "a refused command created the state directory")

        let acked = try MedicCommand.run(["ack", "cli1", "--by", "erin", "--note", "on it"] + state, in: lib.dir)
        XCTAssertTrue(acked.contains("Incident \(key) acknowledged by erin"), acked)
        XCTAssertEqual((lib.incident(key)["acknowledgement"] as? [String: Any])?["note"] as? String, "on it")
        // The server sees the same store: its ack now conflicts.
        let viaHTTP = try await serve.post("/api/v1/incidents/\(key)/ack", body: Self.body([:]), token: lib.tokens["frank"])
        XCTAssertEqual(viaHTTP.status, 409, viaHTTP.body)

        let (first, firstErr) = try MedicCommand.status(["resolve", key, "--by", "erin"] + state, in: lib.dir)
        XCTAssertEqual(first, 0, firstErr)
        XCTAssertEqual(lib.incident(key)["status"] as? String, "resolved")
        let (second, secondErr) = try MedicCommand.status(["resolve", key, "--by", "erin"] + state, in: lib.dir)
        XCTAssertEqual(second, 1, secondErr)
        XCTAssertTrue(secondErr.contains("resolved already"), secondErr)
        XCTAssertEqual(lib.audit.compactMap { $0["event"] as? String }, ["incident_acknowledged", "incident_resolved"], "\(lib.audit)")
    }
}
