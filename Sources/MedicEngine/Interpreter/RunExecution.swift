import Foundation
import MedicModel

/// One run being carried out, as a whole: the gates' verdicts, the steps (or the rollout's
/// stages, `RolloutExecution.swift`), verification, rollback, escalation and the run's end, as
/// functions of `RunState`, so a fresh run and a resumed one take the same path. Its steps run
/// through a `StepRunner`; a rollout's targets each through a `TargetExecution`. Every side
/// effect is preceded by its intent record and followed by its outcome record.
struct RunExecution: Sendable {
    typealias Failure = StepRunner.Failure
    typealias ResumeAnswers = StepRunner.ResumeAnswers

    var runner: StepRunner
    /// Set when resuming, for the targets of a rollout that had a step in flight.
    var answers: ResumeAnswers?
    /// The run's targets' locks, given back as soon as its outcome is on record (`finish`): the
    /// knowledge base learning of it afterwards holds no target.
    var targetLease: TargetLease?

    init(interpreter: Interpreter, journal: any RunJournaling, records: [JournalRecord] = []) {
        runner = StepRunner(interpreter: interpreter, journal: journal, records: records)
    }

    var interpreter: Interpreter { runner.interpreter }
    var journal: any RunJournaling { runner.journal }
    // Read in place (`_read`): a plain getter would copy the whole state on every look.
    var state: RunState { _read { yield runner.state } }
    /// Every record of the run, as written (those read back from disk first, when resuming).
    var records: [JournalRecord] { _read { yield runner.records } }
    var plan: Plan { runner.plan }

    mutating func append(_ record: JournalRecord, durable: Bool? = nil) async throws { try await runner.append(record, durable: durable) }

    // MARK: - Phases

    /// Carries the run on from wherever its state is, to its `run_finished` record.
    mutating func proceed() async throws {
        if let rollout = plan.rollout { return try await proceedRollout(rollout) }
        if state.finished != nil { return }
        if let outcome = state.escalatedOutcome { return try await escalate(outcome, reason: state.escalationReason) }
        if let outcome = state.rollbackFinished { return try await afterRollback(outcome) }
        if state.rollbackItems != nil { return try await afterRollback(try await runner.rollBack()) }
        if state.verifications.isEmpty && !state.verificationStarted {
            for step in plan.steps where !state.settled.contains(step.number) {
                if let failure = try await runner.run(step) { return try await fail(failure) }
            }
        }
        try await verify()
    }

    // MARK: - Verification

    mutating func verify() async throws {
        guard let verification = plan.verification else { return try await finish(.succeeded, "every step succeeded") }
        while true {
            if let last = state.verifications.last, !state.verificationStarted {
                switch last.state {
                case .success: return try await finish(.succeeded, "verified: \(last.summary)")
                case .partialSuccess:
                    return try await escalate(.partiallySucceeded, reason: "verification PARTIAL_SUCCESS: \(last.summary); keep watching")
                case .failed:
                    return try await fail(Failure(reason: "verification FAILED: \(last.summary)", rollback: true))
                case .uncertain where state.verifications.count >= 2:
                    return try await escalate(.escalated, reason: "verification stayed UNCERTAIN after monitoring was extended once: \(last.summary)")
                case .uncertain: break
                }
            }
            try await append(.verificationStarted(message: state.verifications.isEmpty
                ? "checking \(verification.check.source)"
                : "UNCERTAIN; extending monitoring once: checking \(verification.check.source) again"))
            let report = await interpreter.verifier.verify(verification, parameters: runParameters())
            try await append(.verificationFinished(verification: report))
        }
    }

    /// The run's inputs and every output so far, for conditions (`${name}` in a check).
    func runParameters() -> [String: String] {
        var values = Dictionary(plan.parameters.map { ($0.name, $0.value) }, uniquingKeysWith: { _, b in b })
        values.merge(state.outputs) { _, output in output }
        return values
    }

    // MARK: - Failure, rollback, escalation

    mutating func fail(_ failure: Failure) async throws {
        if plan.rollout != nil { return try await abortRollout(failure.reason) }
        guard failure.rollback else { return try await failed(failure.reason + "; on_failure: abort, nothing rolled back") }
        guard plan.rollback.available else {
            let why = plan.rollback.reason.map { " (\($0))" } ?? ""
            return try await failed(failure.reason + "; no rollback attempted: the playbook's rollback is not available\(why)")
        }
        try await afterRollback(try await runner.startRollback(because: failure.reason))
    }

    mutating func afterRollback(_ outcome: RunOutcome) async throws {
        let reason = runner.afterRollbackReason(outcome)
        // An aborted rollout is always handed to people.
        if plan.escalation?.onFailure == true || outcome == .rollbackFailed || plan.rollout != nil {
            try await escalate(outcome, reason: reason)
        } else {
            try await finish(outcome, reason)
        }
    }

    mutating func failed(_ reason: String) async throws {
        if plan.escalation?.onFailure == true || plan.rollout != nil {
            try await escalate(.failed, reason: reason)
        } else {
            try await finish(.failed, reason)
        }
    }

    /// Hands the run to people: an `escalated` record, then a CloudEvent on the bus
    /// (`dev.medic.run.escalated`) naming who to notify, then the run's end.
    mutating func escalate(_ outcome: RunOutcome, reason: String) async throws {
        let escalation = plan.escalation
        if state.escalatedOutcome == nil {
            try await append(.escalated(outcome: outcome, notify: escalation?.notify ?? [], message: reason))
        }
        if !state.escalationPublished {
            try await runner.publish(.runEscalated(journal.runID, playbookID: plan.playbookID, outcome: outcome, reason: reason,
                                                   escalation: escalation))
        }
        try await finish(outcome, reason)
    }

    /// Journals the gate verdicts and, when they all pass, takes the target locks and carries the
    /// run out, holding the locks to its end. A refusal or deferral ends the run `refused`; when
    /// approval is all that is missing, the run is left `pending_approval`.
    mutating func admit(_ gateVerdicts: [GateVerdict], locks: (any TargetLocking)?, lockWait: Double, approvalTTL: Double) async throws {
        var verdicts = gateVerdicts
        if let locks, GatePipeline.blocking(verdicts) == nil {
            do {
                targetLease = try await locks.acquire(TargetLocks.names(for: plan), run: journal.runID, wait: lockWait, now: interpreter.clock.now)
            } catch let error as JournalError {
                verdicts.removeAll { $0.gate == .targetLock }
                verdicts.append(.refuse(.targetLock, error.description))
            }
        }
        // Verdicts that let the run go on need no fsync of their own: nothing happens before the
        // first step's intent (or the run's outcome), whose fsync makes them durable with it. A
        // power cut in between leaves the journal as it was before the gates were evaluated
        // (`run_started`, or after an approval `approval_given`), as a kill while waiting for the
        // target locks does. Verdicts that stop the run (or make it wait for approval) are made
        // durable at once, and so is what follows them.
        let blocking = GatePipeline.blocking(verdicts)
        try await append(.gatesEvaluated(gates: verdicts), durable: blocking != nil)
        if let blocking {
            if blocking.decision == .needsApproval {
                try await requestApproval(verdicts.filter { $0.decision == .needsApproval }, ttl: approvalTTL)
            } else {
                try await refuse(blocking)
            }
            return
        }
        try await proceed()
        targetLease?.release()
    }

    /// Leaves the run waiting for people: an `approval_requested` record saying what is needed and
    /// until when, and a CloudEvent `dev.medic.run.approval_requested` on the bus.
    mutating func requestApproval(_ verdicts: [GateVerdict], ttl: Double) async throws {
        let needs = verdicts.flatMap { $0.needs ?? [] }
        let until = JournalRecord.timestamp(interpreter.clock.now.addingTimeInterval(ttl))
        let reason = verdicts.map { "\($0.gate): \($0.reason)" }.joined(separator: "; ")
        try await append(.approvalRequested(needs: needs, until: until, message: reason))
        try await runner.publish(.approvalRequested(journal.runID, playbookID: plan.playbookID, needs: needs, until: until, reason: reason))
    }

    /// Ends a run a gate stopped, before its first step, and alerts operators: a CloudEvent
    /// `dev.medic.run.refused` on the bus names the gate and why (an open breaker, a pause ...).
    mutating func refuse(_ verdict: GateVerdict) async throws {
        var why = "\(verdict.gate): \(verdict.reason)"
        if let needs = verdict.needs { why += "; needs " + needs.joined(separator: ", ") }
        if let until = verdict.until { why += "; not before \(until)" }
        try await runner.publish(.runRefused(journal.runID, playbookID: plan.playbookID, verdict: verdict, reason: why))
        try await finish(.refused, "stopped by a safety gate before any step: " + why)
    }

    mutating func finish(_ outcome: RunOutcome, _ message: String) async throws {
        try await append(.runFinished(outcome: outcome, message: message))
        // The run is over and on disk: its targets are free for the next run at once.
        targetLease?.release()
        // Now the knowledge base learns of it (a rollout's run is one incident: never at a
        // target's end).
        if interpreter.recordsIncidents {
            let learned = await interpreter.learningStage(forJournal: journal.path).learn(FinishedRun(records: records, journal: journal.path))
            learned.warnings.forEach(interpreter.incidentRecordFailed)
        }
    }

    // MARK: - Resume

    /// Decides what to do with the step that was running when the process died.
    mutating func decide(_ flight: RunState.InFlight, yes: Bool,
                         confirm: (@Sendable (String) async -> Bool)?) async throws -> Interpreter.InFlightDecision {
        try await runner.decide(flight, yes: yes, confirm: confirm)
    }

    func describe(_ decision: Interpreter.InFlightDecision, _ flight: RunState.InFlight) -> String {
        runner.describe(decision, flight)
    }

    /// Applies the decision before the run goes on.
    mutating func settle(_ flight: RunState.InFlight, _ decision: Interpreter.InFlightDecision) async throws {
        switch decision {
        case .rerun, .verified: return  // rerun: the phase loop runs it; verified: its record settled it
        case .unknown: try await escalate(.escalated, reason: runner.unknownOutcomeReason(flight))
        }
    }
}
