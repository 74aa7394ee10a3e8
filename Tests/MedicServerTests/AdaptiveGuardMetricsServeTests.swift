import Foundation
import MedicServeTestKit
import XCTest

/// `medic serve` with adaptive limits (docs/resilience.md, "Adaptive limits"): the guard's limits
/// in force are its adaptive ones, within their bounds, and `/metrics` shows them.
extension GuardedExecutorServeTests {
    func testAdaptiveLimitsAreInForceWithinTheirBoundsAndShownOnMetrics() async throws {
        let ws = try await workspace()
        try """
            routes:
              - match: {alertname: ApiDown}
                playbook: call-api-001
            resilience:
              http: {failure_threshold: 5, reset_timeout: 1h, adaptive: {failure_threshold: [2, 4]}}
            """.write(to: ws.configuration, atomically: true, encoding: .utf8)
        let serve = try await ServeProcess(self, in: ws.dir, arguments: ws.arguments)
        let run = try await alert(serve, ws, fingerprint: "adaptive-1", runs: 1)
        XCTAssertEqual(ws.attempts(run).count, 1, "\(ws.records(run))")
        let key = "key=\"\(ws.key)\""
        let adaptive = try await metric(serve, "medic_guard_adaptive", [key])
        XCTAssertEqual(adaptive, 1)
        let threshold = try await metric(serve, "medic_guard_failure_threshold", [key])
        XCTAssertEqual(threshold, 4, "the 5 set, within the bounds [2, 4]")
        let reset = try await metric(serve, "medic_guard_reset_timeout_seconds", [key])
        XCTAssertEqual(reset, 120, "the 1h set, within Medic's bounds [5s, 2m]")
        let places = try await metric(serve, "medic_guard_bulkhead_places", [key])
        XCTAssertEqual(places, 32)

        // Fixed limits again by SIGHUP: the set ones are in force at once.
        try ws.configure(failureThreshold: 5)
        kill(serve.process.processIdentifier, SIGHUP)
        _ = try await ServeProcess.poll("the reload (stderr: \(serve.stderr))") { serve.stderr.contains("reloaded:") ? true : nil }
        let fixed = try await metric(serve, "medic_guard_adaptive", [key])
        XCTAssertEqual(fixed, 0)
        let setAgain = try await metric(serve, "medic_guard_failure_threshold", [key])
        XCTAssertEqual(setAgain, 5)
        let status = try await serve.stop()
        XCTAssertEqual(status, 0, serve.stderr)
    }
}
