import Foundation
import MedicEngine
import MedicEngineTestKit
import MedicKnowledge
import MedicLoader
import MedicModel
import XCTest

/// Every run that ends appends one incident record (reference §9.1) to
/// `<state dir>/knowledge/incident-history.jsonl`: real runs through the interpreter, with
/// recording executors, an in-memory metric source and a manual clock.
final class IncidentRecordingTests: XCTestCase {
    private let actions = """
        actions:
          touch_file:
            type: infrastructure
            risk_level: low
            parameters:
              name: required
            implementation: touch "${name}"
            rollback: rm -f "${name}"
          plain:
            type: infrastructure
            risk_level: low
            implementation: "true"
        """

    private func plan(steps: String, extra: String = "") throws -> Plan {
        let text = """
            playbook_id: test-001
            name: Test
            version: 1.2.0
            category: infrastructure
            severity: SEV3
            remediation_steps:
            \(steps)
            \(extra)
            metadata: {}
            """
        let result = CatalogLoader().load(documents: [("actions/a.yaml", Array(actions.utf8)), ("playbooks/p.yaml", Array(text.utf8))])
        XCTAssertFalse(result.hasErrors, DiagnosticRenderer.text(result.diagnostics))
        return try Planner(catalog: result.catalog).plan(try XCTUnwrap(result.catalog.playbooks.first))
    }

    private func store() throws -> RunStore {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("medic-incident-\(UUID().uuidString)")
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        return try RunStore(directory: dir.path)
    }

    private func interpreter(_ clock: ManualClock, failing: Set<Int> = [], queueDepth: Double = 3) -> Interpreter {
        let shell = RecordingExecutor { request in
            failing.contains(request.stepNumber) && request.purpose == .step
                ? ExecutionResult(succeeded: false, exitStatus: 3, seconds: 0.25, summary: "exit 3")
                : ExecutionResult(succeeded: true, exitStatus: 0, seconds: 0.5, summary: "exit 0")
        }
        let registry = MetricRegistry(sources: [(patterns: ["*"], source: InMemoryMetricSource(["queue_depth": [.number(queueDepth)]]))])
        return Interpreter(executors: ExecutorSet(shell: shell, bus: RecordingExecutor(), http: RecordingExecutor()),
                           verifier: Verifier(evaluator: ConditionEvaluator(metrics: registry), clock: clock), clock: clock)
    }

    private func incidents(_ store: RunStore) throws -> [IncidentRecord] {
        let knowledge = try KnowledgeBase(directory: store.directory + "/knowledge", create: false)
        let (records, problems) = try knowledge.read(IncidentRecord.self, from: .incidentHistory)
        XCTAssertEqual(problems, [])
        return records
    }

    private let verified = """
        verification:
          check: queue_depth < 10
          wait_time: 2m
        rollback: {available: true}
        """

    func testASucceededManualRunAppendsOneRecordWithItsFields() async throws {
        let clock = ManualClock()
        let store = try store()
        let report = try await interpreter(clock).start(
            try plan(steps: "  - {step: 1, name: make, action: touch_file, parameters: {name: /tmp/x}}", extra: verified), in: store)
        XCTAssertEqual(report.outcome, .succeeded)
        let records = try incidents(store)
        XCTAssertEqual(records.count, 1)
        let r = try XCTUnwrap(records.first)
        XCTAssertEqual(r.v, 1)
        XCTAssertEqual(r.runID, report.runID)
        XCTAssertEqual(r.mode, .manual)
        XCTAssertEqual(r.runOutcome, .succeeded)
        XCTAssertEqual(r.detection.method, .manual)
        XCTAssertNil(r.detection.timeToDetect)
        XCTAssertEqual(r.detection.initialSeverity, "SEV3")
        XCTAssertEqual(r.remediation.playbookID, "test-001")
        XCTAssertEqual(r.remediation.playbookVersion, "1.2.0")
        // The only time that passes is verification's wait_time: 2m.
        XCTAssertEqual(r.remediation.executionTime, 120)
        XCTAssertEqual(r.remediation.outcome, .success)
        XCTAssertEqual(r.remediation.stepsExecuted, [.init(step: 1, name: "make", succeeded: true, attempts: 1, duration: 0.5)])
        XCTAssertEqual(r.classification.category, "infrastructure", "the playbook's category")
        XCTAssertEqual(r.resolution.resolutionMethod, .autoRemediation)
        XCTAssertEqual(r.resolution.timeToResolution, 120, "from the run's start (a manual run's detection) to its end")
        XCTAssertTrue(r.resolution.verificationPassed)
        XCTAssertFalse(r.metadata.escalated)
        // The record in the file spells the §9.1 keys in snake_case.
        let text = try String(contentsOfFile: store.directory + "/knowledge/incident-history.jsonl", encoding: .utf8)
        for key in ["\"incident_id\"", "\"detection_time\"", "\"steps_executed\"",
                    "\"time_to_resolution\"", "\"verification_passed\"", "\"run_outcome\":\"succeeded\"", "\"v\":1"] {
            XCTAssertTrue(text.contains(key), key)
        }
    }

    func testAFailedStepThatIsRolledBackRecordsItsAttemptsAndRollback() async throws {
        let clock = ManualClock()
        let store = try store()
        let report = try await interpreter(clock, failing: [2]).start(try plan(steps: """
              - {step: 1, name: make, action: touch_file, parameters: {name: /tmp/x}}
              - {step: 2, name: poke, action: plain, on_failure: rollback, retry: {attempts: 2, backoff: linear, initial: 1s, max: 1s}}
            """, extra: "rollback: {available: true}"), in: store)
        XCTAssertEqual(report.outcome, .rolledBack)
        let r = try XCTUnwrap(try incidents(store).first)
        XCTAssertEqual(r.runOutcome, .rolledBack)
        XCTAssertEqual(r.remediation.outcome, .failed)
        XCTAssertEqual(r.remediation.stepsExecuted, [.init(step: 1, name: "make", succeeded: true, attempts: 1, duration: 0.5),
                                                     .init(step: 2, name: "poke", succeeded: false, attempts: 2, duration: 0.5)],
                       "step 2: two attempts of 0.25 s (the retry's wait is not the step's time)")
        XCTAssertEqual(r.resolution.resolutionMethod, .rollback)
        XCTAssertNil(r.resolution.timeToResolution, "not resolved by the run")
        XCTAssertFalse(r.resolution.verificationPassed)
    }

    func testAWatchedRunRecordsAnomalyDetectionAndTimeToDetect() async throws {
        let clock = ManualClock()
        let store = try store()
        let now = clock.now
        let detection = Detection(rule: "queue-growing", incidentKey: "queue-growing", series: "queue_depth", value: 50,
                                  severity: .sev2, firstSeen: now.addingTimeInterval(-90), firedAt: now.addingTimeInterval(-30),
                                  detectedAt: now)
        let report = try await interpreter(clock).start(
            try plan(steps: "  - {step: 1, name: make, action: touch_file, parameters: {name: /tmp/x}}", extra: verified),
            in: store, mode: .automated, detection: detection)
        XCTAssertEqual(report.outcome, .succeeded)
        let r = try XCTUnwrap(try incidents(store).first)
        XCTAssertEqual(r.mode, .automated)
        XCTAssertEqual(r.detection.method, .anomalyDetection)
        XCTAssertEqual(r.detection.rule, "queue-growing")
        XCTAssertEqual(r.detection.detectionTime, detection.firedAt)
        XCTAssertEqual(r.detection.initialSeverity, "SEV2")
        // fired_at - first_seen = (now - 30) - (now - 90) = 60 s.
        XCTAssertEqual(r.detection.timeToDetect, 60)
        // Resolution: run end (now + 120 s of verification) - fired_at (now - 30) = 150 s.
        XCTAssertEqual(r.resolution.timeToResolution, 150)
        // Impact: run end - first_seen = 120 + 90 = 210 s.
        XCTAssertEqual(r.impact.duration, 210)
    }

    func testARefusedRunIsRecordedToo() async throws {
        let clock = ManualClock()
        let store = try store()
        var refused = try plan(steps: "  - {step: 1, name: make, action: plain}")
        refused.gates = [.refuse(.killSwitch, "Medic is paused")]
        let report = try await interpreter(clock).start(refused, in: store)
        XCTAssertEqual(report.outcome, .refused)
        let r = try XCTUnwrap(try incidents(store).first)
        XCTAssertEqual(r.runOutcome, .refused)
        XCTAssertNil(r.remediation.outcome, "nothing was attempted")
        XCTAssertEqual(r.remediation.stepsExecuted, [])
        XCTAssertEqual(r.resolution.resolutionMethod, .manual)
    }

    func testADeniedRunIsRecordedWhenDeniedAndNotWhileItWaits() async throws {
        let clock = ManualClock()
        let store = try store()
        var waiting = try plan(steps: "  - {step: 1, name: make, action: plain}")
        waiting.gates = [GateVerdict(gate: .approval, decision: .needsApproval, reason: "needs a person", needs: ["approval"])]
        let interpreter = interpreter(clock)
        let pending = try await interpreter.start(waiting, in: store)
        XCTAssertNil(pending.outcome)
        XCTAssertFalse(FileManager.default.fileExists(atPath: store.directory + "/knowledge/incident-history.jsonl"),
                       "a run waiting for approval has not ended")
        _ = try await interpreter.deny(pending.runID, in: store, audit: FileAuditLog(stateDirectory: store.directory), by: "alice",
                                       reason: "not a real incident")
        let r = try XCTUnwrap(try incidents(store).first)
        XCTAssertEqual(try incidents(store).count, 1)
        XCTAssertEqual(r.runOutcome, .refused)
        XCTAssertTrue(r.metadata.approvalRequested)
        XCTAssertTrue(r.metadata.denied)
    }

    func testEachRunAppendsExactlyOneRecord() async throws {
        let clock = ManualClock()
        let store = try store()
        let plan = try plan(steps: "  - {step: 1, name: make, action: plain}")
        var ids: [String] = []
        for _ in 0..<3 { ids.append(try await interpreter(clock).start(plan, in: store).runID) }
        XCTAssertEqual(try incidents(store).map(\.runID), ids)
    }

    func testARecordThatCannotBeWrittenLeavesTheRunAsItWas() async throws {
        let clock = ManualClock()
        let store = try store()
        // A file where the knowledge base directory should be: the record cannot be written.
        XCTAssertTrue(FileManager.default.createFile(atPath: store.directory + "/knowledge", contents: Data()))
        let told = Told()
        var interpreter = interpreter(clock)
        interpreter.incidentRecordFailed = { told.add($0) }
        let report = try await interpreter.start(try plan(steps: "  - {step: 1, name: make, action: plain}"), in: store)
        XCTAssertEqual(report.outcome, .succeeded, "the run's outcome stands")
        let records = try await store.read(runID: report.runID).records
        XCTAssertEqual(records.last?.event, .runFinished)
        XCTAssertEqual(told.messages.count, 1)
        XCTAssertTrue(told.messages.first?.contains("was not written") ?? false, told.messages.first ?? "")
    }
}

private final class Told: @unchecked Sendable {
    private let lock = NSLock()
    private var list: [String] = []
    func add(_ message: String) { lock.withLock { list.append(message) } }
    var messages: [String] { lock.withLock { list } }
}
