import Foundation
import MedicModel

/// One factory per event: the only way to build a record outside MedicEngine, so that a record
/// always carries the fields its event needs (required ones are not optional here). `seq` and
/// `at` are the journal's to set when it appends the record. A rollout target's records get their
/// `target` from the target's runner as they are appended (`step_process` copies its intent's).
extension JournalRecord {
    public static func runStarted(run: String, plan: Plan, mode: RunMode, pid: Int32, host: String, seed: UInt64,
                                  message: String? = nil, detection: Detection? = nil, chaos: ChaosRun? = nil) -> JournalRecord {
        var record = JournalRecord(event: .runStarted)
        record.run = run
        record.plan = plan
        record.mode = mode
        record.pid = pid
        record.host = host
        record.seed = seed
        record.message = message
        record.detection = detection
        record.chaos = chaos
        return record
    }

    public static func gatesEvaluated(gates: [GateVerdict]) -> JournalRecord {
        var record = JournalRecord(event: .gatesEvaluated)
        record.gates = gates
        return record
    }

    public static func stepStarted(step: Int, phase: ExecutionPurpose, attempt: Int, item: Int?, idempotent: Bool) -> JournalRecord {
        var record = JournalRecord(event: .stepStarted)
        record.step = step
        record.phase = phase
        record.attempt = attempt
        record.item = item
        record.idempotent = idempotent
        return record
    }

    public static func stepFinished(step: Int, phase: ExecutionPurpose, attempt: Int, item: Int?, result: ExecutionResult) -> JournalRecord {
        var record = JournalRecord(event: .stepFinished)
        record.step = step
        record.phase = phase
        record.attempt = attempt
        record.item = item
        record.result = result
        return record
    }

    /// The process of the attempt `intent` (its `step_started`, as written) started: the
    /// record names the same step, phase, attempt, item and target.
    public static func stepProcess(of intent: JournalRecord, processes: [StepProcess]) -> JournalRecord {
        var record = JournalRecord(event: .stepProcess)
        record.step = intent.step
        record.phase = intent.phase
        record.attempt = intent.attempt
        record.item = intent.item
        record.target = intent.target
        record.processes = processes
        return record
    }

    public static func orphansFound(processes: [StepProcess], until: String, message: String) -> JournalRecord {
        var record = JournalRecord(event: .orphansFound)
        record.processes = processes
        record.until = until
        record.message = message
        return record
    }

    public static func orphansEnded(message: String) -> JournalRecord {
        var record = JournalRecord(event: .orphansEnded)
        record.message = message
        return record
    }

    public static func retryScheduled(step: Int, attempt: Int, delay: Double, message: String) -> JournalRecord {
        var record = JournalRecord(event: .retryScheduled)
        record.step = step
        record.attempt = attempt
        record.delay = delay
        record.message = message
        return record
    }

    public static func stepSkipped(step: Int, message: String) -> JournalRecord {
        var record = JournalRecord(event: .stepSkipped)
        record.step = step
        record.message = message
        return record
    }

    public static func verificationStarted(message: String) -> JournalRecord {
        var record = JournalRecord(event: .verificationStarted)
        record.message = message
        return record
    }

    public static func verificationFinished(verification: VerificationReport) -> JournalRecord {
        var record = JournalRecord(event: .verificationFinished)
        record.verification = verification
        return record
    }

    public static func rollbackStarted(rollback: [RollbackItem], message: String) -> JournalRecord {
        var record = JournalRecord(event: .rollbackStarted)
        record.rollback = rollback
        record.message = message
        return record
    }

    public static func rollbackFinished(outcome: RunOutcome, message: String) -> JournalRecord {
        var record = JournalRecord(event: .rollbackFinished)
        record.outcome = outcome
        record.message = message
        return record
    }

    public static func escalated(outcome: RunOutcome, notify: [String], message: String) -> JournalRecord {
        var record = JournalRecord(event: .escalated)
        record.outcome = outcome
        record.notify = notify
        record.message = message
        return record
    }

    public static func runInterrupted(pid: Int32, message: String) -> JournalRecord {
        var record = JournalRecord(event: .runInterrupted)
        record.pid = pid
        record.message = message
        return record
    }

    /// `pid` is nil for a rollout target's own record; `step` and `phase` name the step that was
    /// in flight, if one was.
    public static func runResumed(pid: Int32?, step: Int?, phase: ExecutionPurpose?, message: String) -> JournalRecord {
        var record = JournalRecord(event: .runResumed)
        record.pid = pid
        record.step = step
        record.phase = phase
        record.message = message
        return record
    }

    public static func approvalRequested(needs: [String], until: String, message: String) -> JournalRecord {
        var record = JournalRecord(event: .approvalRequested)
        record.needs = needs
        record.until = until
        record.message = message
        return record
    }

    public static func approvalGiven(by: String, role: String?, message: String?) -> JournalRecord {
        var record = JournalRecord(event: .approvalGiven)
        record.by = by
        record.role = role
        record.message = message
        return record
    }

    public static func approvalDenied(by: String, message: String?) -> JournalRecord {
        var record = JournalRecord(event: .approvalDenied)
        record.by = by
        record.message = message
        return record
    }

    public static func runFinished(outcome: RunOutcome, message: String) -> JournalRecord {
        var record = JournalRecord(event: .runFinished)
        record.outcome = outcome
        record.message = message
        return record
    }

    public static func baselineRecorded(baseline: [String: Double], message: String) -> JournalRecord {
        var record = JournalRecord(event: .baselineRecorded)
        record.baseline = baseline
        record.message = message
        return record
    }

    public static func stageStarted(stage: Int, targets: [String], message: String) -> JournalRecord {
        var record = JournalRecord(event: .stageStarted)
        record.stage = stage
        record.targets = targets
        record.message = message
        return record
    }

    /// `target` is set by the target's runner as it appends the record.
    public static func targetStarted(stage: Int) -> JournalRecord {
        var record = JournalRecord(event: .targetStarted)
        record.stage = stage
        return record
    }

    public static func targetFinished(outcome: RunOutcome, message: String) -> JournalRecord {
        var record = JournalRecord(event: .targetFinished)
        record.outcome = outcome
        record.message = message
        return record
    }

    public static func stageWaiting(stage: Int, until: String, delay: Double, message: String) -> JournalRecord {
        var record = JournalRecord(event: .stageWaiting)
        record.stage = stage
        record.until = until
        record.delay = delay
        record.message = message
        return record
    }

    public static func stageChecked(stage: Int, passed: Bool, message: String) -> JournalRecord {
        var record = JournalRecord(event: .stageChecked)
        record.stage = stage
        record.passed = passed
        record.message = message
        return record
    }

    public static func rolloutAborted(message: String, states: [String: String], targets: [String]) -> JournalRecord {
        var record = JournalRecord(event: .rolloutAborted)
        record.message = message
        record.states = states
        record.targets = targets
        return record
    }
}
