import Foundation
import MedicEngine
import MedicModel
import XCTest

/// Outside the journal a record is built by its event's factory only: each one yields a record
/// of its event that carries exactly that event's fields and reads back from a journal as written.
final class JournalRecordFactoryTests: XCTestCase {
    private func scratch() throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("medic-records-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        return dir.path
    }

    /// A record of `event` built by its factory, and the fields (besides `seq`, `at`, `event`)
    /// it must carry. The switch has no default: an event without a factory does not compile.
    private func built(_ event: JournalRecord.Event, plan: Plan) -> (JournalRecord, Set<String>) {
        let process = StepProcess(pid: 4242, startTicks: 17, bootID: "boot", token: "run/3", command: "/bin/sh -c x")
        let result = ExecutionResult(succeeded: false, exitStatus: 3, stdout: "out", stderr: "err", summary: "exit 3")
        switch event {
        case .runStarted:
            let detection = Detection(rule: "disk", incidentKey: "disk", series: "disk_usage_percent", value: 97, severity: .sev2,
                                      firstSeen: Date(timeIntervalSince1970: 1_000), firedAt: Date(timeIntervalSince1970: 1_060),
                                      detectedAt: Date(timeIntervalSince1970: 1_061))
            return (.runStarted(run: "r1", plan: plan, mode: .automated, pid: 31, host: "vm", seed: UInt64.max,
                                message: "approved by alice", detection: detection, chaos: ChaosRun(experimentID: "exp-1")),
                    ["run", "plan", "mode", "pid", "host", "seed", "message", "detection", "chaos"])
        case .gatesEvaluated:
            return (.gatesEvaluated(gates: [GateVerdict(gate: .killSwitch, decision: .pass, reason: "not paused")]), ["gates"])
        case .stepStarted:
            return (.stepStarted(step: 2, phase: .rollback, attempt: 3, item: 0, idempotent: false),
                    ["step", "phase", "attempt", "item", "idempotent"])
        case .stepFinished:
            return (.stepFinished(step: 2, phase: .step, attempt: 1, item: 1, result: result), ["step", "phase", "attempt", "item", "result"])
        case .stepProcess:
            var intent = JournalRecord.stepStarted(step: 4, phase: .verification, attempt: 2, item: 5, idempotent: true)
            intent.target = "web-1"
            return (.stepProcess(of: intent, processes: [process]), ["step", "phase", "attempt", "item", "target", "processes"])
        case .orphansFound:
            return (.orphansFound(processes: [process], until: "2026-11-23T10:15:00.000Z", message: "waiting"),
                    ["processes", "until", "message"])
        case .orphansEnded:
            return (.orphansEnded(message: "ended by themselves"), ["message"])
        case .retryScheduled:
            return (.retryScheduled(step: 1, attempt: 2, delay: 2.5, message: "attempt 1 of 3 failed"), ["step", "attempt", "delay", "message"])
        case .stepSkipped:
            return (.stepSkipped(step: 1, message: "on_failure: continue"), ["step", "message"])
        case .verificationStarted:
            return (.verificationStarted(message: "checking x > 1"), ["message"])
        case .verificationFinished:
            return (.verificationFinished(verification: VerificationReport(state: .success, checks: [], summary: "ok")), ["verification"])
        case .rollbackStarted:
            return (.rollbackStarted(rollback: [RollbackItem(kind: .actionRollback, step: 1, name: "undo")], message: "step 2 failed"),
                    ["rollback", "message"])
        case .rollbackFinished:
            return (.rollbackFinished(outcome: .rolledBack, message: "undid 1 item(s)"), ["outcome", "message"])
        case .escalated:
            return (.escalated(outcome: .escalated, notify: ["oncall"], message: "uncertain"), ["outcome", "notify", "message"])
        case .runInterrupted:
            return (.runInterrupted(pid: 77, message: "gone"), ["pid", "message"])
        case .runResumed:
            return (.runResumed(pid: 78, step: 2, phase: .step, message: "rerun"), ["pid", "step", "phase", "message"])
        case .approvalRequested:
            return (.approvalRequested(needs: ["approval"], until: "2026-11-23T11:15:00.000Z", message: "approval: high risk"),
                    ["needs", "until", "message"])
        case .approvalGiven:
            return (.approvalGiven(by: "alice", role: "dba", message: "checked"), ["by", "role", "message"])
        case .approvalDenied:
            return (.approvalDenied(by: "bob", message: "not now"), ["by", "message"])
        case .runFinished:
            return (.runFinished(outcome: .succeeded, message: "done"), ["outcome", "message"])
        case .baselineRecorded:
            return (.baselineRecorded(baseline: [#"error_rate{service="web"}"#: 0.5], message: "before the rollout"), ["baseline", "message"])
        case .stageStarted:
            return (.stageStarted(stage: 1, targets: ["a", "b"], message: "(50%)"), ["stage", "targets", "message"])
        case .targetStarted:
            return (.targetStarted(stage: 2), ["stage"])
        case .targetFinished:
            return (.targetFinished(outcome: .failed, message: "step 1 failed"), ["outcome", "message"])
        case .stageWaiting:
            return (.stageWaiting(stage: 1, until: "2026-11-23T10:20:00.000Z", delay: 300, message: "waiting 5m"),
                    ["stage", "until", "delay", "message"])
        case .stageChecked:
            return (.stageChecked(stage: 1, passed: false, message: "verify failed"), ["stage", "passed", "message"])
        case .rolloutAborted:
            return (.rolloutAborted(message: "budget exceeded", states: ["a": "failed", "b": "not_started"], targets: ["a"]),
                    ["message", "states", "targets"])
        }
    }

    func testEveryEventsFactoryBuildsAWholeRecordThatReadsBackFromAJournal() throws {
        let plan = try XCTUnwrap(try JournalCodec.decode(Substring(RecordedJournal.runStarted)).plan)
        let store = try RunStore(directory: try scratch())
        let (journal, lock) = try store.create(runID: "factories")
        var written: [JournalRecord] = []
        for event in JournalRecord.Event.allCases {
            let (record, fields) = built(event, plan: plan)
            XCTAssertEqual(record.event, event)
            let line = try JournalCodec.encode(record)
            let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(line)) as? [String: Any], "\(event)")
            XCTAssertEqual(Set(object.keys).subtracting(["seq", "at", "event"]), fields, "\(event)")
            XCTAssertEqual(object["event"] as? String, event.rawValue)
            XCTAssertEqual(try JournalCodec.decode(Substring(String(decoding: line, as: UTF8.self))), record, "\(event)")
            written.append(try journal.append(record))
        }
        withExtendedLifetime(lock) {}
        XCTAssertEqual(try store.read(runID: "factories").records, written)
        XCTAssertEqual(written.map(\.event), JournalRecord.Event.allCases)
    }
}
