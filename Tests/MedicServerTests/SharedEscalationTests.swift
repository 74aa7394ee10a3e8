import Foundation
import MedicServeTestKit
import XCTest

/// Escalation by two servers sharing one PostgreSQL: both see every incident, and each level is
/// sent by one of them.
extension EscalationTests {
    func testTwoServersSharingADatabaseSendEachLevelOnce() async throws {
        let lib = try await library()
        let (_, address) = try SharedServers.database(self, in: lib.dir)
        let servers = try await SharedServers.start(self, ["one", "two"], in: lib.dir, address: address,
                                                    arguments: ["--config", lib.dir.appendingPathComponent("medic.yaml").path, "--lease", "2"])
        // The same alert reaches both (Alertmanager sends to every receiver): one incident.
        let key = try await open(servers[0], lib, severity: "SEV1", fingerprint: "shared1")
        let again = try await open(servers[1], lib, severity: "SEV1", fingerprint: "shared1")
        XCTAssertEqual(again, key)
        let first = try await lib.receiver.wait(for: 1, at: "/hook")
        XCTAssertEqual(first[0].json["incident"] as? String, key)
        // Both servers' schedulers have looked at the level by the time each ledger records it.
        for name in ["one", "two"] {
            let ledger = lib.dir.appendingPathComponent("state-\(name)/escalations/\(key).json").path
            _ = try await ServeProcess.poll("server \(name) done with level 1") { () -> Bool? in
                let record = (try? JSONSerialization.jsonObject(with: FileManager.default.contents(atPath: ledger) ?? Data())) as? [String: Any]
                let level = ((record?["levels"] as? [[String: Any]]) ?? []).first { $0["level"] as? Int == 1 }
                return ["sent", "skipped"].contains(level?["state"] as? String ?? "") ? true : nil
            }
        }
        XCTAssertEqual(Self.levels(lib.receiver.deliveries.filter { $0.path == "/hook" }), [1], "level 1 sent once, by one server")
    }
}

extension EscalationTests {
    /// PagerDuty follows the incident even when the server that paged it is gone: the other
    /// server, which skipped the level as sent, sends the acknowledgement and the resolution,
    /// each once.
    func testTheFollowUpsOfALevelSentByAServerThatDiedAreSentByAnotherOnce() async throws {
        let lib = try await library()
        let (_, address) = try SharedServers.database(self, in: lib.dir)
        let servers = try await SharedServers.start(self, ["one", "two"], in: lib.dir, address: address,
                                                    arguments: ["--config", lib.dir.appendingPathComponent("medic.yaml").path, "--lease", "2"])
        let key = try await open(servers[0], lib, severity: "SEV2", fingerprint: "shared-pd")
        _ = try await open(servers[1], lib, severity: "SEV2", fingerprint: "shared-pd")
        let triggered = try await lib.receiver.wait(for: 1, at: "/pd")
        XCTAssertEqual(triggered[0].json["event_action"] as? String, "trigger")
        func state(_ name: String) -> String? {
            let ledger = lib.dir.appendingPathComponent("state-\(name)/escalations/\(key).json").path
            let record = (try? JSONSerialization.jsonObject(with: FileManager.default.contents(atPath: ledger) ?? Data())) as? [String: Any]
            return ((record?["levels"] as? [[String: Any]]) ?? []).first { $0["level"] as? Int == 1 }?["state"] as? String
        }
        let sender = try await ServeProcess.poll("each server done with level 1") { () -> Int? in
            let states = [state("one"), state("two")]
            guard states.allSatisfy({ $0 == "sent" || $0 == "skipped" }) else { return nil }
            return states.firstIndex(of: "sent")
        }
        _ = try await servers[sender].stop(with: SIGKILL)
        let survivor = servers[1 - sender]
        let resolve = try await survivor.post("/api/v1/incidents/\(key)/resolve", body: Data(#"{"note": "fixed"}"#.utf8), token: lib.token)
        XCTAssertEqual(resolve.status, 200, resolve.body)
        let followed = try await lib.receiver.wait(for: 3, at: "/pd")
        XCTAssertEqual(followed.map { $0.json["event_action"] as? String }, ["trigger", "acknowledge", "resolve"])
        XCTAssertEqual(Set(followed.compactMap { $0.json["dedup_key"] as? String }), [key])
        // Once each: nothing more comes.
        try await Task.sleep(nanoseconds: 3_000_000_000)
        XCTAssertEqual(lib.receiver.deliveries.filter { $0.path == "/pd" }.count, 3)
    }

    /// With both servers alive, the follow-ups are sent once, by one of them.
    func testTwoServersSendEachFollowUpOnce() async throws {
        let lib = try await library()
        let (_, address) = try SharedServers.database(self, in: lib.dir)
        let servers = try await SharedServers.start(self, ["one", "two"], in: lib.dir, address: address,
                                                    arguments: ["--config", lib.dir.appendingPathComponent("medic.yaml").path, "--lease", "2"])
        let key = try await open(servers[0], lib, severity: "SEV2", fingerprint: "shared-pd2")
        _ = try await open(servers[1], lib, severity: "SEV2", fingerprint: "shared-pd2")
        _ = try await lib.receiver.wait(for: 1, at: "/pd")
        let resolve = try await servers[1].post("/api/v1/incidents/\(key)/resolve", body: Data(#"{"note": "fixed"}"#.utf8), token: lib.token)
        XCTAssertEqual(resolve.status, 200, resolve.body)
        _ = try await lib.receiver.wait(for: 3, at: "/pd")
        try await Task.sleep(nanoseconds: 3_000_000_000)
        XCTAssertEqual(lib.receiver.deliveries.filter { $0.path == "/pd" }.compactMap { $0.json["event_action"] as? String },
                       ["trigger", "acknowledge", "resolve"])
    }
}
