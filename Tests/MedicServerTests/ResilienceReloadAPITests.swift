import Foundation
import MedicServeTestKit
import XCTest

/// `POST /api/v1/resilience/reload` (docs/resilience.md): the limits of `--config` put in force
/// without a restart or a signal, by an operator's token, audited; a file with an error changes
/// nothing.
extension GuardedExecutorServeTests {
    func testAReloadThroughTheAPIPutsNewLimitsInForceAndABadFileChangesNothing() async throws {
        let ws = try await workspace()
        ws.receiver.failing = 1_000_000
        let otto = try ServeProcess.token("otto", role: "operator", in: ws.dir)
        let vic = try ServeProcess.token("vic", role: "viewer", in: ws.dir)
        let sam = try ServeProcess.token("sam", role: "sender", in: ws.dir)
        let serve = try await ServeProcess(self, in: ws.dir, arguments: ws.arguments + ServeProcess.tokenArguments(in: ws.dir))
        let key = ws.key

        // Run 1: two failures, under the threshold of 5.
        let first = try await alert(serve, ws, fingerprint: "api-reload-1", runs: 1, token: sam)
        XCTAssertEqual(ws.attempts(first).count, 2, "\(ws.records(first))")

        let viewer = try await serve.call(.POST, "/api/v1/resilience/reload", token: vic)
        XCTAssertEqual(viewer.status, 403, viewer.body)
        // A threshold of 0 is an error: refused, located, and the threshold of 5 stays.
        try ws.configure(failureThreshold: 0)
        let refused = try await serve.call(.POST, "/api/v1/resilience/reload", token: otto)
        XCTAssertEqual(refused.status, 422, refused.body)
        let errors = (refused.json["errors"] as? [String]) ?? []
        XCTAssertTrue(errors.contains { $0.contains("medic.yaml:") && $0.contains("failure_threshold") }, refused.body)
        let second = try await alert(serve, ws, fingerprint: "api-reload-2", runs: 2, token: sam)
        XCTAssertFalse(ws.attempts(second).contains { $0.contains("refused by the guard") }, "4 failures < 5: \(ws.attempts(second))")

        // A threshold of 2, put in force by the API: the breaker kept its 4 failures, so the next call opens it.
        try ws.configure(failureThreshold: 2)
        let reloaded = try await serve.call(.POST, "/api/v1/resilience/reload", token: otto, json: ["reason": "tighter breaker"])
        XCTAssertEqual(reloaded.status, 200, reloaded.body)
        XCTAssertEqual(reloaded.json["by"] as? String, "otto")
        XCTAssertEqual(reloaded.json["kinds"] as? [String], ["http"], reloaded.body)
        let third = try await alert(serve, ws, fingerprint: "api-reload-3", runs: 3, token: sam)
        let attempts = ws.attempts(third)
        XCTAssertEqual(attempts.count, 2, "\(attempts)")
        XCTAssertTrue(attempts[1].contains("refused by the guard \(key): its circuit breaker is open"), attempts[1])

        let audit = ((try? String(contentsOfFile: ws.state + "/audit.jsonl", encoding: .utf8)) ?? "").split(separator: "\n")
            .compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
            .filter { $0["event"] as? String == "resilience_reloaded" }
        XCTAssertEqual(audit.map { "\($0["by"] ?? "?"): \($0["reason"] ?? "-")" }, ["otto: tighter breaker"], "\(audit)")
        let status = try await serve.stop()
        XCTAssertEqual(status, 0, serve.stderr)
    }

    func testAReloadWithoutAConfigurationIsAConflict() async throws {
        let ws = try APIWorkspace(self)
        let otto = try ws.token("otto", "operator")
        let serve = try await ServeProcess(self, in: ws.dir, arguments: ws.arguments + ["--tokens", ws.tokensFile])
        let reply = try await serve.call(.POST, "/api/v1/resilience/reload", token: otto)
        XCTAssertEqual(reply.status, 409, reply.body)
        XCTAssertTrue((reply.json["error"] as? String ?? "").contains("without --config"), reply.body)
        XCTAssertEqual(ws.audit.count, 0)
    }
}
