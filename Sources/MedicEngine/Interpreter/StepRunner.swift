import Foundation
import MedicModel

/// Runs steps for one scope of a run — the run itself, or one target of its rollout — and
/// journals them: each attempt's intent before it and its outcome after, retries with their
/// backoff, the step's timeout and outputs, the undoing of what ran (`rollBack`), and the
/// decision about a step that was in flight when a process died. It keeps the scope's records
/// and the state they replay to; what a scope does with a failure or an outcome is its own
/// (`RunExecution`, `TargetExecution`).
struct StepRunner: Sendable {
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
    let journal: any RunJournaling
    /// In a rollout, the target whose steps these are; nil for the run as a whole.
    let target: TargetSpec?
    var state: RunState
    /// Every record of the scope, as written (those read back from disk first, when resuming). A
    /// target's runner holds the run's `run_started` and that target's records.
    var records: [JournalRecord]

    init(interpreter: Interpreter, journal: any RunJournaling, records: [JournalRecord] = [], target: TargetSpec? = nil) {
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
    /// `durable`: whether this record needs its own `fsync` (nil: the rule above). A record may
    /// go without one only when the next record written is an intent, whose `fsync` makes it
    /// durable too before any side effect.
    mutating func append(_ record: JournalRecord, durable: Bool? = nil) async throws {
        var record = record
        let written: JournalRecord
        if let durable, target == nil {
            written = try await journal.append(record, now: interpreter.clock.now, durable: durable)
        } else if let target {
            record.target = target.name
            if [.stepFinished, .targetStarted, .targetFinished].contains(record.event) {
                written = try await journal.append(record, now: interpreter.clock.now, durable: false)
            } else {
                written = try await journal.appendDurably([record], now: interpreter.clock.now)[0]
            }
        } else {
            written = try await journal.append(record, now: interpreter.clock.now, durable: record.event != .stepFinished)
        }
        absorb(written)
    }

    /// Takes a record already on disk (one a target wrote, a step's process) into the state.
    mutating func absorb(_ record: JournalRecord) {
        state.apply(record)
        records.append(record)
    }

    // MARK: - One step

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
                    try await append(.retryScheduled(step: n, attempt: attempt + 1, delay: delay,
                                                     message: "attempt \(attempt) of \(maxAttempts) failed (\(failed.summary)); next in \(Interval.trim(delay))s"))
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
                        try await append(.stepSkipped(step: n, message: why + "; on_failure: continue, so the run goes on"))
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
    mutating func execute(_ step: PlannedStep, purpose: ExecutionPurpose, attempt: Int, idempotent: Bool,
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

    /// Journals the intent (`step_started`), runs the request (naming its processes in
    /// `step_process` records as they start), journals the outcome (`step_finished`).
    mutating func perform(_ request: ExecutionRequest, item: Int? = nil, idempotent: Bool) async throws -> ExecutionResult {
        try await append(.stepStarted(step: request.stepNumber, phase: request.purpose, attempt: request.attempt, item: item,
                                      idempotent: idempotent))
        var request = request
        request.stepToken = "\(journal.runID)/\(records.last?.seq ?? 0)"
        let processes = ProcessRecords(journal: journal, intent: records.last!, clock: interpreter.clock)
        let result: ExecutionResult
        do {
            result = try await interpreter.executors.executor(for: request.executor).execute(request, started: processes.record)
        } catch let error as ExecutorError {
            result = ExecutionResult(succeeded: false, summary: "could not run: \(error.description)")
        }
        for record in await processes.settle() { absorb(record) }
        try await append(.stepFinished(step: request.stepNumber, phase: request.purpose, attempt: request.attempt, item: item,
                                       result: result))
        return result
    }

    /// Publishes a notice for people on the bus, journaled as a step of the `escalation` phase.
    mutating func publish(_ notice: BusNotice) async throws {
        _ = try await perform(notice.request, idempotent: true)
    }

    /// The step environment of a target: `target` and `target_<label>` (a label's other
    /// characters become `_`), and `${target}` / `${target_<label>}` in a value replaced by them.
    static func withTarget(_ target: TargetSpec, _ parameters: [String: String]) -> [String: String] {
        var own = ["target": target.name]
        for (label, value) in target.labels {
            own["target_" + String(label.map { $0.isLetter || $0.isNumber || $0 == "_" ? $0 : "_" })] = value
        }
        var result = parameters
        for (name, value) in parameters where value.contains("${target") {
            var text = value
            for (key, replacement) in own.sorted(by: { $0.key.count > $1.key.count }) {
                text = text.replacingOccurrences(of: "${\(key)}", with: replacement)
            }
            result[name] = text
        }
        result.merge(own) { _, target in target }
        return result
    }
}
