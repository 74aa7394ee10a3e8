import Foundation
import MedicServeTestKit
import XCTest

/// SIGHUP through the binary: a good configuration takes effect for the next alert without
/// touching the run going; a broken one keeps the old one in force and the log says why.
final class ServeReloadTests: XCTestCase {
    /// The library of ServeTests (restart-service-001 and linger-001, each run once by hand so
    /// that safe mode lets automated runs of them go) with its configuration: ServiceDown is
    /// routed to restart-service-001.
    func workspace() throws -> ServeTests.Workspace { try ServeTests.workspace(for: self) }

    private func firstIncident(_ answer: ServeProcess.Answer) throws -> [String: Any] {
        XCTAssertEqual(answer.status, 200, answer.body)
        return try XCTUnwrap((answer.json["incidents"] as? [[String: Any]])?.first, answer.body)
    }

    private func count(_ text: String, in serve: ServeProcess) -> Int {
        serve.stderr.components(separatedBy: text).count - 1
    }

    func testSIGHUPPutsANewRouteInForceForTheNextAlertWhileTheRunGoingGoesOn() async throws {
        let ws = try workspace()
        let serve = try await ServeProcess(self, in: ws.dir, arguments: ws.arguments)
        // A run in flight across the reload: linger-001 waits for the release file.
        let lingering = try firstIncident(try await serve.post("/api/v1/alerts", body: ServeTests.post(labels: ["alertname": "linger-001"], fingerprint: "0001")))
        let lingeringRun = try XCTUnwrap(lingering["run"] as? String)
        _ = try await ServeProcess.poll("the lingering run to start") { ws.effects.contains("started") ? true : nil }

        try """
            routes:
              - match: {alertname: ServiceDown}
                playbook: linger-001
                target_label: instance
            """.write(to: ws.dir.appendingPathComponent("medic.yaml"), atomically: true, encoding: .utf8)
        kill(serve.process.processIdentifier, SIGHUP)
        _ = try await ServeProcess.poll("the reload (stderr: \(serve.stderr))") { self.count("reloaded:", in: serve) == 1 ? true : nil }
        XCTAssertTrue(serve.process.isRunning, "SIGHUP does not end the server")

        let rerouted = try firstIncident(try await serve.post("/api/v1/alerts", body: ServeTests.post(labels: ["alertname": "ServiceDown", "job": "api", "instance": "web-1"], fingerprint: "0002")))
        XCTAssertEqual(rerouted["playbook"] as? String, "linger-001", "the next alert takes the new route")
        XCTAssertEqual(rerouted["target"] as? String, "web-1")
        let reroutedRun = try XCTUnwrap(rerouted["run"] as? String)

        XCTAssertTrue(FileManager.default.createFile(atPath: ws.dir.appendingPathComponent("release").path, contents: nil))
        for run in [lingeringRun, reroutedRun] {
            let finished = try await ServeProcess.poll("run \(run) to finish (stderr: \(serve.stderr))") { ws.finished(run) }
            XCTAssertEqual(finished["outcome"] as? String, "succeeded", "\(ws.journal(run))")
        }
        XCTAssertFalse(ws.effects.contains { $0.hasPrefix("restart") }, "the old route's playbook did not run: \(ws.effects)")
        let status = try await serve.stop()
        XCTAssertEqual(status, 0, serve.stderr)
    }

    func testSIGHUPWithABrokenConfigurationKeepsTheOldOneAndLogsEachErrorLocated() async throws {
        let ws = try workspace()
        let serve = try await ServeProcess(self, in: ws.dir, arguments: ws.arguments)
        let config = ws.dir.appendingPathComponent("medic.yaml")
        try """
            routes:
              - match: {alertname: ServiceDown}
                playbook: no-such-playbook-001
                target_lable: instance
            """.write(to: config, atomically: true, encoding: .utf8)
        kill(serve.process.processIdentifier, SIGHUP)
        _ = try await ServeProcess.poll("the refused reload (stderr: \(serve.stderr))") { self.count("reload refused", in: serve) == 1 ? true : nil }
        let stderr = serve.stderr
        XCTAssertTrue(stderr.contains("\(config.path):3:15: error[M310]") && stderr.contains("no-such-playbook-001"), stderr)
        XCTAssertTrue(stderr.contains("\(config.path):4:5: error[M101]") && stderr.contains("target_lable"), stderr)
        XCTAssertFalse(stderr.contains("reloaded:"), stderr)

        // The old route is still in force.
        let answer = try firstIncident(try await serve.post("/api/v1/alerts", body: ServeTests.post(labels: ["alertname": "ServiceDown", "job": "api", "instance": "web-2"])))
        XCTAssertEqual(answer["playbook"] as? String, "restart-service-001", "\(answer)")
        let run = try XCTUnwrap(answer["run"] as? String)
        let finished = try await ServeProcess.poll("run \(run) to finish (stderr: \(serve.stderr))") { ws.finished(run) }
        XCTAssertEqual(finished["outcome"] as? String, "succeeded", "\(ws.journal(run))")
        XCTAssertEqual(ws.effects, ["restart api on web-2"])

        // A library with errors is refused the same way, and a fixed one then reloads.
        try "playbook_id: [broken\n".write(to: ws.dir.appendingPathComponent("playbooks/broken.yaml"), atomically: true, encoding: .utf8)
        try ServeTests.config.write(to: config, atomically: true, encoding: .utf8)
        kill(serve.process.processIdentifier, SIGHUP)
        _ = try await ServeProcess.poll("the second refused reload (stderr: \(serve.stderr))") { self.count("reload refused", in: serve) == 2 ? true : nil }
        XCTAssertTrue(serve.stderr.contains("broken.yaml:"), serve.stderr)
        try FileManager.default.removeItem(at: ws.dir.appendingPathComponent("playbooks/broken.yaml"))
        kill(serve.process.processIdentifier, SIGHUP)
        _ = try await ServeProcess.poll("the good reload (stderr: \(serve.stderr))") { self.count("reloaded:", in: serve) == 1 ? true : nil }
        let status = try await serve.stop()
        XCTAssertEqual(status, 0, serve.stderr)
    }
}
