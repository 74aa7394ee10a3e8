import Foundation
import MedicModel

/// One run being carried out: the phases (steps, verification, rollback, escalation) as
/// functions of `RunState`, so a fresh run and a resumed one take the same path. Every side
/// effect is preceded by its intent record and followed by its outcome record.
struct RunExecution: Sendable {
    /// What ends the steps phase early.
    struct Failure {
        var reason: String
        var rollback: Bool
    }

    /// How `medic resume` answers for a step that was in flight: `--yes`, or a question.
    struct ResumeAnswers: Sendable {
        var yes: Bool
        var confirm: (@Sendable (String) async -> Bool)?
    }

    let interpreter: Interpreter
    let journal: RunJournal
    /// In a rollout, the target this execution works on; nil for the run as a whole.
    let target: TargetSpec?
    /// Set when resuming, for the targets of a rollout that had a step in flight.
    var answers: ResumeAnswers?
    var state: RunState
    /// Every record of the run, as written (those read back from disk first, when resuming). A
    /// target's execution holds the run's `run_started` and that target's records.
    var records: [JournalRecord]

    init(interpreter: Interpreter, journal: RunJournal, records: [JournalRecord] = [], target: TargetSpec? = nil) {
        self.interpreter = interpreter
        self.journal = journal
        self.records = records
        self.target = target
        state = RunState(replaying: records, scope: target?.name)
    }

    var plan: Plan { state.plan! }

    /// Appends a record. Every record is durable (fsync'ed) before the next side effect: intents
    /// and the run's end at once, a step's outcome with the intent that follows it. A target's
    /// records carry its name; their syncs are shared with the other targets running at the same
    /// time (group commit), and `target_started` / `target_finished` ride on the next sync, as a
    /// step's outcome does.
    mutating func append(_ record: JournalRecord) async throws {
        var record = record
        let written: JournalRecord
        if let target {
            record.target = target.name
            if [.stepFinished, .targetStarted, .targetFinished].contains(record.event) {
                written = try journal.append(record, now: interpreter.clock.now, durable: false)
            } else {
                written = try await journal.appendDurably([record], now: interpreter.clock.now)[0]
            }
        } else {
            written = try journal.append(record, now: interpreter.clock.now, durable: record.event != .stepFinished)
        }
        state.apply(written)
        records.append(written)
    }

    // MARK: - Phases

    /// Carries the run on from wherever its state is, to its `run_finished` record.
    mutating func proceed() async throws {
        if target != nil { return try await proceedTarget() }
        if let rollout = plan.rollout { return try await proceedRollout(rollout) }
        if state.finished != nil { return }
        if let outcome = state.escalatedOutcome { return try await escalate(outcome, reason: state.escalationReason) }
        if let outcome = state.rollbackFinished { return try await afterRollback(outcome) }
        if state.rollbackItems != nil { return try await rollBack() }
        if state.verifications.isEmpty && !state.verificationStarted {
            for step in plan.steps where !state.settled.contains(step.number) {
                if let failure = try await run(step) { return try await fail(failure) }
            }
        }
        try await verify()
    }

    /// Runs one step to its end: success, or failure after its retries.
    mutating func run(_ step: PlannedStep) async throws -> Failure? {
        let n = step.number
        var attempt = 1
        var pending: ExecutionResult?
        if let last = state.lastAttempt[n] {
            if let scheduled = state.scheduledAttempt[n], scheduled > last {
                attempt = scheduled
            } else {
                attempt = last
                pending = state.failedAttempt[n]
            }
        }
        while true {
            if let failed = pending {
                let maxAttempts = step.retry?.attempts ?? 1
                let budget = plan.safety.maxRetries.map { $0 - state.retriesUsed } ?? Int.max
                if let policy = step.retry, attempt < maxAttempts && budget > 0 {
                    let delay = RetrySchedule(policy: policy, seed: state.seed).delay(afterAttempt: attempt, step: n)
                    var retry = JournalRecord(event: .retryScheduled)
                    retry.step = n
                    retry.attempt = attempt + 1
                    retry.delay = delay
                    retry.message = "attempt \(attempt) of \(maxAttempts) failed (\(failed.summary)); next in \(Interval.trim(delay))s"
                    try await append(retry)
                    try await interpreter.clock.sleep(seconds: delay)
                    attempt += 1
                } else {
                    var why = "step \(n) (\(step.name)) failed: \(failed.summary)"
                    if attempt < maxAttempts, let max = plan.safety.maxRetries {
                        why += " (no retry left: safety.max_retries is \(max) for the whole run)"
                    } else if maxAttempts > 1 {
                        why += " after \(attempt) attempts"
                    }
                    switch step.onFailure {
                    case .continue:
                        var skipped = JournalRecord(event: .stepSkipped)
                        skipped.step = n
                        skipped.message = why + "; on_failure: continue, so the run goes on"
                        try await append(skipped)
                        return nil
                    case .abort: return Failure(reason: why, rollback: false)
                    case .rollback: return Failure(reason: why, rollback: true)
                    }
                }
            }
            pending = try await attemptOnce(step, attempt: attempt)
            if pending == nil { return nil }
        }
    }

    /// One attempt: the implementation, then the action's verification script if it has one.
    /// Returns the failure, or nil when the step is settled.
    private mutating func attemptOnce(_ step: PlannedStep, attempt: Int) async throws -> ExecutionResult? {
        if state.implementationSucceeded[step.number] != attempt {
            let result = try await execute(step, purpose: .step, attempt: attempt, idempotent: step.idempotent)
            guard result.succeeded else { return result }
            if step.verificationScript == nil { return nil }
        }
        let check = try await execute(step, purpose: .verification, attempt: attempt, idempotent: true)
        if check.succeeded { return nil }
        var failed = check
        failed.summary = "the action's verification failed (\(check.summary))"
        return failed
    }

    /// Journals the intent, runs the request, journals the outcome.
    private mutating func execute(_ step: PlannedStep, purpose: ExecutionPurpose, attempt: Int, idempotent: Bool,
                                  item: Int? = nil, executor: ExecutorKind? = nil, script: String? = nil) async throws -> ExecutionResult {
        var parameters: [String: String] = [:]
        for p in step.environment {
            switch p.source {
            case .outputOfStep: if let value = state.outputs[p.name] { parameters[p.name] = value }
            case .default, .given, .step: parameters[p.name] = p.value
            }
        }
        if purpose != .step {
            // A step's verification and rollback see what the step itself wrote (`original_replicas`).
            parameters.merge(state.stepOutputs[step.number] ?? [:]) { _, own in own }
        }
        if let target { parameters = Self.withTarget(target, parameters) }
        let kind = executor ?? (purpose == .step ? step.executor : .shell)
        let request = ExecutionRequest(
            runID: journal.runID, stepNumber: step.number, stepName: step.name, action: step.action, purpose: purpose,
            executor: kind, script: script ?? (purpose == .verification ? step.verificationScript : step.script),
            topic: step.topic, request: step.request, parameters: parameters, timeout: step.timeout.seconds, attempt: attempt)
        return try await perform(request, item: item, idempotent: idempotent)
    }

    private mutating func perform(_ request: ExecutionRequest, item: Int? = nil, idempotent: Bool) async throws -> ExecutionResult {
        var started = JournalRecord(event: .stepStarted)
        started.step = request.stepNumber
        started.phase = request.purpose
        started.attempt = request.attempt
        started.item = item
        started.idempotent = idempotent
        try await append(started)
        var request = request
        request.stepToken = "\(journal.runID)/\(records.last?.seq ?? 0)"
        let processes = ProcessRecords(journal: journal, intent: records.last!, clock: interpreter.clock)
        let result: ExecutionResult
        do {
            result = try await interpreter.executors.executor(for: request.executor).execute(request, started: processes.record)
        } catch let error as ExecutorError {
            result = ExecutionResult(succeeded: false, summary: "could not run: \(error.description)")
        }
        for record in processes.written {
            state.apply(record)
            records.append(record)
        }
        var finished = JournalRecord(event: .stepFinished)
        finished.step = request.stepNumber
        finished.phase = request.purpose
        finished.attempt = request.attempt
        finished.item = item
        finished.result = result
        try await append(finished)
        return result
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
            var started = JournalRecord(event: .verificationStarted)
            started.message = state.verifications.isEmpty
                ? "checking \(verification.check.source)"
                : "UNCERTAIN; extending monitoring once: checking \(verification.check.source) again"
            try await append(started)
            let report = await interpreter.verifier.verify(verification, parameters: runParameters())
            var finished = JournalRecord(event: .verificationFinished)
            finished.verification = report
            try await append(finished)
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
        if target == nil, plan.rollout != nil { return try await abortRollout(failure.reason) }
        guard failure.rollback else { return try await failed(failure.reason + "; on_failure: abort, nothing rolled back") }
        guard plan.rollback.available else {
            let why = plan.rollback.reason.map { " (\($0))" } ?? ""
            return try await failed(failure.reason + "; no rollback attempted: the playbook's rollback is not available\(why)")
        }
        try await startRollback(because: failure.reason)
    }

    /// Journals what a rollback will undo — the `rollback` scripts of the steps that ran, newest
    /// first, then the playbook's `rollback.steps` — and undoes it.
    mutating func startRollback(because reason: String) async throws {
        var items: [RollbackItem] = []
        for number in state.ranOrder.reversed() {
            if let step = plan.steps.first(where: { $0.number == number }), step.rollbackScript != nil {
                items.append(RollbackItem(kind: .actionRollback, step: number, name: step.name))
            }
        }
        items += plan.rollback.steps.map { RollbackItem(kind: .playbookStep, step: $0.number, name: $0.name) }
        var started = JournalRecord(event: .rollbackStarted)
        started.rollback = items
        started.message = reason
        try await append(started)
        try await rollBack()
    }

    mutating func rollBack() async throws {
        let items = state.rollbackItems ?? []
        for (index, item) in items.enumerated() where state.rollbackResults[index] == nil {
            switch item.kind {
            case .actionRollback:
                guard let step = plan.steps.first(where: { $0.number == item.step }) else { continue }
                _ = try await execute(step, purpose: .rollback, attempt: 1, idempotent: true, item: index, executor: .shell,
                                      script: step.rollbackScript)
            case .playbookStep:
                guard let step = plan.rollback.steps.first(where: { $0.number == item.step }) else { continue }
                _ = try await execute(step, purpose: .rollback, attempt: 1, idempotent: step.idempotent, item: index,
                                      executor: step.executor, script: step.script)
            }
        }
        let failedItems = items.indices.filter { state.rollbackResults[$0] != true }
        var finished = JournalRecord(event: .rollbackFinished)
        if failedItems.isEmpty {
            finished.outcome = .rolledBack
            finished.message = items.isEmpty ? "nothing to undo" : "undid \(items.count) item(s)"
        } else {
            finished.outcome = .rollbackFailed
            finished.message = "rollback failed: " + failedItems.map { "\(items[$0].kind == .actionRollback ? "undo of step" : "rollback step") \(items[$0].step) (\(items[$0].name))" }.joined(separator: ", ")
        }
        try await append(finished)
        try await afterRollback(finished.outcome!)
    }

    mutating func afterRollback(_ outcome: RunOutcome) async throws {
        // A succeeded target undone when its rollout aborted: it already has its outcome.
        if target != nil && state.targetOutcome != nil { return }
        let reason = outcome == .rolledBack
            ? "\(state.rollbackReason); rolled back"
            : "\(state.rollbackReason); AND the rollback failed: see the rollback records"
        // An aborted rollout is always handed to people; a target's own failure is not (its
        // rollout decides).
        if target == nil && (plan.escalation?.onFailure == true || outcome == .rollbackFailed || plan.rollout != nil) {
            try await escalate(outcome, reason: reason)
        } else {
            try await finish(outcome, reason)
        }
    }

    mutating func failed(_ reason: String) async throws {
        if target == nil && (plan.escalation?.onFailure == true || plan.rollout != nil) {
            try await escalate(.failed, reason: reason)
        } else {
            try await finish(.failed, reason)
        }
    }

    /// Hands the run to people: an `escalated` record, then a CloudEvent on the bus
    /// (`dev.medic.run.escalated`) naming who to notify, then the run's end.
    mutating func escalate(_ outcome: RunOutcome, reason: String) async throws {
        if target != nil { return try await targetEscalated(outcome, reason: reason) }
        let escalation = plan.escalation
        if state.escalatedOutcome == nil {
            var record = JournalRecord(event: .escalated)
            record.outcome = outcome
            record.notify = escalation?.notify ?? []
            record.message = reason
            try await append(record)
        }
        if !state.escalationPublished {
            var parameters = [
                "run_id": journal.runID, "playbook_id": plan.playbookID, "outcome": outcome.rawValue, "reason": reason,
                "notify": (escalation?.notify ?? []).joined(separator: ","),
                "create_incident": (escalation?.createIncident ?? false) ? "true" : "false",
            ]
            if let policy = escalation?.policy { parameters["policy"] = policy }
            let request = ExecutionRequest(
                runID: journal.runID, stepNumber: 0, stepName: "escalation", action: "escalate", purpose: .escalation,
                executor: .bus, topic: "dev.medic.run.escalated", parameters: parameters, timeout: 30)
            _ = try await perform(request, idempotent: true)
        }
        try await finish(outcome, reason)
    }

    /// Journals the gate verdicts and, when they all pass, takes the target locks and carries the
    /// run out, holding the locks to its end. A refusal or deferral ends the run `refused`; when
    /// approval is all that is missing, the run is left `pending_approval`.
    mutating func admit(_ gateVerdicts: [GateVerdict], locks: TargetLocks?, lockWait: Double, approvalTTL: Double) async throws {
        var verdicts = gateVerdicts
        var lease: TargetLease?
        if let locks, GatePipeline.blocking(verdicts) == nil {
            do {
                lease = try await locks.acquire(TargetLocks.names(for: plan), run: journal.runID, wait: lockWait, now: interpreter.clock.now)
            } catch let error as JournalError {
                verdicts.removeAll { $0.gate == .targetLock }
                verdicts.append(.refuse(.targetLock, error.description))
            }
        }
        var gates = JournalRecord(event: .gatesEvaluated)
        gates.gates = verdicts
        try await append(gates)
        if let blocking = GatePipeline.blocking(verdicts) {
            if blocking.decision == .needsApproval {
                try await requestApproval(verdicts.filter { $0.decision == .needsApproval }, ttl: approvalTTL)
            } else {
                try await refuse(blocking)
            }
            return
        }
        try await proceed()
        withExtendedLifetime(lease) {}
    }

    /// Leaves the run waiting for people: an `approval_requested` record saying what is needed and
    /// until when, and a CloudEvent `dev.medic.run.approval_requested` on the bus.
    mutating func requestApproval(_ verdicts: [GateVerdict], ttl: Double) async throws {
        var request = JournalRecord(event: .approvalRequested)
        request.needs = verdicts.flatMap { $0.needs ?? [] }
        request.until = JournalRecord.timestamp(interpreter.clock.now.addingTimeInterval(ttl))
        request.message = verdicts.map { "\($0.gate): \($0.reason)" }.joined(separator: "; ")
        try await append(request)
        let alert = ExecutionRequest(
            runID: journal.runID, stepNumber: 0, stepName: "approval", action: "alert", purpose: .escalation, executor: .bus,
            topic: "dev.medic.run.approval_requested",
            parameters: ["run_id": journal.runID, "playbook_id": plan.playbookID, "needs": (request.needs ?? []).joined(separator: "; "),
                         "until": request.until ?? "", "reason": request.message ?? ""],
            timeout: 30)
        _ = try await perform(alert, idempotent: true)
    }

    /// Ends a run a gate stopped, before its first step, and alerts operators: a CloudEvent
    /// `dev.medic.run.refused` on the bus names the gate and why (an open breaker, a pause ...).
    mutating func refuse(_ verdict: GateVerdict) async throws {
        var why = "\(verdict.gate): \(verdict.reason)"
        if let needs = verdict.needs { why += "; needs " + needs.joined(separator: ", ") }
        if let until = verdict.until { why += "; not before \(until)" }
        let alert = ExecutionRequest(
            runID: journal.runID, stepNumber: 0, stepName: "refusal", action: "alert", purpose: .escalation, executor: .bus,
            topic: "dev.medic.run.refused",
            parameters: ["run_id": journal.runID, "playbook_id": plan.playbookID, "gate": verdict.gate.rawValue,
                         "decision": verdict.decision.rawValue, "reason": why],
            timeout: 30)
        _ = try await perform(alert, idempotent: true)
        try await finish(.refused, "stopped by a safety gate before any step: " + why)
    }

    mutating func finish(_ outcome: RunOutcome, _ message: String) async throws {
        var record = JournalRecord(event: target == nil ? .runFinished : .targetFinished)
        record.outcome = outcome
        record.message = message
        try await append(record)
        // The run is over and on disk; now the knowledge base learns of it (issue 7). Never at a
        // target's end: a rollout's run is one incident.
        if target == nil && interpreter.recordsIncidents {
            IncidentRecording.append(records, journalPath: journal.path, failed: interpreter.incidentRecordFailed)
            await ImmuneLearning.learn(records, journalPath: journal.path, now: interpreter.clock.now,
                                       bus: interpreter.executors.bus, cache: interpreter.immuneMemoryCache,
                                       failed: interpreter.incidentRecordFailed)
        }
    }

    // MARK: - Resume

    /// Decides what to do with the step that was running when the process died; may run the
    /// action's verification script to find out (journaled like any other).
    mutating func decide(_ flight: RunState.InFlight, yes: Bool,
                         confirm: (@Sendable (String) async -> Bool)?) async throws -> Interpreter.InFlightDecision {
        guard flight.phase == .step || (flight.phase == .rollback && !flight.idempotent), !flight.idempotent else { return .rerun }
        let step = (flight.phase == .step ? plan.steps : plan.rollback.steps).first { $0.number == flight.step }
        if flight.phase == .step, let step, step.verificationScript != nil {
            let check = try await execute(step, purpose: .verification, attempt: flight.attempt, idempotent: true)
            if check.succeeded { return .verified }
        }
        if yes { return .rerun }
        let question = "Step \(flight.step) (\(step?.name ?? "?")) is not idempotent and had started when Medic stopped; "
            + "its outcome is unknown. Run it again?"
        if let confirm, await confirm(question) { return .rerun }
        return .unknown
    }

    func describe(_ decision: Interpreter.InFlightDecision, _ flight: RunState.InFlight) -> String {
        let what = "\(flight.phase == .step ? "step" : flight.phase.rawValue) \(flight.step) was running when the process died"
        switch decision {
        case .rerun: return flight.idempotent ? "\(what); it is idempotent, so it runs again" : "\(what); it runs again (confirmed)"
        case .verified: return "\(what); its action's verification passed, so it counts as done and is not run again"
        case .unknown: return "\(what); it is not idempotent and its outcome is unknown, so it is not run again"
        }
    }

    /// Applies the decision before the run goes on.
    mutating func settle(_ flight: RunState.InFlight, _ decision: Interpreter.InFlightDecision) async throws {
        switch decision {
        case .rerun, .verified: return  // rerun: the phase loop runs it; verified: its record settled it
        case .unknown:
            let rollback = flight.phase == .rollback
            let step = (rollback ? plan.rollback.steps : plan.steps).first { $0.number == flight.step }
            try await escalate(.escalated, reason: "outcome unknown: \(rollback ? "rollback step" : "step") \(flight.step) (\(step?.name ?? "?")) "
                + "is not idempotent, had started when Medic stopped, and has no verification that passed; it was not run again. "
                + "Check it by hand.")
        }
    }
}
