import Foundation
import MedicModel

/// A rollout: the plan's steps carried across its targets stage by stage (§7.3), each target a
/// small run of its own inside the run's journal (`TargetExecution`: its records carry its name), at most
/// `max_concurrency` targets at a time. Between stages: the wait, then `verify` and `abort_on`
/// (a `NAME_increase` compares with the baseline journaled before stage 1). A failed check or
/// more failed targets than `max_fail_percentage` allows aborts: no further target starts, those
/// running finish, the targets remediated so far are undone newest first, and the run is
/// escalated. After the last stage the playbook's verification runs once, for the whole run.
extension RunExecution {
    mutating func proceedRollout(_ rollout: PlannedRollout) async throws {
        if state.finished != nil { return }
        if let outcome = state.escalatedOutcome { return try await escalate(outcome, reason: state.escalationReason) }
        if let outcome = state.rollbackFinished { return try await afterRollback(outcome) }
        if state.abortReason != nil { return try await undoTargets(rollout) }
        if state.verifications.isEmpty && !state.verificationStarted {
            if state.baseline == nil { try await recordBaseline(rollout) }
            for stage in rollout.stages where state.stagesChecked[stage.number] != true {
                // A check that failed before the process died stands: it is not asked again.
                if state.stagesChecked[stage.number] == false {
                    return try await abortRollout("stage \(stage.number) check failed: " + (state.stageCheckMessages[stage.number] ?? ""))
                }
                if let reason = try await run(stage, of: rollout) { return try await abortRollout(reason) }
            }
        }
        try await verify()
    }

    // MARK: - Stages

    /// Runs a stage's targets, waits, checks. Returns why the rollout must abort, or nil.
    private mutating func run(_ stage: PlannedStage, of rollout: PlannedRollout) async throws -> String? {
        let n = stage.number
        if !state.stagesStarted.contains(n) {
            try await append(.stageStarted(stage: n, targets: stage.targets,
                                           message: "(\(stage.size)): \(stage.targets.count) target(s), at most \(rollout.maxConcurrency) at a time"))
        }
        // Targets that were running when a previous process died go first.
        let pending = stage.targets.filter { state.targetOutcomes[$0] == nil }
        let ordered = pending.filter { state.targetsRunning.contains($0) } + pending.filter { !state.targetsRunning.contains($0) }
        try await runTargets(ordered, stage: n, rollout: rollout) { $0.state.targetOutcome != nil } work: { try await $0.runTarget(stage: n) }
        if let reason = budgetExceeded(rollout) { return reason }

        if let wait = stage.wait, wait.seconds > 0 {
            let until: Date
            if let written = state.stageWaitUntil[n], let date = JournalRecord.date(written) {
                until = date
            } else {
                until = interpreter.clock.now.addingTimeInterval(wait.seconds)
                try await append(.stageWaiting(stage: n, until: JournalRecord.timestamp(until), delay: wait.seconds,
                                               message: "waiting \(wait) after stage \(n) before its checks"))
            }
            let left = until.timeIntervalSince(interpreter.clock.now)
            if left > 0 { try await interpreter.clock.sleep(seconds: left) }
        }
        return try await check(stage, of: rollout)
    }

    /// `verify` must hold and `abort_on` must not; a check that cannot be decided (a metric that
    /// cannot be read) stops the rollout too: nobody can tell that it is safe to go on.
    private mutating func check(_ stage: PlannedStage, of rollout: PlannedRollout) async throws -> String? {
        let evaluator = ConditionEvaluator(metrics: interpreter.verifier.evaluator.metrics.withIncreases(since: state.baseline ?? [:]))
        var verdicts: [String] = []
        var passed = true
        if let verify = stage.verify {
            switch await evaluator.evaluate(verify, parameters: runParameters()) {
            case .holds(let observed): verdicts.append("verify \(verify.source): holds (\(observed))")
            case .fails(let observed):
                passed = false
                verdicts.append("verify \(verify.source): does not hold (\(observed))")
            case .unknown(let reason):
                passed = false
                verdicts.append("verify \(verify.source): cannot be decided (\(reason))")
            }
        }
        if let abortOn = rollout.abortOn {
            switch await evaluator.evaluate(abortOn, parameters: runParameters()) {
            case .holds(let observed):
                passed = false
                verdicts.append("abort_on \(abortOn.source): holds (\(observed))")
            case .fails(let observed): verdicts.append("abort_on \(abortOn.source): does not hold (\(observed))")
            case .unknown(let reason):
                passed = false
                verdicts.append("abort_on \(abortOn.source): cannot be decided (\(reason))")
            }
        }
        let message = verdicts.isEmpty ? "no checks after this stage" : verdicts.joined(separator: "; ")
        try await append(.stageChecked(stage: stage.number, passed: passed, message: message))
        return passed ? nil : "stage \(stage.number) check failed: " + message
    }

    /// Why the failed targets stop the rollout, or nil while they are within the budget.
    private func budgetExceeded(_ rollout: PlannedRollout) -> String? {
        let failed = rollout.targets.filter { state.targetOutcomes[$0].map { $0 != .succeeded } ?? false }
        let budget = rollout.failureBudget(total: rollout.targets.count)
        guard failed.count > budget else { return nil }
        let names = failed.prefix(5).joined(separator: ", ") + (failed.count > 5 ? " and \(failed.count - 5) more" : "")
        return "\(failed.count) of \(rollout.targets.count) target(s) failed (\(names)); max_fail_percentage "
            + "\(Interval.trim(rollout.maxFailPercentage))% allows \(budget)"
    }

    /// Before stage 1: the value of each series a `NAME_increase` compares with.
    private mutating func recordBaseline(_ rollout: PlannedRollout) async throws {
        var values: [String: Double] = [:]
        var problems: [String] = []
        for selector in rollout.baselines {
            do {
                switch try await interpreter.verifier.evaluator.metrics.value(of: selector) {
                case .number(let value): values[selector.description] = value
                case .text(let text): problems.append("\(selector) is text (\"\(text)\"), not a number")
                }
            } catch {
                problems.append("\(error)")
            }
        }
        let message = rollout.baselines.isEmpty ? "no check compares with a baseline"
            : problems.isEmpty ? "before the rollout: " + values.keys.sorted().map { "\($0)=\(MetricValue.number(values[$0]!))" }.joined(separator: ", ")
            : "unreadable before the rollout (the checks that compare with it cannot be decided): " + problems.joined(separator: "; ")
        try await append(.baselineRecorded(baseline: values, message: message))
    }

    // MARK: - Targets

    /// Runs `work` for each named target, at most `maxConcurrency` at once, starting them in the
    /// given order; stops starting new ones once the failure budget is exceeded (those running
    /// finish). Every record a target writes joins the run's state as it comes back.
    private mutating func runTargets(_ names: [String], stage: Int?, rollout: PlannedRollout,
                                     isDone: @escaping @Sendable (TargetExecution) -> Bool,
                                     work: @escaping @Sendable (inout TargetExecution) async throws -> Void) async throws {
        guard !names.isEmpty else { return }
        let specs = Dictionary(plan.targets.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        var own: [String: [JournalRecord]] = [:]
        let wanted = Set(names)
        for record in records where record.target != nil && wanted.contains(record.target!) {
            own[record.target!, default: []].append(record)
        }
        let opening = records.first { $0.event == .runStarted }.map { [$0] } ?? []
        // The executions to run, in order; a worker takes the next as soon as it is free (no
        // round trip through this task), and none is taken once the failure budget is exceeded.
        var prepared: [TargetExecution] = []
        for name in names {
            guard let spec = specs[name] else { continue }
            var child = TargetExecution(interpreter: interpreter, journal: journal, records: opening + (own[name] ?? []), target: spec)
            child.answers = answers
            if !isDone(child) { prepared.append(child) }
        }
        let queue = TargetQueue(prepared, budget: stage == nil ? Int.max : rollout.failureBudget(total: plan.targets.count),
                                failed: state.targetOutcomes.values.filter { $0 != .succeeded }.count)
        try await withThrowingTaskGroup(of: [JournalRecord].self) { group in
            for _ in 0..<min(rollout.maxConcurrency, prepared.count) {
                group.addTask {
                    var written: [JournalRecord] = []
                    while var execution = queue.next() {
                        let known = execution.records.count
                        try await work(&execution)
                        let new = execution.records[known...]
                        queue.finished(failed: new.contains { $0.event == .targetFinished && $0.outcome != .succeeded })
                        written += new
                    }
                    return written
                }
            }
            for try await written in group {
                for record in written { runner.absorb(record) }
            }
        }
    }

    /// Abort: journals which target is where and what will be undone, then undoes it.
    mutating func abortRollout(_ reason: String) async throws {
        guard let rollout = plan.rollout else { return }
        if state.abortReason == nil {
            var states: [String: String] = [:]
            for name in rollout.targets {
                states[name] = state.targetOutcomes[name]?.rawValue ?? (state.targetsRunning.contains(name) ? "interrupted" : "not_started")
            }
            try await append(.rolloutAborted(message: reason, states: states,
                                             targets: plan.rollback.available ? state.remediatedOrder.reversed() : []))
        }
        try await undoTargets(rollout)
    }

    /// Undoes the remediated targets newest first (up to `max_concurrency` at once, started in
    /// that order), then ends the run escalated.
    private mutating func undoTargets(_ rollout: PlannedRollout) async throws {
        let reason = state.abortReason ?? "rollout aborted"
        guard plan.rollback.available else {
            let why = plan.rollback.reason.map { " (\($0))" } ?? ""
            return try await failed("rollout aborted: \(reason); no target undone: the playbook's rollback is not available\(why)")
        }
        let pending = state.abortTargets.filter { state.undone[$0] == nil }
        try await runTargets(pending, stage: nil, rollout: rollout) { $0.state.rollbackFinished != nil } work: {
            try await $0.undoTarget(because: reason)
        }
        let failedUndo = state.abortTargets.filter { state.undone[$0] != .rolledBack }
        let finished: JournalRecord
        if failedUndo.isEmpty {
            finished = .rollbackFinished(outcome: .rolledBack, message: state.abortTargets.isEmpty ? "no target was remediated: nothing to undo"
                : "undid \(state.abortTargets.count) target(s), newest first")
        } else {
            finished = .rollbackFinished(outcome: .rollbackFailed,
                                         message: "rollback failed on \(failedUndo.count) target(s): " + failedUndo.prefix(10).joined(separator: ", "))
        }
        try await append(finished)
        try await afterRollback(finished.outcome!)
    }
}

extension MetricRegistry {
    /// This registry, where `NAME_increase` (a name ending `_increase`) whose series has a value
    /// in `baseline` reads as the relative change of NAME since then, in percent (`(now - before)
    /// / |before| x 100`; from 0, any rise is +infinity and no change is 0). Other names read as before.
    func withIncreases(since baseline: [String: Double]) -> MetricRegistry {
        guard !baseline.isEmpty else { return self }
        return MetricRegistry(
            entries: [Entry(name: "rollout baseline", patterns: ["*" + RolloutPlanner.increaseSuffix],
                            source: IncreaseSource(registry: self, baseline: baseline))] + entries,
            host: host)
    }
}

/// Serves `NAME_increase` from NAME's current value and its baseline.
struct IncreaseSource: MetricSource {
    let registry: MetricRegistry
    let baseline: [String: Double]

    func value(of selector: MetricSelector) async throws -> MetricValue? {
        var base = selector
        base.name = String(selector.name.dropLast(RolloutPlanner.increaseSuffix.count))
        guard let before = baseline[base.description] else { return try await registry.value(of: selector) }
        guard case .number(let now) = try await registry.value(of: base) else {
            throw MetricError("\(base) is not a number, so \(selector.name) cannot be computed")
        }
        if before == 0 { return .number(now == 0 ? 0 : (now > 0 ? .infinity : -.infinity)) }
        return .number((now - before) / abs(before) * 100)
    }
}

/// The targets of a stage (or an undo) waiting for a worker, and the failures so far.
final class TargetQueue: @unchecked Sendable {
    private let lock = NSLock()
    private var pending: ArraySlice<TargetExecution>
    private let budget: Int
    private var failed: Int

    init(_ executions: [TargetExecution], budget: Int, failed: Int) {
        pending = executions[...]
        self.budget = budget
        self.failed = failed
    }

    /// The next target to work on; nil when none is left or the failures exceed the budget.
    func next() -> TargetExecution? {
        lock.withLock { failed > budget ? nil : pending.popFirst() }
    }

    func finished(failed targetFailed: Bool) {
        if targetFailed { lock.withLock { failed += 1 } }
    }
}
