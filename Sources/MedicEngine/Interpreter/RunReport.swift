import MedicModel

/// A run as people and scripts read it (`medic run --json`, `medic show`): built from the
/// journal alone, so it says the same thing during, after and long after the run.
public struct RunReport: Sendable, Hashable, Codable {
    public struct StepReport: Sendable, Hashable, Codable {
        public enum Status: String, Sendable, Hashable, Codable {
            case succeeded, failed, skipped
            /// Started and never finished (the process died).
            case interrupted
            case notRun = "not_run"
        }

        public var number: Int
        public var name: String
        public var action: String
        public var executor: ExecutorKind
        public var status: Status
        public var attempts: Int
        public var summary: String
        public var seconds: Double
        public var outputs: [String: String]
    }

    public struct RollbackReport: Sendable, Hashable, Codable {
        public var item: RollbackItem
        public var succeeded: Bool?
        public var summary: String
    }

    public var runID: String
    public var playbookID: String
    public var playbookVersion: String
    public var startedAt: String
    public var updatedAt: String
    public var status: RunStatus
    public var outcome: RunOutcome?
    /// The last word of the run: why it ended as it did.
    public var message: String?
    public var steps: [StepReport]
    public var verification: [VerificationReport]
    public var rollback: [RollbackReport]
    public var escalation: String?
    /// A run with targets: where each stage and target ended.
    public var rollout: RolloutReport?
    public var journal: String

    public struct RolloutReport: Sendable, Hashable, Codable {
        public struct Stage: Sendable, Hashable, Codable {
            public var number: Int
            public var size: String
            public var targets: Int
            public var succeeded: Int
            public var failed: Int
            /// Whether its checks passed; nil when they were not reached.
            public var checksPassed: Bool?
            public var checks: String?
        }

        public struct Target: Sendable, Hashable, Codable {
            public var name: String
            public var stage: Int
            /// `succeeded`, `failed`, `rolled_back`, `rollback_failed`, `escalated` (how its steps
            /// ended); `running`, `interrupted`, `not_started`; `undone` or `undo_failed` (it
            /// succeeded, then the aborted rollout undid it).
            public var status: String
            public var message: String
            public var seconds: Double
        }

        public var stages: [Stage]
        public var targets: [Target]
        /// Why the rollout aborted, when it did.
        public var aborted: String?
    }

    /// `status` defaults to what the records say (`running` when they have no end).
    public init(records: [JournalRecord], journal: String, status: RunStatus? = nil) {
        let state = RunState(replaying: records)
        let plan = state.plan
        runID = state.runID
        playbookID = plan?.playbookID ?? "?"
        playbookVersion = plan?.playbookVersion ?? "?"
        startedAt = records.first?.at ?? ""
        updatedAt = records.last?.at ?? ""
        self.status = status ?? RunStore.status(of: records)
        outcome = state.finished
        message = records.last { $0.event == .runFinished }?.message
        self.journal = journal
        verification = state.verifications
        escalation = state.escalatedOutcome == nil ? nil : state.escalationReason

        if let plan, let planned = plan.rollout {
            let report = Self.rolloutReport(planned, records: records, state: state, finished: state.finished != nil)
            rollout = report
            steps = Self.stepsAcrossTargets(plan, records: records, targets: report.targets.count)
            rollback = []
            return
        }
        var steps: [StepReport] = []
        for step in plan?.steps ?? [] {
            let mine = records.filter { $0.step == step.number && ($0.phase == .step || $0.phase == .verification) }
            let finishes = mine.filter { $0.event == .stepFinished }
            let last = finishes.last?.result
            var status: StepReport.Status
            if state.settled.contains(step.number) {
                status = records.contains { $0.event == .stepSkipped && $0.step == step.number } ? .skipped : .succeeded
            } else if state.inFlight?.step == step.number && state.inFlight?.phase != .rollback && state.finished == nil {
                status = .interrupted
            } else if last != nil {
                status = .failed
            } else if mine.contains(where: { $0.event == .stepStarted }) {
                status = .interrupted
            } else {
                status = .notRun
            }
            if status == .skipped { status = last?.succeeded == true ? .succeeded : .skipped }
            steps.append(StepReport(
                number: step.number, name: step.name, action: step.action, executor: step.executor, status: status,
                attempts: state.lastAttempt[step.number] ?? 0, summary: last?.summary ?? (status == .notRun ? "not run" : "no result"),
                seconds: finishes.compactMap(\.result?.seconds).reduce(0, +), outputs: state.stepOutputs[step.number] ?? [:]))
        }
        self.steps = steps

        rollback = (state.rollbackItems ?? []).enumerated().map { index, item in
            let result = records.last { $0.event == .stepFinished && $0.phase == .rollback && $0.item == index }?.result
            return RollbackReport(item: item, succeeded: result?.succeeded, summary: result?.summary ?? "not run")
        }
    }

    private static func rolloutReport(_ planned: PlannedRollout, records: [JournalRecord], state: RunState, finished: Bool) -> RolloutReport {
        var seconds: [String: Double] = [:]
        var messages: [String: String] = [:]
        for record in records where record.target != nil {
            if record.event == .stepFinished, record.phase != .rollback { seconds[record.target!, default: 0] += record.result?.seconds ?? 0 }
            if record.event == .targetFinished || (record.event == .rollbackFinished && state.targetOutcomes[record.target!] == .succeeded) {
                messages[record.target!] = record.message ?? ""
            }
        }
        var targets: [RolloutReport.Target] = []
        var stages: [RolloutReport.Stage] = []
        for stage in planned.stages {
            var succeeded = 0, failed = 0
            for name in stage.targets {
                let status: String
                if let undo = state.undone[name] {
                    status = undo == .rolledBack ? "undone" : "undo_failed"
                } else if let outcome = state.targetOutcomes[name] {
                    status = outcome.rawValue
                } else if state.targetsRunning.contains(name) {
                    status = finished ? "interrupted" : "running"
                } else {
                    status = "not_started"
                }
                if let outcome = state.targetOutcomes[name] { outcome == .succeeded ? (succeeded += 1) : (failed += 1) }
                targets.append(.init(name: name, stage: stage.number, status: status, message: messages[name] ?? "",
                                     seconds: seconds[name] ?? 0))
            }
            let checked = records.last { $0.event == .stageChecked && $0.stage == stage.number }
            stages.append(.init(number: stage.number, size: stage.size, targets: stage.targets.count, succeeded: succeeded,
                                failed: failed, checksPassed: checked?.passed, checks: checked?.message))
        }
        return RolloutReport(stages: stages, targets: targets, aborted: state.abortReason)
    }

    /// A rollout's steps: how each step did across the targets that ran it.
    private static func stepsAcrossTargets(_ plan: Plan, records: [JournalRecord], targets: Int) -> [StepReport] {
        var ok: [Int: Set<String>] = [:], bad: [Int: Set<String>] = [:], time: [Int: Double] = [:], attempts: [Int: Int] = [:]
        for record in records where record.target != nil && record.event == .stepFinished && record.phase == .step {
            guard let n = record.step, let result = record.result else { continue }
            time[n, default: 0] += result.seconds
            attempts[n, default: 0] += 1
            if result.succeeded {
                ok[n, default: []].insert(record.target!)
                bad[n]?.remove(record.target!)
            } else if !(ok[n]?.contains(record.target!) ?? false) {
                bad[n, default: []].insert(record.target!)
            }
        }
        return plan.steps.map { step in
            let good = ok[step.number]?.count ?? 0, failed = bad[step.number]?.count ?? 0
            let status: StepReport.Status = failed > 0 ? .failed : good > 0 ? .succeeded : .notRun
            return StepReport(number: step.number, name: step.name, action: step.action, executor: step.executor, status: status,
                              attempts: attempts[step.number] ?? 0,
                              summary: "\(good) of \(targets) target(s) ok" + (failed > 0 ? ", \(failed) failed" : ""),
                              seconds: time[step.number] ?? 0, outputs: [:])
        }
    }
}
