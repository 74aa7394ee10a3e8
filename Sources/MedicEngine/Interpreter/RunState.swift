import MedicModel

/// What a run has done so far, rebuilt from its journal. The interpreter keeps it up to date as
/// it appends records, and `medic resume` rebuilds it from disk: the two must agree, so every
/// decision the interpreter takes is a function of this state.
struct RunState: Sendable {
    /// A `step_started` with no `step_finished` after it: the process died while it ran.
    struct InFlight: Sendable, Equatable {
        var step: Int
        var phase: ExecutionPurpose
        var attempt: Int
        var idempotent: Bool
    }

    var runID = ""
    var plan: Plan?
    var seed: UInt64 = 0
    /// Values written to `$MEDIC_OUTPUT`, by name (a later step's value wins).
    var outputs: [String: String] = [:]
    /// Each step's own outputs, for its verification and rollback.
    var stepOutputs: [Int: [String: String]] = [:]
    /// Steps that need nothing more: succeeded, or failed and let go (`on_failure: continue`).
    var settled: Set<Int> = []
    /// Steps that ran at least once, in the order of their latest `step_finished` (rollback order).
    var ranOrder: [Int] = []
    /// The latest attempt started per step (phase `step`).
    var lastAttempt: [Int: Int] = [:]
    /// The attempt whose implementation succeeded, per step, while its action check is pending.
    var implementationSucceeded: [Int: Int] = [:]
    /// A failed attempt not yet followed by a retry or a decision.
    var failedAttempt: [Int: ExecutionResult] = [:]
    /// The attempt a `retry_scheduled` announced, per step.
    var scheduledAttempt: [Int: Int] = [:]
    var retriesUsed = 0
    var inFlight: InFlight?
    /// Resume is running the action's verification of the step in flight to learn its outcome.
    var checkingInFlight = false
    var verifications: [VerificationReport] = []
    var verificationStarted = false
    /// Set by `rollback_started`: what to undo, the failure that caused it.
    var rollbackItems: [RollbackItem]?
    var rollbackReason = ""
    var rollbackResults: [Int: Bool] = [:]
    var rollbackFinished: RunOutcome?
    /// Set by `escalated`: the outcome the run ends with, and the reason.
    var escalatedOutcome: RunOutcome?
    var escalationReason = ""
    /// The escalation event was handed to the bus (its `step_finished` is in the journal).
    var escalationPublished = false
    var finished: RunOutcome?

    // A rollout. The run as a whole (`scope` nil) follows the stages and each target's outcome;
    // one target's state (`scope` its name) follows that target's records as a run's.

    /// nil: the run as a whole, whose records have no `target`; a name: that target's records.
    let scope: String?
    /// Target scope: how the target ended (`target_finished`).
    var targetOutcome: RunOutcome?
    var baseline: [String: Double]?
    var stagesStarted: Set<Int> = []
    /// `stage_waiting`'s `until`, per stage.
    var stageWaitUntil: [Int: String] = [:]
    /// `stage_checked`'s `passed` and `message`, per stage.
    var stagesChecked: [Int: Bool] = [:]
    var stageCheckMessages: [Int: String] = [:]
    /// Each finished target's outcome.
    var targetOutcomes: [String: RunOutcome] = [:]
    /// Targets that started and have not finished.
    var targetsRunning: Set<String> = []
    /// Targets that succeeded, in the order they finished (undone newest first).
    var remediatedOrder: [String] = []
    /// Succeeded targets undone since: the outcome of their rollback.
    var undone: [String: RunOutcome] = [:]
    /// Set by `rollout_aborted`: why, and the targets to undo in order.
    var abortReason: String?
    var abortTargets: [String] = []

    init(replaying records: [JournalRecord], scope: String? = nil) {
        self.scope = scope
        for record in records { apply(record) }
    }

    mutating func apply(_ record: JournalRecord) {
        if let target = record.target, record.event != .runStarted {
            guard let scope else { return applyToRollout(record, target: target) }
            guard target == scope else { return }
        } else if scope != nil && record.event != .runStarted {
            return
        }
        switch record.event {
        case .runStarted:
            runID = record.run ?? runID
            plan = record.plan
            seed = record.seed ?? 0
        case .stepStarted:
            guard let step = record.step, let phase = record.phase else { return }
            if phase == .verification, let flight = inFlight, flight.phase == .step, flight.step == step,
               flight.attempt == (record.attempt ?? 1) {
                // Resume checking whether the step in flight had its effect: the step stays in
                // flight (its outcome unknown) until that check passes.
                checkingInFlight = true
                return
            }
            inFlight = InFlight(step: step, phase: phase, attempt: record.attempt ?? 1, idempotent: record.idempotent ?? true)
            if phase == .step {
                lastAttempt[step] = record.attempt ?? 1
                failedAttempt[step] = nil
            }
        case .stepFinished:
            if checkingInFlight && record.phase == .verification {
                checkingInFlight = false
                // A failed check leaves the step in flight: it says nothing about the attempt.
                guard record.result?.succeeded == true else { return }
            }
            inFlight = nil
            guard let step = record.step, let phase = record.phase, let result = record.result else { return }
            switch phase {
            case .step, .verification:
                for (name, value) in result.outputs {
                    outputs[name] = value
                    stepOutputs[step, default: [:]][name] = value
                }
                ranOrder.removeAll { $0 == step }
                ranOrder.append(step)
                if phase == .step, result.succeeded { implementationSucceeded[step] = record.attempt ?? 1 }
                if !result.succeeded {
                    failedAttempt[step] = result
                } else if phase == .verification || !(hasActionCheck(step)) {
                    settled.insert(step)
                    failedAttempt[step] = nil
                }
            case .rollback:
                if let item = record.item { rollbackResults[item] = result.succeeded }
            case .escalation:
                escalationPublished = true
            }
        case .retryScheduled:
            guard let step = record.step, let attempt = record.attempt else { return }
            scheduledAttempt[step] = attempt
            failedAttempt[step] = nil
            implementationSucceeded[step] = nil
            retriesUsed += 1
        case .stepSkipped:
            if let step = record.step {
                settled.insert(step)
                failedAttempt[step] = nil
            }
        case .verificationStarted:
            verificationStarted = true
        case .verificationFinished:
            verificationStarted = false
            if let report = record.verification { verifications.append(report) }
        case .rollbackStarted:
            rollbackItems = record.rollback ?? []
            rollbackReason = record.message ?? ""
            rollbackResults = [:]
        case .rollbackFinished:
            rollbackFinished = record.outcome
        case .escalated:
            escalatedOutcome = record.outcome ?? .escalated
            escalationReason = record.message ?? ""
        case .runFinished:
            finished = record.outcome
        case .targetFinished:
            targetOutcome = record.outcome
        case .baselineRecorded:
            baseline = record.baseline ?? [:]
        case .stageStarted:
            if let stage = record.stage { stagesStarted.insert(stage) }
        case .stageWaiting:
            if let stage = record.stage { stageWaitUntil[stage] = record.until }
        case .stageChecked:
            if let stage = record.stage {
                stagesChecked[stage] = record.passed ?? false
                stageCheckMessages[stage] = record.message ?? ""
            }
        case .rolloutAborted:
            abortReason = record.message ?? "aborted"
            abortTargets = record.targets ?? []
            rollbackReason = abortReason!
        case .runInterrupted, .runResumed, .gatesEvaluated, .approvalRequested, .approvalGiven, .approvalDenied, .targetStarted,
             .stepProcess, .orphansFound, .orphansEnded:
            break
        }
    }

    /// The run as a whole sees of a target's records only where the target stands.
    private mutating func applyToRollout(_ record: JournalRecord, target: String) {
        switch record.event {
        case .targetStarted:
            targetsRunning.insert(target)
        case .targetFinished:
            targetsRunning.remove(target)
            targetOutcomes[target] = record.outcome ?? .failed
            if record.outcome == .succeeded { remediatedOrder.append(target) }
        case .rollbackFinished where targetOutcomes[target] == .succeeded:
            undone[target] = record.outcome ?? .rollbackFailed
        default:
            break
        }
    }

    /// Whether the step's action has a verification script (the step is settled only after it passes).
    func hasActionCheck(_ number: Int) -> Bool {
        plan?.steps.first { $0.number == number }?.verificationScript != nil
    }
}
