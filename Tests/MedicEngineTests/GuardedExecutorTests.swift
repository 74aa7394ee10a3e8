import Foundation
import MedicEngine
import MedicEngineTestKit
import MedicModel
import XCTest

/// The engine's guards around real executors and metric sources: what a step's guard counts as
/// its destination failing, that it never runs a step twice, and the retries of a metric query.
final class GuardedExecutorTests: XCTestCase {
    func directory() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("medic-guarded-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        return dir
    }

    func runs(_ file: URL) -> Int {
        ((try? String(contentsOf: file, encoding: .utf8)) ?? "").split(separator: "\n").count
    }

    func request(_ script: String, target: String? = nil) -> ExecutionRequest {
        ExecutionRequest(runID: "r1", stepNumber: 1, stepName: "s", action: "a", purpose: .step, executor: .shell, script: script,
                         parameters: target.map { ["target": $0] } ?? [:], timeout: 30)
    }

    func testAStepsGuardNeverRetriesNorTimesOutWhateverItsLimitsSay() {
        let settings = ResilienceSettings(kinds: [.http: GuardLimits(timeout: 1, retryAttempts: 5), .channel: GuardLimits(retryAttempts: 4)])
        for key in ["http:api:80", "shell:web-01", "bus:outbox"] {
            let configuration = settings.configuration(for: key)
            XCTAssertEqual(configuration.retry.maxAttempts, 1, key)
            XCTAssertNil(configuration.timeout, key)
        }
        XCTAssertEqual(settings.configuration(for: "channel:pager").retry.maxAttempts, 4)
        XCTAssertEqual(settings.configuration(for: "metrics:http://prom:9090").retry.maxAttempts, 2)
    }

    func testAShellStepKilledBySignalsOpensItsTargetsBreakerAndTheNextAttemptIsRefusedWithoutRunning() async throws {
        let dir = try directory()
        let log = dir.appendingPathComponent("ran.log")
        let guards = ExecutorGuards(settings: ResilienceSettings(kinds: [.shell: GuardLimits(failureThreshold: 2, resetTimeout: 600)]),
                                    clock: ManualClock())
        let shell = GuardedExecutor(ShellStepExecutor(), kind: .shell, guards: guards)
        let killed = "echo ran >> '\(log.path)'; kill -KILL $$"

        // A script that exits non-zero has answered: the breaker of its target stays closed.
        for _ in 0..<3 {
            let result = try await shell.execute(request("exit 3", target: "web-01"))
            XCTAssertEqual(result.exitStatus, 3)
        }
        XCTAssertEqual(guards.guards.guarding("shell:web-01").breaker.currentState.name, "closed")

        for _ in 0..<2 { _ = try await shell.execute(request(killed, target: "web-01")) }
        XCTAssertEqual(runs(log), 2, "each attempt ran once")
        let refused = try await shell.execute(request(killed, target: "web-01"))
        XCTAssertFalse(refused.succeeded)
        XCTAssertEqual(runs(log), 2, "a refused attempt runs nothing")
        XCTAssertTrue(refused.summary.hasPrefix("refused by the guard shell:web-01: its circuit breaker is open after 2 failures in a row; "
                                                + "it lets a trial call through at "), refused.summary)
        XCTAssertTrue(refused.summary.hasSuffix("(in 600 s); not run"), refused.summary)

        // Another target has a guard of its own.
        _ = try await shell.execute(request(killed, target: "web-02"))
        XCTAssertEqual(runs(log), 3)
    }

    func testAnHTTPStepsKeyIsTheHostAndPortOfItsURLAsSent() {
        let http = GuardedExecutor(HTTPExecutor(), kind: .http, guards: ExecutorGuards(clock: ManualClock()))
        func key(_ url: String, _ parameters: [String: String] = [:]) -> String? {
            http.key(for: ExecutionRequest(runID: "r", stepNumber: 1, stepName: "s", action: "a", purpose: .step, executor: .http,
                                           request: HTTPRequestSpec(method: "GET", url: url), parameters: parameters, timeout: 5))
        }
        XCTAssertEqual(key("https://api.example/v1/x"), "http:api.example:443")
        XCTAssertEqual(key("https://api.example/v1/x"), "http:api.example:443", "the same from the known keys")
        XCTAssertEqual(key("http://${host}:8080/restart", ["host": "web-01"]), "http:web-01:8080")
        XCTAssertEqual(key("http://${host}:8080/restart", ["host": "web-02"]), "http:web-02:8080")
        XCTAssertEqual(key("http://[::1]:9000/"), "http:[::1]:9000")
        XCTAssertNil(key("http://${missing}/x"), "a request that cannot be sent has no destination: the executor says why")
    }

    func testAMetricQueryThatFailsOnceIsTriedAgainByItsGuard() async throws {
        let dir = try directory()
        let count = dir.appendingPathComponent("count")
        let command = "n=$(cat '\(count.path)' 2>/dev/null || echo 0); echo $((n+1)) > '\(count.path)'; "
            + "if [ \"$n\" -ge 1 ]; then echo 42; else echo 'not yet' >&2; exit 1; fi"
        let guards = ExecutorGuards(clock: ManualClock())
        let source = GuardedMetricSource(CommandMetricSource(command: command), key: "metrics:queue", guards: guards)
        let value = try await source.value(of: MetricSelector(name: "queue_depth"))
        XCTAssertEqual(value, .number(42))
        XCTAssertEqual((try? String(contentsOf: count, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines), "2")
        XCTAssertEqual(guards.snapshots.first?.retries, 1)
    }
}
