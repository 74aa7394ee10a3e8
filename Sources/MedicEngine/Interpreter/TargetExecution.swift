import Foundation
import MedicModel

/// One target of a rollout: a small run of its own inside the run's journal (its records carry
/// its name), from `target_started` to `target_finished`, and, when the rollout aborts, its undo.
/// A target never escalates or ends the run: its outcome is its rollout's to judge.
struct TargetExecution: Sendable {
    typealias Failure = StepRunner.Failure

    var runner: StepRunner
    /// Set when resuming: how to answer for a step this target had in flight.
    var answers: StepRunner.ResumeAnswers?

    init(interpreter: Interpreter, journal: any RunJournaling, records: [JournalRecord], target: TargetSpec) {
        runner = StepRunner(interpreter: interpreter, journal: journal, records: records, target: target)
    }

    // Read in place (`_read`): a plain getter would copy the whole state on every look.
    var state: RunState { _read { yield runner.state } }
    /// The run's `run_started` and this target's records.
    var records: [JournalRecord] { _read { yield runner.records } }
    var plan: Plan { runner.plan }

    /// The target's steps, from wherever its records leave it, to its `target_finished`.
    mutating func runTarget(stage: Int) async throws {
        if !records.contains(where: { $0.event == .targetStarted }) {
            try await runner.append(.targetStarted(stage: stage))
        }
        try await settleInFlight()
        try await proceed()
    }

    private mutating func proceed() async throws {
        if state.targetOutcome != nil && state.rollbackItems == nil { return }
        if let outcome = state.rollbackFinished { return try await afterRollback(outcome) }
        if state.rollbackItems != nil { return try await afterRollback(try await runner.rollBack()) }
        for step in plan.steps where !state.settled.contains(step.number) {
            if let failure = try await runner.run(step) { return try await fail(failure) }
        }
        try await finish(.succeeded, "every step succeeded")
    }

    /// Undoes a target that succeeded: its steps' action rollbacks newest first, then the
    /// playbook's `rollback.steps`, with the target's own parameters and outputs.
    mutating func undoTarget(because reason: String) async throws {
        try await settleInFlight()
        if state.rollbackFinished != nil { return }
        if state.rollbackItems == nil {
            try await afterRollback(try await runner.startRollback(because: "rollout aborted: " + reason))
        } else {
            try await afterRollback(try await runner.rollBack())
        }
    }

    /// When resuming: decides about the step this target had in flight.
    private mutating func settleInFlight() async throws {
        guard let flight = state.inFlight else { return }
        let decision = try await runner.decide(flight, yes: answers?.yes ?? false, confirm: answers?.confirm)
        try await runner.append(.runResumed(pid: nil, step: flight.step, phase: flight.phase, message: runner.describe(decision, flight)))
        switch decision {
        case .rerun, .verified: return  // rerun: the step loop runs it; verified: its record settled it
        case .unknown: try await escalated(.escalated, reason: runner.unknownOutcomeReason(flight))
        }
    }

    private mutating func fail(_ failure: Failure) async throws {
        guard failure.rollback else { return try await finish(.failed, failure.reason + "; on_failure: abort, nothing rolled back") }
        guard plan.rollback.available else {
            let why = plan.rollback.reason.map { " (\($0))" } ?? ""
            return try await finish(.failed, failure.reason + "; no rollback attempted: the playbook's rollback is not available\(why)")
        }
        try await afterRollback(try await runner.startRollback(because: failure.reason))
    }

    private mutating func afterRollback(_ outcome: RunOutcome) async throws {
        // A succeeded target undone when its rollout aborted: it already has its outcome.
        if state.targetOutcome != nil { return }
        try await finish(outcome, runner.afterRollbackReason(outcome))
    }

    /// The target cannot go on (a step whose outcome is unknown): it ends escalated, or, when it
    /// was being undone, its undo ends failed; the rollout decides about the run.
    private mutating func escalated(_ outcome: RunOutcome, reason: String) async throws {
        if state.targetOutcome != nil {
            if state.rollbackItems != nil && state.rollbackFinished == nil {
                try await runner.append(.rollbackFinished(outcome: .rollbackFailed, message: reason))
            }
            return
        }
        try await finish(outcome, reason)
    }

    private mutating func finish(_ outcome: RunOutcome, _ message: String) async throws {
        try await runner.append(.targetFinished(outcome: outcome, message: message))
    }
}
