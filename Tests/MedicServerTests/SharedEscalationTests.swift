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
