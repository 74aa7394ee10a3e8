import Foundation
import MedicEngine
import MedicEngineTestKit
import MedicLoader
import MedicModel
import XCTest

/// Progressive rollout through the library: stage membership, waits on a manual clock, checks
/// against a baseline, the failure budget, abort and undo, and plan/run agreement. Executors
/// record (and may fail) requests; the journal is real.
final class RolloutTests: XCTestCase {
    private let actions = """
        actions:
          fix:
            type: infrastructure
            risk_level: low
            parameters:
              url: {type: string, default: "http://${target}:8080/health"}
            implementation: echo fix
            rollback: echo undo
        """

    private func playbook(targets: Int, rollout: String, extra: String = "") -> String {
        let list = (1...targets).map { "  - {name: h\(String(format: "%02d", $0)), labels: {zone: z\($0 % 2), app.tier: web}}" }
        return """
            playbook_id: fleet-001
            name: Fleet
            version: 1.0.0
            category: infrastructure
            severity: SEV3
            targets:
            \(list.joined(separator: "\n"))
            rollout:
            \(rollout)
            remediation_steps:
              - {step: 1, name: fix it, action: fix}
            rollback:
              available: true
            \(extra)
            metadata: {}
            """
    }

    private func plan(_ text: String, policies: String? = nil) throws -> Plan {
        var documents = [("actions/a.yaml", Array(actions.utf8)), ("playbooks/p.yaml", Array(text.utf8))]
        if let policies { documents.append(("policies/c.yaml", Array(policies.utf8))) }
        let result = CatalogLoader().load(documents: documents)
        XCTAssertFalse(result.hasErrors, DiagnosticRenderer.text(result.diagnostics))
        return try Planner(catalog: result.catalog).plan(try XCTUnwrap(result.catalog.playbooks.first))
    }

    private func store() throws -> RunStore {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("medic-rollout-\(UUID().uuidString)")
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        return try RunStore(directory: dir.path)
    }

    private struct Harness {
        var shell: RecordingExecutor
        var metrics: InMemoryMetricSource
        var clock: ManualClock
        var interpreter: Interpreter
    }

    /// `failing`: targets whose step fails.
    private func harness(failing: Set<String> = [], metrics: [String: [InMemoryMetricSource.Reading]] = [:]) -> Harness {
        let shell = RecordingExecutor { request in
            request.purpose == .step && failing.contains(request.parameters["target"] ?? "")
                ? ExecutionResult(succeeded: false, exitStatus: 3, summary: "exit 3")
                : ExecutionResult(succeeded: true, exitStatus: 0, summary: "exit 0")
        }
        let source = InMemoryMetricSource(metrics)
        let clock = ManualClock()
        let registry = MetricRegistry(sources: [(patterns: ["*"], source: source)])
        let interpreter = Interpreter(executors: ExecutorSet(shell: shell, bus: RecordingExecutor(), http: RecordingExecutor()),
                                      verifier: Verifier(evaluator: ConditionEvaluator(metrics: registry), clock: clock), clock: clock)
        return Harness(shell: shell, metrics: source, clock: clock, interpreter: interpreter)
    }

    private func targets(_ h: Harness, _ purpose: ExecutionPurpose = .step) -> [String] {
        h.shell.requests.filter { $0.purpose == purpose }.compactMap { $0.parameters["target"] }
    }

    private func names(_ range: ClosedRange<Int>) -> [String] { range.map { "h" + String(format: "%02d", $0) } }

    // MARK: - Stage membership

    func testStagesAreCumulativeSharesRoundedUpAndStagesThatAddNoTargetMerge() throws {
        // 1% of 20 is 0.2 -> 1; 10% is 2; 50% is 10; 100% is 20.
        var rollout = try XCTUnwrap(try plan(playbook(targets: 20, rollout: "  stages: [1%, 10%, 50%, 100%]")).rollout)
        XCTAssertEqual(rollout.stages.map(\.targets.count), [1, 1, 8, 10])
        XCTAssertEqual(rollout.targets, names(1...20), "the order given, by default")
        XCTAssertEqual(rollout.stages[2].targets, names(3...10))
        // 5 targets: 1% -> 1, 10% -> 1 (adds none: merged away), 50% -> 3, 100% -> 5.
        rollout = try XCTUnwrap(try plan(playbook(targets: 5, rollout: "  stages: [1%, 10%, 50%, 100%]")).rollout)
        XCTAssertEqual(rollout.stages.map(\.targets.count), [1, 2, 2])
        XCTAssertEqual(rollout.stages.map(\.size), ["1%", "50%", "100%"])
        XCTAssertEqual(rollout.stages.map(\.number), [1, 2, 3])
        // Counts: 1, then up to 4, then 20 capped at 10; `all` then adds none.
        rollout = try XCTUnwrap(try plan(playbook(targets: 10, rollout: "  stages: [1, 4, 20, all]")).rollout)
        XCTAssertEqual(rollout.stages.map(\.targets.count), [1, 3, 6])
        // Stages that stop short of every target: the rest is one more stage, said so.
        rollout = try XCTUnwrap(try plan(playbook(targets: 10, rollout: "  stages: [1, 3]")).rollout)
        XCTAssertEqual(rollout.stages.map(\.targets.count), [1, 2, 7])
        XCTAssertEqual(rollout.stages.last?.size, "all (the stages cover 3 of 10)")
        // Defaults: one at a time, any failure aborts.
        XCTAssertEqual(rollout.maxConcurrency, 1)
        XCTAssertEqual(rollout.failureBudget(total: 10), 0)
    }

    func testOrdersByNameOrBySeededShuffleTheSameEveryTime() throws {
        let reversed = (1...6).reversed().map { "  - h0\($0)" }.joined(separator: "\n")
        let text = { (order: String) in
            """
            playbook_id: fleet-001
            name: Fleet
            version: 1.0.0
            category: infrastructure
            severity: SEV3
            targets:
            \(reversed)
            rollout:
              stages: [2, all]
              \(order)
            remediation_steps:
              - {step: 1, name: fix it, action: fix}
            metadata: {}
            """
        }
        XCTAssertEqual(try plan(text("order: name")).rollout?.targets, names(1...6))
        let a = try XCTUnwrap(try plan(text("order: random\n  seed: 42")).rollout)
        let b = try XCTUnwrap(try plan(text("order: random\n  seed: 42")).rollout)
        let c = try XCTUnwrap(try plan(text("order: random\n  seed: 43")).rollout)
        XCTAssertEqual(a.targets, b.targets, "the same seed, the same order")
        XCTAssertEqual(a.targets.sorted(), names(1...6), "a permutation")
        XCTAssertNotEqual(a.targets, c.targets)
        XCTAssertEqual(a.seed, 42)
        // Without a seed, the playbook's id seeds it: still the same on every plan.
        XCTAssertEqual(try plan(text("order: random")).rollout?.targets, try plan(text("order: random")).rollout?.targets)
    }

    func testTheReferencesProgressiveRolloutPolicyIsUsedAsWritten() throws {
        let policies = """
            containment_strategies:
              progressive_rollout:
                description: "Apply remediation to small subset first"
                strategy:
                  - step_1: 1% of instances (canary)
                  - wait: 5_minutes
                  - verify: error_rate not increased
                  - step_2: 10% of instances
                  - wait: 10_minutes
                  - verify: error_rate not increased
                  - step_3: 50% of instances
                  - wait: 15_minutes
                  - step_4: 100% of instances
                abort_on: error_rate_increase > 5%
            """
        let playbook = playbook(targets: 200, rollout: "  stages: [1%]").replacingOccurrences(of: "rollout:\n  stages: [1%]\n", with: "")
        let rollout = try XCTUnwrap(try plan(playbook, policies: policies).rollout)
        XCTAssertEqual(rollout.source, "policy progressive_rollout")
        XCTAssertEqual(rollout.stages.map(\.targets.count), [2, 18, 80, 100])
        XCTAssertEqual(rollout.stages.map { $0.wait?.seconds }, [300, 600, 900, nil])
        XCTAssertEqual(rollout.stages.map { $0.verify?.expression.description }, ["error_rate_increase <= 0%", "error_rate_increase <= 0%", nil, nil])
        XCTAssertEqual(rollout.abortOn?.source, "error_rate_increase > 5%")
        XCTAssertEqual(rollout.baselines.map(\.description), ["error_rate"])
    }

    // MARK: - Runs

    func testStagesRunInOrderWaitOnTheClockAndTargetsSeeTheirNameAndLabels() async throws {
        let h = harness()
        let plan = try plan(playbook(targets: 5, rollout: "  stages: [1, 3, all]\n  wait: 5m\n  verify: queue_depth < 10"))
        h.metrics.set("queue_depth", [.number(3)])
        let report = try await h.interpreter.start(plan, in: try store())
        XCTAssertEqual(report.outcome, .succeeded, report.message ?? "")
        XCTAssertEqual(h.clock.slept, [300, 300], "a wait after each stage but the last")
        XCTAssertEqual(targets(h), names(1...5), "one at a time, in rollout order = the plan's")
        XCTAssertEqual(targets(h), plan.rollout?.targets)
        let first = try XCTUnwrap(h.shell.requests.first)
        XCTAssertEqual(first.parameters["target_zone"], "z1")
        XCTAssertEqual(first.parameters["target_app_tier"], "web", "a label's other characters become _")
        XCTAssertEqual(first.parameters["url"], "http://h01:8080/health", "${target} in a value is the target's name")
        XCTAssertEqual(report.rollout?.stages.map(\.checksPassed), [true, true, true], "the last stage has no checks of its own: passed")
        XCTAssertEqual(report.rollout?.targets.map(\.status), Array(repeating: "succeeded", count: 5))
        XCTAssertEqual(report.steps.first?.summary, "5 of 5 target(s) ok")
    }

    func testAFailedCheckAbortsUndoesTheRemediatedTargetsNewestFirstAndEscalates() async throws {
        // The baseline is 2; after stage 1 the error rate is 2 (0%), after stage 2 it is 2.2 (+10%).
        let h = harness(metrics: ["error_rate": [.number(2), .number(2), .number(2.2)]])
        let plan = try plan(playbook(targets: 6, rollout: "  stages: [1, 3, all]\n  abort_on: error_rate_increase > 5%"))
        let store = try store()
        let report = try await h.interpreter.start(plan, in: store)
        XCTAssertEqual(targets(h), names(1...3), "stage 3 never starts")
        XCTAssertEqual(targets(h, .rollback), ["h03", "h02", "h01"], "undone newest first")
        XCTAssertEqual(report.outcome, .rolledBack)
        XCTAssertNotNil(report.escalation)
        let records = try await store.read(runID: report.runID).records
        XCTAssertEqual(records.first { $0.event == .baselineRecorded }?.baseline, ["error_rate": 2])
        let aborted = try XCTUnwrap(records.first { $0.event == .rolloutAborted })
        XCTAssertTrue(aborted.message?.contains("error_rate_increase=10") ?? false, aborted.message ?? "")
        XCTAssertEqual(aborted.states, ["h01": "succeeded", "h02": "succeeded", "h03": "succeeded",
                                        "h04": "not_started", "h05": "not_started", "h06": "not_started"])
        XCTAssertEqual(aborted.targets, ["h03", "h02", "h01"])
        XCTAssertEqual(report.rollout?.targets.map(\.status), ["undone", "undone", "undone", "not_started", "not_started", "not_started"])
        XCTAssertEqual(records.last?.event, .runFinished)
    }

    func testACheckThatCannotBeDecidedStopsTheRollout() async throws {
        let h = harness(metrics: ["http_error_rate": [.failure("connection refused")]])
        let plan = try plan(playbook(targets: 4, rollout: "  stages: [1, all]\n  verify: http_error_rate < 1%"))
        let report = try await h.interpreter.start(plan, in: try store())
        XCTAssertEqual(targets(h), ["h01"])
        XCTAssertEqual(targets(h, .rollback), ["h01"])
        XCTAssertTrue(report.rollout?.aborted?.contains("cannot be decided") ?? false, report.rollout?.aborted ?? "")
    }

    func testMoreFailuresThanTheBudgetAbortAndNoFurtherTargetStarts() async throws {
        // 10 targets, 20%: two failures are tolerated, the third aborts.
        let h = harness(failing: ["h02", "h04", "h05"])
        let plan = try plan(playbook(targets: 10, rollout: "  stages: [all]\n  max_fail_percentage: 20"))
        let report = try await h.interpreter.start(plan, in: try store())
        XCTAssertEqual(targets(h), names(1...5), "nothing starts after the third failure")
        XCTAssertEqual(targets(h, .rollback), ["h03", "h01"], "only the remediated targets are undone; failed ones are left as they are")
        XCTAssertEqual(report.rollout?.targets.filter { $0.status == "failed" }.map(\.name), ["h02", "h04", "h05"])
        XCTAssertTrue(report.rollout?.aborted?.hasPrefix("3 of 10 target(s) failed") ?? false, report.rollout?.aborted ?? "")
        // Within the budget the rollout goes on to its end.
        let tolerant = harness(failing: ["h02", "h04"])
        let ok = try await tolerant.interpreter.start(plan, in: try store())
        XCTAssertEqual(targets(tolerant).count, 10)
        XCTAssertNil(ok.rollout?.aborted)
    }

    func testWithoutAnAvailableRollbackAnAbortUndoesNothingAndSaysSo() async throws {
        let h = harness(failing: ["h02"])
        let text = playbook(targets: 3, rollout: "  stages: [all]").replacingOccurrences(of: "  available: true", with: "  available: false\n  reason: a restart has no inverse")
        let report = try await h.interpreter.start(try plan(text), in: try store())
        XCTAssertEqual(targets(h, .rollback), [])
        XCTAssertEqual(report.outcome, .failed)
        XCTAssertTrue(report.message?.contains("a restart has no inverse") ?? false, report.message ?? "")
    }

    func testManyTargetsAtOnceShareTheJournalWithoutLosingARecord() async throws {
        let h = harness(failing: [])
        let plan = try plan(playbook(targets: 60, rollout: "  stages: [10%, all]\n  max_concurrency: 16"))
        let store = try store()
        let report = try await h.interpreter.start(plan, in: store)
        XCTAssertEqual(report.outcome, .succeeded)
        XCTAssertEqual(Set(targets(h)), Set(names(1...60)))
        XCTAssertEqual(targets(h).prefix(6).sorted(), names(1...6), "stage 1 before stage 2")
        let contents = try await store.read(runID: report.runID)
        XCTAssertEqual(contents.records.map(\.seq), Array(1...contents.records.count), "whole lines, numbered without a gap")
        XCTAssertEqual(contents.records.filter { $0.event == .targetFinished }.count, 60)
        XCTAssertEqual(report.rollout?.targets.filter { $0.status == "succeeded" }.count, 60)
    }

    func testAFailedCheckJournaledBeforeACrashStandsOnResume() async throws {
        // The check after stage 1 fails (+10%); the process "dies" right after journaling it.
        let h = harness(metrics: ["error_rate": [.number(2), .number(2.2), .number(2)]])
        let plan = try plan(playbook(targets: 4, rollout: "  stages: [1, all]\n  abort_on: error_rate_increase > 5%"))
        let store = try store()
        let first = try await h.interpreter.start(plan, in: store)
        let path = store.journalPath(first.runID)
        let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n")
        let cut = try XCTUnwrap(lines.firstIndex { $0.contains("\"stage_checked\"") })
        try (lines[...cut].joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8)
        // On resume the error rate reads fine (2, no increase), but the journaled verdict stands.
        let resumed = try await h.interpreter.resume(first.runID, in: store)
        XCTAssertEqual(resumed.outcome, .rolledBack, resumed.message ?? "")
        XCTAssertTrue(resumed.rollout?.aborted?.hasPrefix("stage 1 check failed: abort_on error_rate_increase > 5%: holds") ?? false,
                      resumed.rollout?.aborted ?? "")
        XCTAssertEqual(targets(h), ["h01"], "stage 2 never starts")
        XCTAssertEqual(targets(h, .rollback), ["h01", "h01"], "undone by the first process, and again by the resumed one")
    }
}
