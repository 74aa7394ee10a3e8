import Foundation
import MedicEngine
import MedicEngineTestKit
import MedicLoader
import MedicModel
import XCTest

/// Rate limits per action and per target, counted from real journals of earlier runs.
final class RateLimitGateTests: XCTestCase {
    private func catalog(limits: String) -> Catalog {
        let actions = """
            actions:
              restart_db:
                type: database
                risk_level: low
                implementation: "true"
              vacuum:
                type: database
                risk_level: low
                implementation: "true"
            """
        func playbook(_ id: String, _ action: String, _ target: String) -> String {
            "playbook_id: \(id)\nname: \(id)\nversion: 1.0.0\ncategory: database\nseverity: SEV3\ntargets: [\(target)]\n"
                + "remediation_steps:\n  - {step: 1, name: act, action: \(action)}\nmetadata: {}\n"
        }
        let loaded = CatalogLoader().load(documents: [
            ("actions/a.yaml", Array(actions.utf8)),
            ("playbooks/a.yaml", Array(playbook("restart-db-1", "restart_db", "db-1").utf8)),
            ("playbooks/b.yaml", Array(playbook("restart-db-2", "restart_db", "db-2").utf8)),
            ("playbooks/c.yaml", Array(playbook("vacuum-db-1", "vacuum", "db-1").utf8)),
            ("policies/p.yaml", Array(limits.utf8)),
        ])
        XCTAssertFalse(loaded.hasErrors, DiagnosticRenderer.text(loaded.diagnostics))
        return loaded.catalog
    }

    private func verdicts(_ catalog: Catalog, after runs: [String], state: String) async throws -> [String: GateVerdict] {
        let store = try RunStore(directory: state)
        let recorder = RecordingExecutor()
        let interpreter = Interpreter(executors: ExecutorSet(shell: recorder, bus: recorder, http: recorder),
                                      verifier: Verifier(evaluator: ConditionEvaluator(metrics: MetricRegistry(sources: [])), clock: SystemClock()))
        for id in runs {
            let report = try await interpreter.start(try Planner(catalog: catalog).plan(catalog.playbook(id: id)!), in: store)
            XCTAssertEqual(report.outcome, .succeeded)
        }
        var result: [String: GateVerdict] = [:]
        for playbook in catalog.playbooks {
            let plan = try Planner(catalog: catalog).plan(playbook)
            result[playbook.id] = await RateLimitGate().evaluate(GateContext(plan: plan, catalog: catalog, mode: .manual, stateDirectory: state, now: Date()))
        }
        return result
    }

    private func state() -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("medic-rate-\(UUID().uuidString)")
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        return dir.path
    }

    func testATargetLimitCountsEveryRunOnThatTarget() async throws {
        let catalog = catalog(limits: "rate_limits:\n  db_target:\n    scope: target\n    match: db-*\n    max_runs: 2\n    window: 1h\n")
        let v = try await verdicts(catalog, after: ["restart-db-1", "vacuum-db-1"], state: state())
        XCTAssertEqual(v["restart-db-1"]?.decision, .deferred, "two runs on db-1 already")
        XCTAssertEqual(v["vacuum-db-1"]?.decision, .deferred)
        XCTAssertEqual(v["restart-db-2"]?.decision, .pass, "db-2 has its own count")
        XCTAssertTrue(v["restart-db-1"]?.reason.contains("2 run(s) of target db-1 in the last 1h") == true, v["restart-db-1"]?.reason ?? "")
    }

    /// The window slides on the gate's `now`: runs journaled at known instants (a manual clock)
    /// stop counting once they are older than the window, and a deferral names that instant.
    func testRunsLeaveTheWindowAsItsTimePasses() async throws {
        let catalog = catalog(limits: "rate_limits:\n  hourly:\n    scope: playbook\n    match: restart-db-1\n    max_runs: 2\n    window: 1h\n")
        let state = state()
        let store = try RunStore(directory: state)
        let recorder = RecordingExecutor()
        let clock = ManualClock(start: Date(timeIntervalSince1970: 1_800_000_000))  // 2027-01-15T08:00:00Z
        let interpreter = Interpreter(executors: ExecutorSet(shell: recorder, bus: recorder, http: recorder),
                                      verifier: Verifier(evaluator: ConditionEvaluator(metrics: MetricRegistry(sources: [])), clock: clock),
                                      clock: clock)
        let plan = try Planner(catalog: catalog).plan(try XCTUnwrap(catalog.playbook(id: "restart-db-1")))
        // Runs at 08:00 and 08:10.
        let first = try await interpreter.start(plan, in: store)
        clock.advance(seconds: 600)
        let second = try await interpreter.start(plan, in: store)
        XCTAssertEqual([first.outcome, second.outcome], [.succeeded, .succeeded])
        XCTAssertEqual(store.list().runs.map(\.startedAt).sorted(), ["2027-01-15T08:00:00.000Z", "2027-01-15T08:10:00.000Z"],
                       "the runs started when the manual clock said")

        func verdict(at seconds: Double) async -> GateVerdict {
            await RateLimitGate().evaluate(GateContext(plan: plan, catalog: catalog, mode: .manual, stateDirectory: state,
                                                       now: Date(timeIntervalSince1970: 1_800_000_000 + seconds)))
        }
        // 08:10:01 and 08:59:59: both runs are within the hour.
        for seconds in [601.0, 3599] {
            let deferred = await verdict(at: seconds)
            XCTAssertEqual(deferred.decision, .deferred, "at +\(seconds) s")
            XCTAssertEqual(deferred.until, "2027-01-15T09:00:00.000Z", "until the 08:00 run leaves the window")
            XCTAssertTrue(deferred.reason.contains("2 run(s) of playbook restart-db-1 in the last 1h"), deferred.reason)
        }
        // 09:00:01: the 08:00 run has left; 09:10:01: both have.
        let one = await verdict(at: 3601)
        XCTAssertEqual(one.decision, .pass)
        XCTAssertTrue(one.reason.contains("hourly restart-db-1 1/2 per 1h"), one.reason)
        let none = await verdict(at: 4201)
        XCTAssertEqual(none.decision, .pass)
        XCTAssertTrue(none.reason.contains("hourly restart-db-1 0/2 per 1h"), none.reason)
    }

    func testAnActionLimitCountsEveryRunUsingThatAction() async throws {
        let catalog = catalog(limits: "rate_limits:\n  restarts:\n    scope: action\n    match: restart_*\n    max_runs: 2\n    window: 30m\n")
        let v = try await verdicts(catalog, after: ["restart-db-1", "restart-db-2"], state: state())
        XCTAssertEqual(v["restart-db-1"]?.decision, .deferred)
        XCTAssertEqual(v["restart-db-2"]?.decision, .deferred, "the same action on another target")
        XCTAssertEqual(v["vacuum-db-1"]?.decision, .pass, "vacuum is not matched by restart_*")
    }
}
