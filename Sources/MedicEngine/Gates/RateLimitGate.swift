import Foundation
import MedicModel

/// Gate: the policies' `rate_limits`. For each limit that applies to this run (its playbook id,
/// one of its steps' actions, or one of its targets matches the limit's `match`), the runs of
/// the state directory that started within the last `window` and were not refused are counted
/// for that playbook, action or target; at `max_runs` the run is deferred until the oldest of
/// them leaves the window. The counts come from the journals, so they hold across processes and
/// restarts.
public struct RateLimitGate: Gate {
    public let name = GateID.rateLimit
    public init() {}

    public func evaluate(_ context: GateContext) async -> GateVerdict {
        let limits = context.catalog.policies.rateLimits
        guard !limits.isEmpty else { return .pass(name, "no rate limits are defined") }
        let plan = context.plan
        let now = context.rateLimitClock?.now ?? context.now
        let history: any RunHistory = context.rateLimitClock?.runs ?? context.runHistory
        // A damaged run whose run_started is whole counts (its outcome is unknown); one whose
        // run_started is damaged cannot be counted against anything.
        if let damaged = RunStore.damageRefusal(in: history.damagedRuns().map(\.summary).filter { $0.playbookID == "?" },
                                                playbookID: nil, gate: "rate limits") {
            return .refuse(name, damaged)
        }
        var checked: [String] = []
        var windows: [Double: [IndexedRun]] = [:]
        for limit in limits {
            let keys: [String]
            switch limit.scope {
            case .playbook: keys = [plan.playbookID]
            case .action: keys = Array(Set(plan.steps.map(\.action))).sorted()
            case .target: keys = TargetLocks.names(for: plan)
            }
            let since = now.addingTimeInterval(-limit.window.seconds)
            // Runs that count against limits: started in the window, and not stopped by a gate.
            let runs = windows[limit.window.seconds] ?? history.runs(startedSince: since).filter { $0.summary.outcome != .refused }
            windows[limit.window.seconds] = runs
            for key in keys where limit.matches(key) {
                let recent = runs.filter { run in
                    switch limit.scope {
                    case .playbook: return run.summary.playbookID == key
                    case .action: return run.summary.actions.contains(key)
                    case .target: return run.summary.targets.contains(key)
                    }
                }
                checked.append("\(limit.name) \(key) \(recent.count)/\(limit.maxRuns) per \(limit.window)")
                guard recent.count >= limit.maxRuns, let oldest = recent.map(\.started).min() else { continue }
                let until = oldest.addingTimeInterval(limit.window.seconds)
                return GateVerdict(
                    gate: name, decision: .deferred,
                    reason: "rate limit '\(limit.name)': \(recent.count) run(s) of \(limit.scope.rawValue) \(key) in the last \(limit.window) "
                        + "(at most \(limit.maxRuns))",
                    until: JournalRecord.timestamp(until))
            }
        }
        return .pass(name, checked.isEmpty ? "no rate limit applies" : checked.joined(separator: ", "))
    }
}

/// The clock and the runs rate limits count in a replay of recorded samples (`medic watch
/// --input FILE`): `now` is the sample time of the firing, and `runs` are the runs the replay
/// itself started, each at the sample time of its own firing. So a replay meets the limits the
/// live watch met when those samples arrived, and two replays of one feed start the same runs,
/// whatever ran in the state directory meanwhile (which the replay's clock cannot place).
public struct RateLimitClock: Sendable {
    public var now: Date
    /// The replay's runs, as the history the limits count in.
    public var runs: ListedRuns

    public init(now: Date, runs: [RunSummary]) {
        self.now = now
        self.runs = ListedRuns(runs)
    }
}
