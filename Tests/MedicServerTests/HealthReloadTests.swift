import Foundation
import MedicServeTestKit
import XCTest

/// SIGHUP reads `medic serve --health-checks FILE` again (docs/serving.md, "Reloading"): the new
/// checks run from the next round; a file with an error refuses the whole reload and the checks
/// in force go on.
final class HealthReloadTests: XCTestCase {
    /// The checks of the last round, as the snapshot in the state directory says: name → passed.
    private func lastRound(_ state: String) -> [String: Bool] {
        guard let data = FileManager.default.contents(atPath: state + "/health-checks/status.json"),
              let snapshot = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let checks = snapshot["checks"] as? [[String: Any]] else { return [:] }
        return Dictionary(checks.compactMap { check in (check["name"] as? String).map { ($0, check["passed"] as? Bool ?? false) } },
                          uniquingKeysWith: { first, _ in first })
    }

    func testSIGHUPPutsANewHealthChecksFileInForceAndABrokenOneChangesNothing() async throws {
        let ws = try APIWorkspace(self)
        let checks = ws.dir.appendingPathComponent("health-checks.yaml")
        try "component: api\nshallow_checks:\n  up: {command: \"true\", interval: 200ms}\n".write(to: checks, atomically: true, encoding: .utf8)
        let serve = try await ServeProcess(self, in: ws.dir, arguments: ws.arguments + ["--health-checks", checks.path, "--no-rules"])
        _ = try await ServeProcess.poll("the first round (stderr: \(serve.stderr))") { lastRound(ws.state) == ["up": true] ? true : nil }

        // A broken file: refused, located; the check in force keeps running.
        try "component: api\nshallow_checks:\n  down: {command: \"false\", interval: soon}\n".write(to: checks, atomically: true, encoding: .utf8)
        kill(serve.process.processIdentifier, SIGHUP)
        _ = try await ServeProcess.poll("the refusal (stderr: \(serve.stderr))") { serve.stderr.contains("reload refused") ? true : nil }
        XCTAssertTrue(serve.stderr.contains("health-checks.yaml:3:"), serve.stderr)
        XCTAssertFalse(serve.stderr.contains("reloaded the health checks"), serve.stderr)
        let modified = try FileManager.default.attributesOfItem(atPath: ws.state + "/health-checks/status.json")[.modificationDate] as? Date
        _ = try await ServeProcess.poll("a round after the refusal") {
            let now = try? FileManager.default.attributesOfItem(atPath: ws.state + "/health-checks/status.json")[.modificationDate] as? Date
            return now != modified ? true : nil
        }
        XCTAssertEqual(lastRound(ws.state), ["up": true])

        // A good file: its check runs from the next round, the dropped one is forgotten.
        try "component: api\nshallow_checks:\n  down: {command: \"false\", interval: 200ms, retry: 0}\n".write(to: checks, atomically: true, encoding: .utf8)
        kill(serve.process.processIdentifier, SIGHUP)
        _ = try await ServeProcess.poll("the reload (stderr: \(serve.stderr))") {
            serve.stderr.contains("reloaded the health checks: 1 check(s)") ? true : nil
        }
        _ = try await ServeProcess.poll("a round of the new check") { lastRound(ws.state) == ["down": false] ? true : nil }
        let status = try await serve.stop()
        XCTAssertEqual(status, 0, serve.stderr)
    }
}
