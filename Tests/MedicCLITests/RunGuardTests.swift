import Foundation
import XCTest

/// `medic run --resilience FILE`: the guards of a run's executor calls take the file's limits.
/// A step whose shell is killed at each attempt fails its target's destination; with a breaker
/// opened by one such failure, the step's later attempts are refused without running, each
/// journaled as a failed attempt naming the guard.
final class RunGuardTests: XCTestCase {
    static let actions = """
        actions:
          killed:
            type: infrastructure
            risk_level: low
            parameters: {}
            implementation: echo ran >> effects.log; kill -KILL $$
        """
    static let playbook = """
        playbook_id: killed-001
        name: A step killed at every attempt
        version: 1.0.0
        category: infrastructure
        severity: SEV3
        remediation_steps:
          - {step: 1, name: killed, action: killed, retry: {attempts: 3, backoff: linear, initial: 10ms}}
        metadata: {}
        """

    func testALimitFromTheResilienceFileRefusesTheAttemptsAfterTheBreakerOpens() throws {
        let ws = try LibraryWorkspace(self, actions: Self.actions, playbooks: Self.playbook)
        let limits = ws.dir.appendingPathComponent("limits.yaml")
        try "resilience:\n  shell: {failure_threshold: 1, reset_timeout: 1h}\n".write(to: limits, atomically: true, encoding: .utf8)

        // Medic's defaults (5 failures in a row): every attempt runs.
        let plain = try ws.medic(["run", "killed-001"])
        XCTAssertNotEqual(plain.status, 0)
        XCTAssertEqual(ws.effects.count, 3, plain.stderr)

        // One failure opens the breaker of shell:local: attempts 2 and 3 are refused, journaled.
        let guarded = try ws.medic(["run", "killed-001", "--resilience", limits.path])
        XCTAssertNotEqual(guarded.status, 0)
        XCTAssertEqual(ws.effects.count, 4, "only the first attempt ran: \(guarded.stderr)")
        let journal = try XCTUnwrap(ws.files(".jsonl").map { (try? String(contentsOfFile: ws.runs + "/" + $0, encoding: .utf8)) ?? "" }
            .first { $0.contains("refused by the guard") }, "a journal with a refusal")
        let refusals = journal.split(separator: "\n").filter {
            $0.contains("\"step_finished\"") && $0.contains("refused by the guard shell:local: its circuit breaker is open after 1 failures in a row")
        }
        XCTAssertEqual(refusals.count, 2, journal)
    }

    func testAResilienceFileWithAnErrorIsRefusedLocatedAndNothingRuns() throws {
        let ws = try LibraryWorkspace(self, actions: Self.actions, playbooks: Self.playbook)
        let limits = ws.dir.appendingPathComponent("limits.yaml")
        try "resilience:\n  shell: {timeout: 5s}\n".write(to: limits, atomically: true, encoding: .utf8)
        let refused = try ws.medic(["run", "killed-001", "--resilience", limits.path])
        XCTAssertNotEqual(refused.status, 0)
        XCTAssertTrue(refused.stderr.contains("limits.yaml:2:"), refused.stderr)
        XCTAssertTrue(refused.stderr.contains("'timeout' of 'resilience.shell' is not allowed"), refused.stderr)
        XCTAssertEqual(ws.effects, [])
        XCTAssertFalse(FileManager.default.fileExists(atPath: ws.state), "a bad option creates no state directory")
    }
}
