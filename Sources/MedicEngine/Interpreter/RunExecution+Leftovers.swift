import Foundation
import MedicModel

extension RunExecution {
    /// Before a resumed run decides anything: finds the processes its earlier attempt left
    /// running (`LeftoverProcesses`), journals them (`orphans_found`), waits for them to end by
    /// their steps' timeouts, stopping those still running then, and journals how they ended
    /// (`orphans_ended`). Nothing is journaled when none is left.
    mutating func settleLeftovers() async throws {
        let journaled = records.filter { $0.event == .stepProcess }.flatMap { $0.processes ?? [] }
        let deadlines = StepDeadlines(records: records, plan: plan)
        let leftovers = LeftoverProcesses(runID: journal.runID, journaled: journaled, deadline: { deadlines.deadline(of: $0) },
                                          clock: interpreter.clock)
        let found = leftovers.find()
        guard !found.isEmpty else { return }
        let until = found.map { deadlines.deadline(of: $0.token) }.min() ?? interpreter.clock.now
        let untilText = JournalRecord.timestamp(until)
        try await append(.orphansFound(processes: found, until: untilText,
                                       message: "the earlier attempt left \(deadlines.describe(found)) running; waiting for "
            + (found.count == 1 ? "it" : "them") + " to end by the step's timeout (\(untilText)), then SIGTERM, "
            + "SIGKILL \(Interval.trim(leftovers.grace))s later"))
        let settlement = try await leftovers.settle(found)
        try await append(.orphansEnded(message: settlement.summary))
    }
}

/// When each journaled attempt of a run reaches its timeout: its `step_started` time plus the
/// timeout it ran with.
struct StepDeadlines: Sendable {
    /// `step_started` records by `seq`.
    let intents: [Int: JournalRecord]
    /// The items of each `rollback_started` by `seq`, to tell which script a rollback item ran.
    let rollbacks: [(seq: Int, target: String?, items: [RollbackItem])]
    let plan: Plan

    init(records: [JournalRecord], plan: Plan) {
        var intents: [Int: JournalRecord] = [:]
        var rollbacks: [(Int, String?, [RollbackItem])] = []
        for record in records {
            if record.event == .stepStarted { intents[record.seq] = record }
            if record.event == .rollbackStarted { rollbacks.append((record.seq, record.target, record.rollback ?? [])) }
        }
        self.intents = intents
        self.rollbacks = rollbacks
        self.plan = plan
    }

    private func intent(of token: String?) -> JournalRecord? {
        guard let token, let slash = token.lastIndex(of: "/"), let seq = Int(token[token.index(after: slash)...]) else { return nil }
        return intents[seq]
    }

    /// A token that names no journaled attempt is due now.
    func deadline(of token: String?) -> Date {
        guard let intent = intent(of: token), let start = JournalRecord.date(intent.at) else { return .distantPast }
        return start.addingTimeInterval(timeout(of: intent))
    }

    /// The timeout the attempt ran with, as `StepRunner.execute` gave it.
    func timeout(of intent: JournalRecord) -> Double {
        let number = intent.step ?? 0
        switch intent.phase {
        case .escalation?:
            return 30
        case .rollback?:
            let items = rollbacks.last { $0.seq < intent.seq && $0.target == intent.target }?.items ?? []
            if let index = intent.item, items.indices.contains(index), items[index].kind == .playbookStep {
                return plan.rollback.steps.first { $0.number == number }?.timeout.seconds ?? Self.fallback
            }
            return plan.steps.first { $0.number == number }?.timeout.seconds ?? Self.fallback
        default:
            return plan.steps.first { $0.number == number }?.timeout.seconds ?? Self.fallback
        }
    }

    /// The default step timeout (docs/format.md).
    static let fallback: Double = 300

    /// "3 processes of step 2 (attempt 1)", for people.
    func describe(_ processes: [StepProcess]) -> String {
        var steps: [String] = []
        for process in processes {
            let what: String
            if let intent = intent(of: process.token) {
                let phase = intent.phase.map { $0 == .step ? "" : " (\($0.rawValue))" } ?? ""
                let target = intent.target.map { " on \($0)" } ?? ""
                what = "step \(intent.step ?? 0)\(phase)\(target), attempt \(intent.attempt ?? 1)"
            } else {
                what = "an unknown step"
            }
            if !steps.contains(what) { steps.append(what) }
        }
        let pids = processes.prefix(8).map { "\($0.pid)" + ($0.command.map { " \($0.prefix(60))" } ?? "") }.joined(separator: ", ")
        let more = processes.count > 8 ? ", …" : ""
        return "\(processes.count) process\(processes.count == 1 ? "" : "es") of \(steps.joined(separator: "; ")) (pid \(pids)\(more))"
    }
}

/// What a killed Medic's steps left running, for `medic show` (read only: nothing is waited
/// for or stopped).
public struct LeftRunning: Sendable {
    public var processes: [StepProcess]
    /// "2 processes of step 2, attempt 1 (pid …); `medic resume` waits until … then stops them".
    public var summary: String

    /// Looks for an interrupted run's processes; nil when none is left (or the run has no plan).
    public static func find(runID: String, records: [JournalRecord], clock: any EngineClock = SystemClock()) -> LeftRunning? {
        guard let plan = records.first(where: { $0.event == .runStarted })?.plan else { return nil }
        let deadlines = StepDeadlines(records: records, plan: plan)
        let journaled = records.filter { $0.event == .stepProcess }.flatMap { $0.processes ?? [] }
        let found = LeftoverProcesses(runID: runID, journaled: journaled, deadline: { deadlines.deadline(of: $0) },
                                      clock: clock).find()
        guard !found.isEmpty else { return nil }
        let until = JournalRecord.timestamp(found.map { deadlines.deadline(of: $0.token) }.min() ?? clock.now)
        return LeftRunning(processes: found, summary: "still running from the killed Medic: \(deadlines.describe(found)); "
            + "`medic resume` waits for them until their step's timeout (\(until)), then stops them")
    }
}
