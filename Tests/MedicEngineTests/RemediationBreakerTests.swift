import Foundation
import MedicEngine
import MedicEngineTestKit
import MedicLoader
import MedicModel
import XCTest

/// The remediation circuit breaker (§7.3) over real journals: runs of one playbook made by the
/// interpreter with a recording executor that fails or succeeds, on a manual clock; the breaker's
/// state is asked at chosen `now:` values, so nothing depends on the wall clock.
final class RemediationBreakerTests: XCTestCase {
    private static let actions = """
        actions:
          plain:
            type: infrastructure
            risk_level: low
            implementation: "true"
        """

    private static let playbook = """
        playbook_id: flaky-001
        name: Flaky
        version: 1.0.0
        category: infrastructure
        severity: SEV3
        remediation_steps:
          - {step: 1, name: a, action: plain}
        metadata: {}
        """

    private final class Bench {
        let store: RunStore
        let clock = ManualClock()
        let plan: Plan
        let catalog: Catalog
        var breaker: RemediationBreaker { RemediationBreaker(stateDirectory: store.directory, cooldown: 3600) }

        init(store: RunStore, plan: Plan, catalog: Catalog) {
            self.store = store
            self.plan = plan
            self.catalog = catalog
        }

        /// One run a minute after the previous one; its only step succeeds or fails.
        @discardableResult
        func run(_ succeed: Bool, gates: [GateVerdict] = []) async throws -> RunReport {
            clock.advance(seconds: 60)
            let shell = RecordingExecutor { _ in
                ExecutionResult(succeeded: succeed, exitStatus: succeed ? 0 : 3, summary: succeed ? "exit 0" : "exit 3")
            }
            let interpreter = Interpreter(executors: ExecutorSet(shell: shell, bus: RecordingExecutor(), http: RecordingExecutor()),
                                          verifier: Verifier(evaluator: ConditionEvaluator(metrics: MetricRegistry(sources: [])), clock: clock),
                                          clock: clock)
            var plan = plan
            plan.gates = gates
            return try await interpreter.start(plan, in: store, seed: 1)
        }

        @discardableResult
        func runs(_ pattern: String) async throws -> [String] {
            var ids: [String] = []
            for mark in pattern { ids.append(try await run(mark == "S").runID) }
            return ids
        }

        var state: BreakerState { get async { await breaker.state(of: "flaky-001", now: clock.now) } }
    }

    private func bench() throws -> Bench {
        let result = CatalogLoader().load(documents: [("actions/a.yaml", Array(Self.actions.utf8)), ("playbooks/p.yaml", Array(Self.playbook.utf8))])
        XCTAssertFalse(result.hasErrors, DiagnosticRenderer.text(result.diagnostics))
        let plan = try Planner(catalog: result.catalog).plan(try XCTUnwrap(result.catalog.playbooks.first))
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("medic-breaker-\(UUID().uuidString)")
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        return Bench(store: try RunStore(directory: dir.path), plan: plan, catalog: result.catalog)
    }

    private func openUntil(_ state: BreakerState, file: StaticString = #filePath, line: UInt = #line) -> (Date, String)? {
        guard case .open(let until, let reason) = state else {
            XCTFail("expected open, got \(state)", file: file, line: line)
            return nil
        }
        return (until, reason)
    }

    func testThreeConsecutiveFailuresOpenItThenItHalfOpensAfterTheCooldown() async throws {
        let b = try bench()
        let v1 = await b.state
        XCTAssertEqual(v1, .closed, "no runs")
        try await b.runs("SFF")
        let v2 = await b.state
        XCTAssertEqual(v2, .closed, "2 of 3 failed, but fewer than 4 runs and only 2 in a row")
        let ids = try await b.runs("F")
        guard let (until, reason) = openUntil(await b.state) else { return }
        let failures = b.store.list().runs.suffix(3).map(\.id)
        XCTAssertEqual(failures.last, ids.last)
        XCTAssertEqual(reason, "3 consecutive failures: runs " + failures.joined(separator: ", "))
        XCTAssertEqual(until, b.clock.now.addingTimeInterval(3600), "an hour after the latest failure")

        let v3 = await b.breaker.state(of: "flaky-001", now: until.addingTimeInterval(-1))
        XCTAssertEqual(v3, .open(until: until, reason: reason))
        guard case .halfOpen(let why) = await b.breaker.state(of: "flaky-001", now: until) else {
            return XCTFail("half-open once the cooldown is over")
        }
        XCTAssertTrue(why.contains(reason), why)
        let v4 = await b.breaker.state(of: "other-001", now: until)
        XCTAssertEqual(v4, .closed, "per playbook")
        let v5 = await b.breaker.all(now: until)
        XCTAssertEqual(v5.map(\.playbookID), ["flaky-001"])

        // The gate says the same.
        let context = GateContext(plan: b.plan, catalog: b.catalog, mode: .automated, stateDirectory: b.store.directory, now: b.clock.now)
        let verdict = await BreakerGate().evaluate(context)
        XCTAssertEqual(verdict.gate, .breaker)
        XCTAssertEqual(verdict.decision, .refuse)
        XCTAssertTrue(verdict.reason.contains("3 consecutive failures: runs"), verdict.reason)
        XCTAssertTrue(verdict.reason.contains("half-opens at \(JournalRecord.timestampForTests(until))"), verdict.reason)
        var later = context
        later.now = until
        let v6 = await BreakerGate().evaluate(later)
        XCTAssertEqual(v6.decision, .pass)
        let v7 = await BreakerGate().evaluate(later)
        XCTAssertTrue(v7.reason.contains("trial run"))

        // A run the gate refuses does not count.
        let refused = try await b.run(false, gates: [verdict])
        XCTAssertEqual(refused.outcome, .refused)
        let v8 = await b.breaker.state(of: "flaky-001", now: until.addingTimeInterval(-1))
        XCTAssertEqual(v8, .open(until: until, reason: reason))
    }

    func testMoreThanHalfOfTheLastTenFailedOpensIt() async throws {
        let b = try bench()
        // Never 3 in a row; 4 of 10 after ten runs, 5 of 10 after eleven, 6 of 10 after twelve.
        try await b.runs("SSSSFFSFFS")
        let v9 = await b.state
        XCTAssertEqual(v9, .closed)
        try await b.runs("F")
        let v10 = await b.state
        XCTAssertEqual(v10, .closed, "5 of 10 is not more than half")
        try await b.runs("F")
        guard let (_, reason) = openUntil(await b.state) else { return }
        XCTAssertEqual(reason, "6 of the last 10 runs failed")
        let status = await b.breaker.status(of: "flaky-001", now: b.clock.now)
        XCTAssertEqual([status.windowRuns, status.windowFailures, status.consecutiveFailures], [10, 6, 2])
    }

    func testTheRateNeedsAtLeastFourRuns() async throws {
        let b = try bench()
        try await b.runs("FSF")
        let v11 = await b.state
        XCTAssertEqual(v11, .closed, "2 of 3: too few runs to judge a rate")
        try await b.runs("F")
        guard let (_, reason) = openUntil(await b.state) else { return }
        XCTAssertEqual(reason, "3 of the last 4 runs failed")
    }

    func testAFailedTrialOpensItAgainWithANewCooldown() async throws {
        let b = try bench()
        try await b.runs("FFF")
        guard let (until, _) = openUntil(await b.state) else { return }
        b.clock.advance(seconds: 3600)
        guard case .halfOpen = await b.state else { return XCTFail("half-open: \(await b.state)") }
        let trial = try await b.run(false)
        guard let (again, reason) = openUntil(await b.state) else { return }
        XCTAssertEqual(again, b.clock.now.addingTimeInterval(3600), "a new cooldown from the trial's failure")
        XCTAssertGreaterThan(again, until)
        XCTAssertTrue(reason.hasSuffix("; then the trial run \(trial.runID) failed"), reason)
        b.clock.advance(seconds: 3600)
        guard case .halfOpen = await b.state else { return XCTFail("half-open again: \(await b.state)") }
    }

    func testASuccessfulTrialClosesItAndForgetsTheHistoryBeforeIt() async throws {
        let b = try bench()
        try await b.runs("FFF")
        b.clock.advance(seconds: 3600)
        try await b.runs("S")
        let v12 = await b.state
        XCTAssertEqual(v12, .closed)
        try await b.runs("FF")
        let v13 = await b.state
        XCTAssertEqual(v13, .closed, "S F F: the failures before the trial no longer count")
        try await b.runs("F")
        guard let (_, reason) = openUntil(await b.state) else { return }
        XCTAssertTrue(reason.hasPrefix("3 consecutive failures"), reason)
    }

    func testOnlyOneTrialRunGoesThroughWhileHalfOpen() async throws {
        let b = try bench()
        try await b.runs("FFF")
        b.clock.advance(seconds: 3601)
        // A trial run in progress: its journal is started and its process (this one) holds its lock.
        let (journal, lock) = try b.store.create(runID: "trial-run")
        let started = JournalRecord.runStarted(run: "trial-run", plan: b.plan, mode: .manual, pid: getpid(), host: "h", seed: 1)
        _ = try journal.append(started, now: b.clock.now)
        guard let (_, reason) = openUntil(await b.state) else { return }
        XCTAssertTrue(reason.contains("the trial run trial-run is still running"), reason)
        withExtendedLifetime(lock) {}
    }

    func testAResetClosesItAndEarlierRunsNoLongerCount() async throws {
        let b = try bench()
        try await b.runs("FFF")
        guard openUntil(await b.state) != nil else { return }
        b.clock.advance(seconds: 1)
        try await b.breaker.reset("flaky-001", by: "alice", reason: "fixed the disk", now: b.clock.now)
        let v14 = await b.state
        XCTAssertEqual(v14, .closed)
        let v15 = await b.breaker.status(of: "flaky-001", now: b.clock.now)
        XCTAssertEqual(v15.lastReset?.by, "alice")
        let stored = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: b.store.directory + "/breakers.json"))) as? [String: [String: String]]
        XCTAssertEqual(stored?["flaky-001"]?["by"], "alice")
        XCTAssertEqual(stored?["flaky-001"]?["reason"], "fixed the disk")
        let audit = try String(contentsOfFile: b.store.directory + "/audit.jsonl", encoding: .utf8)
        XCTAssertTrue(audit.contains(#""by":"alice","event":"breaker_reset","playbook":"flaky-001","reason":"fixed the disk""#), audit)

        try await b.runs("FF")
        let v16 = await b.state
        XCTAssertEqual(v16, .closed, "two failures since the reset")
        try await b.runs("F")
        guard let (_, reason) = openUntil(await b.state) else { return }
        XCTAssertTrue(reason.hasPrefix("3 consecutive failures"), reason)
    }
}

private extension JournalRecord {
    static func timestampForTests(_ date: Date) -> String {
        date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
    }
}
