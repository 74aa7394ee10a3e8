import Foundation
import MedicEngine
import MedicEngineTestKit
import MedicLoader
import MedicModel
import XCTest

/// The interpreter through its library API, with recording executors, an in-memory metric
/// source and a manual clock; the journal is real (a temporary state directory).
final class InterpreterTests: XCTestCase {
    private let actions = """
        actions:
          touch_file:
            type: infrastructure
            risk_level: low
            parameters:
              name: required
            implementation: touch "${name}"
            rollback: rm -f "${name}"
            outputs: [made]
          plain:
            type: infrastructure
            risk_level: low
            implementation: "true"
          checked:
            type: infrastructure
            risk_level: low
            implementation: "true"
            verification: "true"
          consume:
            type: infrastructure
            risk_level: low
            parameters:
              made: required
            implementation: echo "${made}"
          once:
            type: infrastructure
            risk_level: low
            idempotent: false
            implementation: "true"
            rollback: "true"
        """

    private func catalog(_ playbook: String) throws -> (Catalog, Playbook) {
        let result = CatalogLoader().load(documents: [("actions/a.yaml", Array(actions.utf8)), ("playbooks/p.yaml", Array(playbook.utf8))])
        XCTAssertFalse(result.hasErrors, DiagnosticRenderer.text(result.diagnostics))
        return (result.catalog, try XCTUnwrap(result.catalog.playbooks.first))
    }

    private func playbook(steps: String, extra: String = "") -> String {
        """
        playbook_id: test-001
        name: Test
        version: 1.0.0
        category: infrastructure
        severity: SEV3
        remediation_steps:
        \(steps)
        \(extra)
        metadata: {}
        """
    }

    private func store() throws -> RunStore {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("medic-interp-\(UUID().uuidString)")
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        return try RunStore(directory: dir.path)
    }

    private struct Harness {
        var shell: RecordingExecutor
        var bus: RecordingExecutor
        var metrics: InMemoryMetricSource
        var clock: ManualClock
        var interpreter: Interpreter
    }

    private func harness(shell respond: @escaping @Sendable (ExecutionRequest) -> ExecutionResult = { _ in
        ExecutionResult(succeeded: true, exitStatus: 0, summary: "exit 0")
    }, metrics: [String: [InMemoryMetricSource.Reading]] = [:]) -> Harness {
        let shell = RecordingExecutor(respond: respond)
        let bus = RecordingExecutor()
        let source = InMemoryMetricSource(metrics)
        let clock = ManualClock()
        let registry = MetricRegistry(sources: [(patterns: ["*"], source: source)])
        let interpreter = Interpreter(executors: ExecutorSet(shell: shell, bus: bus, http: RecordingExecutor()),
                                      verifier: Verifier(evaluator: ConditionEvaluator(metrics: registry), clock: clock), clock: clock)
        return Harness(shell: shell, bus: bus, metrics: source, clock: clock, interpreter: interpreter)
    }

    private func run(_ text: String, _ h: Harness, seed: UInt64 = 7) async throws -> (RunReport, [JournalRecord]) {
        let (catalog, playbook) = try catalog(text)
        let plan = try Planner(catalog: catalog).plan(playbook)
        let store = try store()
        let report = try await h.interpreter.start(plan, in: store, seed: seed)
        return (report, try await store.read(runID: report.runID).records)
    }

    private static func failing(_ steps: Set<Int>, purpose: ExecutionPurpose = .step) -> @Sendable (ExecutionRequest) -> ExecutionResult {
        { request in
            steps.contains(request.stepNumber) && request.purpose == purpose
                ? ExecutionResult(succeeded: false, exitStatus: 3, summary: "exit 3")
                : ExecutionResult(succeeded: true, exitStatus: 0, outputs: request.purpose == .step ? ["made": "yes-\(request.stepNumber)"] : [:], summary: "exit 0")
        }
    }

    private func steps(_ h: Harness, _ purpose: ExecutionPurpose = .step) -> [Int] {
        h.shell.requests.filter { $0.purpose == purpose }.map(\.stepNumber)
    }

    func testStepsRunInOrderAndOutputsReachLaterSteps() async throws {
        let h = harness(shell: Self.failing([]))
        let (report, records) = try await run(playbook(steps: """
              - {step: 1, name: a, action: touch_file, parameters: {name: /tmp/a}}
              - {step: 2, name: b, action: checked}
              - {step: 3, name: c, action: consume}
            """), h)
        XCTAssertEqual(report.outcome, .succeeded)
        XCTAssertEqual(steps(h), [1, 2, 3])
        XCTAssertEqual(steps(h, .verification), [2], "the action's verification runs after its step")
        XCTAssertEqual(h.shell.requests.last?.parameters["made"], "yes-2", "the latest output of that name")
        XCTAssertEqual(h.shell.requests.first?.parameters, ["name": "/tmp/a"])
        XCTAssertEqual(report.steps.map(\.outputs), [["made": "yes-1"], ["made": "yes-2"], ["made": "yes-3"]])
        // Records are numbered without gaps, from run_started to run_finished.
        XCTAssertEqual(records.map(\.seq), Array(1...records.count))
        XCTAssertEqual(records.first?.event, .runStarted)
        XCTAssertEqual(records.last?.event, .runFinished)
    }

    func testRetriesWaitAsTheirBackoffSaysAndJitterFollowsTheSeed() async throws {
        for (backoff, expected) in [("exponential", [1.0, 2, 4, 5]), ("linear", [1.0, 2, 3, 4])] {
            let h = harness(shell: Self.failing([1]))
            let (report, records) = try await run(playbook(steps: """
                  - {step: 1, name: a, action: plain, retry: {attempts: 5, backoff: \(backoff), initial: 1s, max: 5s}}
                """), h)
            XCTAssertEqual(h.clock.slept, expected, backoff)
            XCTAssertEqual(steps(h), [1, 1, 1, 1, 1])
            XCTAssertEqual(report.outcome, .failed)
            XCTAssertEqual(records.filter { $0.event == .retryScheduled }.compactMap(\.delay), expected)
        }
        var jitters: [[Double]] = []
        for seed: UInt64 in [1, 1, 2] {
            let h = harness(shell: Self.failing([1]))
            _ = try await run(playbook(steps: """
                  - {step: 1, name: a, action: plain, retry: {attempts: 4, backoff: jittered, initial: 2s}}
                """), h, seed: seed)
            jitters.append(h.clock.slept)
            for (wait, base) in zip(h.clock.slept, [2.0, 4, 8]) {
                XCTAssertTrue(wait >= base / 2 && wait <= base, "\(wait) outside [\(base / 2), \(base)]")
            }
        }
        XCTAssertEqual(jitters[0], jitters[1], "the same seed waits the same")
        XCTAssertNotEqual(jitters[0], jitters[2], "another seed waits otherwise")
    }

    func testSafetyMaxRetriesCapsRetriesAcrossTheRun() async throws {
        let h = harness(shell: Self.failing([1, 2]))
        let (report, _) = try await run(playbook(steps: """
              - {step: 1, name: a, action: plain, on_failure: continue, retry: {attempts: 3, initial: 1s}}
              - {step: 2, name: b, action: plain, retry: {attempts: 3, initial: 1s}}
            """, extra: "safety: {max_retries: 3}"), h)
        XCTAssertEqual(steps(h), [1, 1, 1, 2, 2], "two retries for step 1, then one left for step 2")
        XCTAssertEqual(report.outcome, .failed)
        XCTAssertTrue(report.message?.contains("safety.max_retries is 3") == true, report.message ?? "")
    }

    func testOnFailureContinueGoesOnAndAbortStopsWithoutRollback() async throws {
        let rollback = "rollback: {available: true}"
        var h = harness(shell: Self.failing([1]))
        var (report, _) = try await run(playbook(steps: """
              - {step: 1, name: a, action: plain, on_failure: continue}
              - {step: 2, name: b, action: plain}
            """, extra: rollback), h)
        XCTAssertEqual(steps(h), [1, 2])
        XCTAssertEqual(report.outcome, .succeeded)
        XCTAssertEqual(report.steps.map(\.status), [.skipped, .succeeded])

        h = harness(shell: Self.failing([2]))
        (report, _) = try await run(playbook(steps: """
              - {step: 1, name: a, action: touch_file, parameters: {name: /tmp/x}}
              - {step: 2, name: b, action: plain, on_failure: abort}
              - {step: 3, name: c, action: plain}
            """, extra: rollback), h)
        XCTAssertEqual(steps(h), [1, 2])
        XCTAssertEqual(steps(h, .rollback), [], "abort rolls nothing back")
        XCTAssertEqual(report.outcome, .failed)
        XCTAssertEqual(report.steps.map(\.status), [.succeeded, .failed, .notRun])
    }

    func testRollbackUndoesStepsNewestFirstThenThePlaybooksRollbackSteps() async throws {
        let h = harness(shell: Self.failing([3]))
        let (report, records) = try await run(playbook(steps: """
              - {step: 1, name: a, action: touch_file, parameters: {name: /tmp/1}}
              - {step: 2, name: b, action: plain}
              - {step: 3, name: c, action: once, on_failure: rollback}
            """, extra: """
            rollback:
              available: true
              steps:
                - {step: 1, name: tidy, action: plain}
            """), h)
        let undo = h.shell.requests.filter { $0.purpose == .rollback }
        XCTAssertEqual(undo.map(\.stepNumber), [3, 1, 1], "step 3's rollback, then step 1's, then rollback step 1")
        XCTAssertEqual(undo.map(\.script), ["true", "rm -f \"${name}\"", "true"])
        XCTAssertEqual(undo[1].parameters["made"], "yes-1", "a rollback sees its step's outputs")
        XCTAssertEqual(report.outcome, .rolledBack)
        XCTAssertEqual(records.first { $0.event == .rollbackStarted }?.rollback?.map(\.kind), [.actionRollback, .actionRollback, .playbookStep])
    }

    func testAFailingRollbackIsReportedWithTheOriginalFailure() async throws {
        let h = harness(shell: { request in
            request.purpose == .step && request.stepNumber == 2 || request.purpose == .rollback
                ? ExecutionResult(succeeded: false, exitStatus: 1, summary: "exit 1")
                : ExecutionResult(succeeded: true, exitStatus: 0, summary: "exit 0")
        })
        let (report, _) = try await run(playbook(steps: """
              - {step: 1, name: a, action: once}
              - {step: 2, name: b, action: plain, on_failure: rollback}
            """, extra: "rollback: {available: true}\nescalation: {on_failure: true, notify: [oncall]}"), h)
        XCTAssertEqual(report.outcome, .rollbackFailed)
        let message = try XCTUnwrap(report.message)
        XCTAssertTrue(message.contains("step 2 (b) failed: exit 1"), message)
        XCTAssertTrue(message.contains("rollback failed"), message)
        XCTAssertEqual(report.rollback.map(\.succeeded), [false])
        let event = try XCTUnwrap(h.bus.requests.first)
        XCTAssertEqual(event.topic, "dev.medic.run.escalated")
        XCTAssertEqual(event.parameters["outcome"], "rollback_failed")
        XCTAssertEqual(event.parameters["notify"], "oncall")
    }

    func testUnavailableRollbackIsNotAttemptedAndTheRunSaysSo() async throws {
        let h = harness(shell: Self.failing([2]))
        let (report, _) = try await run(playbook(steps: """
              - {step: 1, name: a, action: touch_file, parameters: {name: /tmp/1}}
              - {step: 2, name: b, action: plain, on_failure: rollback}
            """, extra: "rollback: {available: false, reason: cleanup cannot be undone}"), h)
        XCTAssertEqual(steps(h, .rollback), [])
        XCTAssertEqual(report.outcome, .failed)
        XCTAssertTrue(report.message?.contains("no rollback attempted") == true && report.message?.contains("cleanup cannot be undone") == true,
                      report.message ?? "")
    }

    func testVerificationSuccessFailureAndUncertainty() async throws {
        let verification = """
            verification:
              check: queue_depth < 10
              wait_time: 2m
            rollback: {available: true}
            """
        let steps = "  - {step: 1, name: a, action: touch_file, parameters: {name: /tmp/1}}"
        var h = harness(metrics: ["queue_depth": [.number(3)]])
        var (report, _) = try await run(playbook(steps: steps, extra: verification), h)
        XCTAssertEqual(report.outcome, .succeeded)
        XCTAssertEqual(h.clock.slept, [120], "the check waits wait_time")

        h = harness(metrics: ["queue_depth": [.number(50)]])
        (report, _) = try await run(playbook(steps: steps, extra: verification), h)
        XCTAssertEqual(report.verification.map(\.state), [.failed])
        XCTAssertEqual(self.steps(h, .rollback), [1], "FAILED rolls back")
        XCTAssertEqual(report.outcome, .rolledBack)

        h = harness(metrics: ["queue_depth": [.failure("scrape failed")]])
        (report, _) = try await run(playbook(steps: steps, extra: verification), h)
        XCTAssertEqual(report.verification.map(\.state), [.uncertain, .uncertain], "UNCERTAIN extends monitoring once")
        XCTAssertEqual(report.outcome, .escalated)
        XCTAssertEqual(h.bus.requests.map(\.purpose), [.escalation])
        XCTAssertEqual(self.steps(h, .rollback), [], "UNCERTAIN does not roll back")

        h = harness(metrics: ["queue_depth": [.failure("scrape failed"), .number(1)]])
        (report, _) = try await run(playbook(steps: steps, extra: verification), h)
        XCTAssertEqual(report.verification.map(\.state), [.uncertain, .success])
        XCTAssertEqual(report.outcome, .succeeded)
    }

    func testEachIntentIsOnDiskBeforeItsSideEffect() async throws {
        let store = try store()
        let dir = store.runsDirectory
        let seen = RecordingExecutor { request in
            // What the journal holds when the executor is asked: its last line must announce this step.
            let name = (try? FileManager.default.contentsOfDirectory(atPath: dir))?.first { $0.hasSuffix(".jsonl") } ?? ""
            let text = (try? String(contentsOfFile: dir + "/" + name, encoding: .utf8)) ?? ""
            let last = text.split(separator: "\n").last.map { (try? JournalCodec.decode($0)) ?? nil } ?? nil
            let announced = last?.event == .stepStarted && last?.step == request.stepNumber && last?.phase == request.purpose
            return ExecutionResult(succeeded: announced, summary: announced ? "announced" : "NOT announced")
        }
        let clock = ManualClock()
        let interpreter = Interpreter(executors: ExecutorSet(shell: seen, bus: seen, http: seen),
                                      verifier: Verifier(evaluator: ConditionEvaluator(metrics: MetricRegistry(sources: [])), clock: clock),
                                      clock: clock)
        let (catalog, playbook) = try catalog(playbook(steps: """
              - {step: 1, name: a, action: plain}
              - {step: 2, name: b, action: checked}
            """))
        let report = try await interpreter.start(try Planner(catalog: catalog).plan(playbook), in: store)
        XCTAssertEqual(report.outcome, .succeeded, report.steps.map(\.summary).joined(separator: "; "))
        XCTAssertEqual(seen.requests.count, 3)
    }

    func testJournalRoundTripsEveryShippedPlan() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let result = CatalogLoader().load(paths: CatalogLoader.libraryFolders.map { root.appendingPathComponent($0).path })
        XCTAssertGreaterThanOrEqual(result.catalog.playbooks.count, 20, "the shipped library loaded")
        // Every shipped playbook is planned and round-tripped: one that cannot be planned fails
        // the test rather than being skipped.
        var roundTripped = 0
        for playbook in result.catalog.playbooks {
            var given: [String: String] = [:]
            for spec in playbook.parameters where spec.required && spec.defaultValue == nil { given[spec.name] = spec.allowedValues?.first ?? "3" }
            let plan: Plan
            do { plan = try Planner(catalog: result.catalog).plan(playbook, given: given) } catch {
                XCTFail("\(playbook.id) could not be planned with \(given): \(error)")
                continue
            }
            roundTripped += 1
            var record = JournalRecord.runStarted(run: "r", plan: plan, mode: .manual, pid: 1, host: "h", seed: 1)
            record.result = ExecutionResult(succeeded: true, outputs: ["PATH": "x", "original_replicas": "3"], summary: "s")
            let line = String(decoding: try JournalCodec.encode(record), as: UTF8.self)
            XCTAssertFalse(line.contains("\n"), "one record, one line")
            XCTAssertEqual(try JournalCodec.decode(Substring(line)), record, playbook.id)
        }
        XCTAssertEqual(roundTripped, result.catalog.playbooks.count, "every shipped plan was round-tripped")
    }
}
