import Foundation
import MedicServeTestKit
import Hummingbird
import XCTest

/// `medic serve --health-checks FILE` (docs/health.md): a loopback service that goes down turns
/// its component UNHEALTHY after the check's retries, `/metrics` and the web page say so, and a
/// rule over `health_state` starts its playbook, which the degradation level (minimal: critical
/// runs only) lets through because it is SEV0.
final class HealthServeTests: XCTestCase {
    /// A loopback service answering `GET /health` with `ok`, until `down`: then 503, and its
    /// listener is shut.
    final class Service: @unchecked Sendable {
        private let lock = NSLock()
        private var isDown = false
        private var task: Task<Void, Never>?
        private(set) var port = 0

        var down: Bool { lock.withLock { isDown } }

        init(_ test: XCTestCase) async throws {
            let router = Router()
            router.get("/health") { [self] _, _ in down ? Response(status: .serviceUnavailable) : Response(status: .ok, body: .init(byteBuffer: .init(string: "ok"))) }
            let bound = AsyncStream<Int>.makeStream()
            let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
                                  onServerRunning: { bound.continuation.yield($0.localAddress?.port ?? 0); bound.continuation.finish() })
            task = Task { try? await app.run() }
            for await chosen in bound.stream { port = chosen }
            test.addTeardownBlock { [self] in stop() }
        }

        func stop() {
            lock.withLock { isDown = true }
            task?.cancel()
        }
    }

    static let playbook = """
        playbook_id: restart-api-001
        name: Restart the api
        version: 1.0.0
        category: infrastructure
        severity: SEV0
        remediation_steps:
          - {step: 1, name: restart, action: restart, service: api}
        metadata: {}
        """

    static let rule = """
        rules:
          - name: api-unhealthy
            metric: health_state
            labels: {component: api}
            detector: threshold
            params: {op: ">=", value: 2}
            severity: SEV0
            playbook: restart-api-001
        """

    func testAServiceThatGoesDownTurnsUnhealthyOnMetricsAndTheWebPageAndARuleOverItFires() async throws {
        let service = try await Service(self)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("medic-health-serve-\(UUID().uuidString)")
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        for folder in ["actions", "playbooks", "rules"] {
            try FileManager.default.createDirectory(at: dir.appendingPathComponent(folder), withIntermediateDirectories: true)
        }
        try ServeTests.actions.write(to: dir.appendingPathComponent("actions/test.yaml"), atomically: true, encoding: .utf8)
        try Self.playbook.write(to: dir.appendingPathComponent("playbooks/restart-api.yaml"), atomically: true, encoding: .utf8)
        let checks = dir.appendingPathComponent("health-checks.yaml")
        try """
            component: api
            deep_checks:
              api_health:
                url: http://127.0.0.1:\(service.port)/health
                expected_body: ok
                interval: 200ms
                timeout: 5s
                retry: 2
            """.write(to: checks, atomically: true, encoding: .utf8)
        let state = dir.appendingPathComponent("state").path
        // One manual run first: safe mode holds an automated run of a playbook that never succeeded here.
        let (seeded, seedErrors) = try MedicCommand.status(["run", "restart-api-001", "--root", dir.path, "--state-dir", state, "--workdir", dir.path], in: dir)
        XCTAssertEqual(seeded, 0, seedErrors)
        try FileManager.default.removeItem(at: dir.appendingPathComponent("effects.log"))
        try Self.rule.write(to: dir.appendingPathComponent("rules/health.yaml"), atomically: true, encoding: .utf8)

        let serve = try await ServeProcess(self, in: dir, arguments: ["--root", dir.path, "--state-dir", state, "--workdir", dir.path,
                                                                      "--health-checks", checks.path, "--interval", "100ms"])
        func gauge(_ text: String, _ series: String) -> Double? {
            text.split(separator: "\n").first { $0.hasPrefix(series + " ") }.flatMap { Double($0.split(separator: " ").last ?? "") }
        }
        /// `/metrics` once `holds` says so, polled every 100 ms for up to 120 s.
        func scrape(_ what: String, _ holds: (String) -> Bool) async throws -> String {
            var last = ""
            for _ in 0..<1200 {
                last = (try? await serve.get("/metrics", timeout: 30).body) ?? ""
                if holds(last) { return last }
                try await Task.sleep(nanoseconds: 100_000_000)
            }
            throw ServeProcess.Timeout(what: "\(what) (last scrape: \(last); stderr: \(serve.stderr))", seconds: 120)
        }
        var metrics = try await scrape("api healthy") { gauge($0, #"medic_health_state{component="api"}"#) == 0 }
        XCTAssertEqual(gauge(metrics, #"medic_health_check_up{check="api_health",component="api",tier="deep"}"#), 1, metrics)
        XCTAssertEqual(gauge(metrics, "medic_health_score"), 100, metrics)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir.appendingPathComponent("effects.log").path), "healthy: no run")

        service.stop()
        metrics = try await scrape("api unhealthy") { gauge($0, #"medic_health_state{component="api"}"#) == 2 }
        XCTAssertEqual(gauge(metrics, #"medic_degradation_level{system="api"}"#), 2, "minimal: \(metrics)")
        XCTAssertEqual(gauge(metrics, #"medic_degradation_feature_on{feature="automated_remediation_noncritical"}"#), 0, metrics)
        let snapshot = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: state + "/health-checks/status.json"))) as? [String: Any])
        let result = try XCTUnwrap((snapshot["checks"] as? [[String: Any]])?.first)
        XCTAssertEqual(result["attempts"] as? Int, 3, "one attempt and its two retries: \(result)")
        XCTAssertEqual(result["passed"] as? Bool, false)

        // The rule over health_state fires, and its SEV0 playbook passes the gate at minimal.
        let effects = try await ServeProcess.poll("the rule's run (stderr: \(serve.stderr))") { () -> String? in
            let text = (try? String(contentsOf: dir.appendingPathComponent("effects.log"), encoding: .utf8)) ?? ""
            return text.contains("restart api") ? text : nil
        }
        XCTAssertTrue(effects.hasPrefix("restart api"), effects)
        XCTAssertTrue(serve.stderr.contains("rule api-unhealthy fired"), serve.stderr)

        let page = try await serve.get("/")
        XCTAssertEqual(page.status, 200)
        XCTAssertTrue(page.body.contains(#"<tr id="health-api"><td>api</td><td class="health-state">UNHEALTHY</td>"#), page.body)
        XCTAssertTrue(page.body.contains(#"<td class="degradation-level">minimal</td>"#), page.body)

        let outbox = (try? String(contentsOfFile: state + "/outbox.jsonl", encoding: .utf8)) ?? ""
        for type in ["dev.medic.health.check_failed", "dev.medic.health.state_changed", "dev.medic.degradation.changed"] {
            XCTAssertTrue(outbox.contains(#""type":"\#(type)""#), "\(type) in \(outbox)")
        }
        let status = try await serve.stop()
        XCTAssertEqual(status, 0, serve.stderr)
    }

    func testAHealthChecksFileWithErrorsIsRefusedLocatedAndTheServerDoesNotStart() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("medic-health-serve-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        let bad = dir.appendingPathComponent("bad-checks.yaml")
        try "deep_checks:\n  api:\n    url: ftp://127.0.0.1/\n    expected_code: 200\n".write(to: bad, atomically: true, encoding: .utf8)
        let (status, stderr) = try MedicCommand.status(["serve", "--root", dir.path, "--state-dir", dir.appendingPathComponent("state").path,
                                                        "--health-checks", bad.path, "--no-rules", "--listen", "127.0.0.1:0"], in: dir)
        XCTAssertEqual(status, 1, stderr)
        XCTAssertTrue(stderr.contains("bad-checks.yaml:3:") && stderr.contains("M106"), "the url, located: \(stderr)")
        XCTAssertTrue(stderr.contains("bad-checks.yaml:4:") && stderr.contains("expected_code"), "the unknown key, located: \(stderr)")
    }
}
