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
    public var journal: String

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
}
