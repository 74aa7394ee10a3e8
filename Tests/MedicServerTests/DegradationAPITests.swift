import Foundation
import MedicServeTestKit
import XCTest

/// A person's degradation level over `medic serve`'s API (docs/health.md, "Degradation"): set
/// and cleared per system and for every system by an operator's token, in force at the
/// severity_policy gate of an automated plan, in `medic status`, written to the audit log and
/// published on the bus.
final class DegradationAPITests: XCTestCase {
    private func severityVerdict(_ serve: ServeProcess, token: String) async throws -> [String: Any] {
        let reply = try await serve.call(.POST, "/api/v1/plans", token: token, json: ["playbook": "plain-001", "mode": "automated"])
        XCTAssertEqual(reply.status, 200, reply.body)
        let gates = try XCTUnwrap((reply.json["plan"] as? [String: Any])?["gates"] as? [[String: Any]], reply.body)
        return try XCTUnwrap(gates.first { $0["gate"] as? String == "severity_policy" }, reply.body)
    }

    private func overrideEvents(_ ws: APIWorkspace) -> [[String: String]] {
        let text = (try? String(contentsOfFile: ws.state + "/outbox.jsonl", encoding: .utf8)) ?? ""
        return text.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
            .filter { $0["type"] as? String == "dev.medic.degradation.override" }.compactMap { $0["data"] as? [String: String] }
    }

    func testAnOperatorHoldsAndClearsLevelsAuditedPublishedAndInForceAtTheGate() async throws {
        let ws = try APIWorkspace(self)
        let otto = try ws.token("otto", "operator")
        let vic = try ws.token("vic", "viewer")
        let serve = try await ServeProcess(self, in: ws.dir, arguments: ws.arguments + ["--tokens", ws.tokensFile])
        let before = try await severityVerdict(serve, token: vic)
        XCTAssertEqual(before["decision"] as? String, "pass")

        // Refusals change nothing.
        let anonymous = try await serve.call(.PUT, "/api/v1/degradation/plain", json: ["level": "minimal"])
        XCTAssertEqual(anonymous.status, 401, anonymous.body)
        let viewer = try await serve.call(.PUT, "/api/v1/degradation/plain", token: vic, json: ["level": "minimal"])
        XCTAssertEqual(viewer.status, 403, viewer.body)
        let cases: [(json: [String: Any], field: String?)] = [
            ([:], "level"), (["level": "sideways"], "level"), (["level": 2], "level"), (["level": "minimal", "by": "eve"], "by"),
            (["level": "minimal", "reason": ""], "reason"),
        ]
        for (json, field) in cases {
            let bad = try await serve.call(.PUT, "/api/v1/degradation/plain", token: otto, json: json)
            XCTAssertEqual(bad.status, 400, "\(json): \(bad.body)")
            XCTAssertEqual(bad.json["field"] as? String, field, "\(json): \(bad.body)")
        }
        let star = try await serve.call(.PUT, "/api/v1/degradation/*", token: otto, json: ["level": "minimal"])
        XCTAssertEqual(star.status, 400, star.body)
        XCTAssertEqual(ws.audit.count, 0, "\(ws.audit)")
        XCTAssertFalse(FileManager.default.fileExists(atPath: ws.state + "/degradation/override.json"))

        // Held at minimal: the automated run of a SEV3 playbook is refused at the gate.
        let set = try await serve.call(.PUT, "/api/v1/degradation/plain", token: otto, json: ["level": "minimal", "reason": "db failover"])
        XCTAssertEqual(set.status, 200, set.body)
        XCTAssertEqual(set.json["system"] as? String, "plain")
        XCTAssertEqual(set.json["level"] as? String, "minimal")
        XCTAssertEqual(set.json["by"] as? String, "otto")
        let verdict = try await severityVerdict(serve, token: vic)
        XCTAssertEqual(verdict["decision"] as? String, "refuse", "\(verdict)")
        let reason = verdict["reason"] as? String ?? ""
        XCTAssertTrue(reason.contains("degradation level minimal") && reason.contains("set by otto: db failover"), reason)

        let levels = try await serve.call(.GET, "/api/v1/degradation", token: vic)
        XCTAssertEqual(levels.status, 200, levels.body)
        let plain = try XCTUnwrap((levels.json["systems"] as? [[String: Any]])?.first { $0["system"] as? String == "plain" }, levels.body)
        XCTAssertEqual(plain["level"] as? String, "minimal")
        XCTAssertEqual(plain["source"] as? String, "override")
        XCTAssertEqual(plain["by"] as? String, "otto")
        XCTAssertEqual(plain["reason"] as? String, "db failover")
        let checks = ws.dir.appendingPathComponent("health-checks.yaml")
        try "component: plain\nshallow_checks:\n  works: {command: \"true\"}\n".write(to: checks, atomically: true, encoding: .utf8)
        let status = try MedicCommand.run(["status", "--checks", checks.path, "--state-dir", ws.state, "--json"], in: ws.dir)
        let shown = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(status.utf8)) as? [String: Any], status)
        XCTAssertEqual((shown["degradation"] as? [[String: Any]])?.map { "\($0["system"] ?? "")=\($0["level"] ?? "")/\($0["source"] ?? "")" },
                       ["plain=minimal/override"], status)

        // Every system at reduced; then plain cleared follows it, and clearing it too restores the gate.
        let all = try await serve.call(.PUT, "/api/v1/degradation", token: otto, json: ["level": "reduced"])
        XCTAssertEqual(all.status, 200, all.body)
        XCTAssertEqual(all.json["system"] as? String, "*")
        let cleared = try await serve.call(.DELETE, "/api/v1/degradation/plain", token: otto)
        XCTAssertEqual(cleared.status, 200, cleared.body)
        XCTAssertEqual(cleared.json["level"] as? String, "health")
        XCTAssertEqual((cleared.json["was"] as? [String: Any])?["level"] as? String, "minimal", cleared.body)
        let after = try await serve.call(.GET, "/api/v1/degradation", token: vic)
        XCTAssertEqual((after.json["every_system"] as? [String: Any])?["level"] as? String, "reduced", after.body)
        let follows = try XCTUnwrap((after.json["systems"] as? [[String: Any]])?.first { $0["system"] as? String == "plain" }, after.body)
        XCTAssertEqual("\(follows["level"] ?? "")/\(follows["source"] ?? "")", "reduced/override", "plain follows every system's level now")
        let clearedAll = try await serve.call(.DELETE, "/api/v1/degradation", token: otto, json: ["reason": "failover done"])
        XCTAssertEqual(clearedAll.status, 200, clearedAll.body)
        let restored = try await severityVerdict(serve, token: vic)
        XCTAssertEqual(restored["decision"] as? String, "pass")

        // Each change audited under the token's name, then published.
        XCTAssertEqual(ws.audit.map { "\($0["event"] as? String ?? "?") \($0["system"] as? String ?? "?") \($0["level"] as? String ?? "-") by \($0["by"] as? String ?? "?")" },
                       ["degradation_override_set plain minimal by otto", "degradation_override_set * reduced by otto",
                        "degradation_override_cleared plain - by otto", "degradation_override_cleared * - by otto"])
        XCTAssertEqual(ws.audit.last?["reason"] as? String, "failover done")
        XCTAssertEqual(overrideEvents(ws).map { "\($0["system"] ?? "?")=\($0["level"] ?? "?") by \($0["by"] ?? "?")" },
                       ["plain=minimal by otto", "*=reduced by otto", "plain=health by otto", "*=health by otto"])
    }
}
