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

    init(replaying records: [JournalRecord]) {
        for record in records { apply(record) }
    }

    mutating func apply(_ record: JournalRecord) {
        switch record.event {
        case .runStarted:
            runID = record.run ?? runID
            plan = record.plan
            seed = record.seed ?? 0
        case .stepStarted:
            guard let step = record.step, let phase = record.phase else { return }
            inFlight = InFlight(step: step, phase: phase, attempt: record.attempt ?? 1, idempotent: record.idempotent ?? true)
            if phase == .step {
                lastAttempt[step] = record.attempt ?? 1
                failedAttempt[step] = nil
            }
        case .stepFinished:
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
        case .runInterrupted, .runResumed, .gatesEvaluated, .approvalRequested, .approvalGiven, .approvalDenied:
            break
        }
    }

    /// Whether the step's action has a verification script (the step is settled only after it passes).
    func hasActionCheck(_ number: Int) -> Bool {
        plan?.steps.first { $0.number == number }?.verificationScript != nil
    }
}
