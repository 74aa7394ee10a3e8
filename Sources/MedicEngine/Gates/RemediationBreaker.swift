import Foundation

/// Where a playbook's remediation circuit breaker stands (§7.3).
public enum BreakerState: Sendable, Hashable {
    /// Runs go through.
    case closed
    /// Runs are refused until `until` (then half-open), or until `medic breaker reset`.
    case open(until: Date, reason: String)
    /// The cooldown is over: one trial run goes through; its outcome closes or re-opens the breaker.
    case halfOpen(reason: String)

    /// `closed`, `open`, `half_open`.
    public var name: String {
        switch self {
        case .closed: return "closed"
        case .open: return "open"
        case .halfOpen: return "half_open"
        }
    }
}

/// The remediation circuit breaker (§7.3): stops running a playbook that keeps failing, computed
/// from the playbook's runs in the state directory each time it is asked (no state of its own
/// but the manual resets in `<state>/breakers.json`).
///
/// The rule, exactly:
/// - A run **counts** when it is finished (`RunStore.list()`, status `finished`) and its outcome
///   is not `refused`. It is a **success** when its outcome is `succeeded`; any other outcome
///   (`failed`, `rolled_back`, `rollback_failed`, `partially_succeeded`, `escalated`) is a
///   **failure**. Running and interrupted runs do not count. Counted runs are taken oldest to
///   newest by `startedAt` (then run id); a run's time is when it finished (its last record).
/// - Runs that finished before the playbook's latest manual reset (`medic breaker reset`) do
///   not count at all.
/// - The counted runs are replayed in order through the breaker, starting closed, with a
///   **window** of the runs that matter:
///   - closed: the run joins the window; the breaker **opens** when, among the last
///     `windowSize` (10) runs of the window, the last `consecutiveLimit` (3) all failed, or at
///     least `minimumRuns` (4) runs are there and more than half of them failed. (With fewer
///     than 4 runs the rate says nothing: 2 failures of 3 do not open it; 3 of 3 do, as
///     consecutive failures.)
///   - open: the run is the trial run. A failure keeps it open (it joins the window and starts a
///     new cooldown); a success **closes** it and empties the window but for that success: the
///     history before it no longer counts.
/// - At the end of the replay: closed is closed. Open is **open** until `cooldown` (default 1 h)
///   after the latest counted failure finished, then **half-open**: the gate lets one trial run
///   through (while a run of the playbook started after the cooldown is still running, others
///   are refused).
public struct RemediationBreaker: Sendable {
    /// How many of the latest runs the failure rate looks at.
    public static let windowSize = 10
    /// The failure rate is judged only with at least this many runs in the window.
    public static let minimumRuns = 4
    /// This many failures in a row open the breaker.
    public static let consecutiveLimit = 3

    /// A manual reset, as stored in `breakers.json`.
    public struct Reset: Sendable, Hashable, Codable {
        public var by: String
        public var reason: String?
        public var at: String
    }

    /// A playbook's breaker with the numbers behind it.
    public struct Status: Sendable, Hashable {
        public var playbookID: String
        public var state: BreakerState
        /// Runs in the window (at most `windowSize`) and how many of them failed.
        public var windowRuns: Int
        public var windowFailures: Int
        /// Failures in a row at the end of the window.
        public var consecutiveFailures: Int
        public var lastReset: Reset?
    }

    public let stateDirectory: String
    public let cooldown: TimeInterval
    /// The runs it counts; nil: those of the state directory, listed afresh at each look.
    public let history: (any RunHistory)?
    /// Where a reset is recorded.
    let audit: any AuditLog
    var path: String { stateDirectory + "/breakers.json" }

    /// `history`: the runs to count (refreshed at each look); nil, the state directory's.
    /// `audit`: nil, the state directory's `audit.jsonl` (`FileAuditLog`).
    public init(stateDirectory: String, cooldown: TimeInterval = 3600, history: (any RunHistory)? = nil,
                audit: (any AuditLog)? = nil) {
        self.stateDirectory = stateDirectory
        self.cooldown = cooldown
        self.history = history
        self.audit = audit ?? FileAuditLog(stateDirectory: stateDirectory)
    }

    /// The manual resets in force, by playbook id. An unreadable file counts as none.
    public func resets() -> [String: Reset] {
        guard let data = FileManager.default.contents(atPath: path) else { return [:] }
        return (try? JSONDecoder().decode([String: Reset].self, from: data)) ?? [:]
    }

    /// Closes the playbook's breaker by hand: runs that finished before now no longer count.
    public func reset(_ playbookID: String, by: String, reason: String?, now: Date) async throws {
        var all = resets()
        let reset = Reset(by: by, reason: reason, at: JournalRecord.timestamp(now))
        all[playbookID] = reset
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        try StateFiles.writeAtomically(try encoder.encode(all), to: path)
        try await audit.record(["event": "breaker_reset", "playbook": playbookID, "by": by, "reason": reason ?? "", "at": reset.at])
    }

    public func state(of playbookID: String, now: Date) async -> BreakerState {
        await status(of: playbookID, now: now).state
    }

    /// Every playbook that has runs in the state directory, by id.
    public func all(now: Date) async -> [(playbookID: String, state: BreakerState)] {
        await statuses(now: now).map { ($0.playbookID, $0.state) }
    }

    /// `runs`: the state directory's runs when the caller has read them already.
    public func status(of playbookID: String, now: Date, runs known: [RunSummary]? = nil) async -> Status {
        let history: ListedRuns
        if let known { history = ListedRuns(known) } else { history = ListedRuns(await runs()) }
        return status(of: playbookID, now: now, history: history)
    }

    /// The playbook's breaker from `history` (refreshed by the caller). The replay of its
    /// finished runs is kept in `history.breakerReplays` and continued with the runs that
    /// finished since, as long as the runs it took stand, so a long history is replayed once.
    public func status(of playbookID: String, now: Date, history: any RunHistory) -> Status {
        status(of: playbookID, now: now, history: history, reset: resets()[playbookID])
    }

    /// With the playbook's manual reset in force as read by the caller (`OperatorFlags`).
    func status(of playbookID: String, now: Date, history: any RunHistory, reset: Reset?) -> Status {
        let resetAt = reset.flatMap { JournalRecord.date($0.at) }
        var replay = history.breakerReplays?.replay(playbookID) ?? BreakerReplay(resetAt: resetAt, generation: -1)
        var next = history.finishedRuns(of: playbookID, from: replay.taken)
        if replay.generation != next.generation || replay.resetAt != resetAt || replay.taken > next.count {
            replay = BreakerReplay(resetAt: resetAt, generation: next.generation)
            next = history.finishedRuns(of: playbookID, from: 0)
            replay.generation = next.generation
        }
        next.runs.forEach { replay.feed($0) }
        history.breakerReplays?.keep(replay, for: playbookID)
        let running = history.unfinishedRuns().filter { $0.summary.playbookID == playbookID && $0.summary.status == .running }
        return replay.status(playbookID, reset: reset, cooldown: cooldown, now: now, running: running)
    }

    /// `status(of:now:)` of every playbook that has runs, by id.
    public func statuses(now: Date) async -> [Status] {
        let runs = await runs()
        let resets = resets()
        return Dictionary(grouping: runs, by: \.playbookID).sorted { $0.key < $1.key }.map {
            Self.compute($0.key, runs: $0.value, reset: resets[$0.key], cooldown: cooldown, now: now)
        }
    }

    /// The runs of `history`, else of the state directory (none, and nothing created, when it
    /// has no runs directory).
    private func runs() async -> [RunSummary] {
        guard let history else { return RunStore.history(in: stateDirectory) }
        await history.refresh()
        return history.runs(startedSince: .distantPast).map(\.summary)
    }

    static func compute(_ playbookID: String, runs: [RunSummary], reset: Reset?, cooldown: TimeInterval, now: Date) -> Status {
        let history = ListedRuns(runs)
        var replay = BreakerReplay(resetAt: reset.flatMap { JournalRecord.date($0.at) }, generation: 0)
        history.finishedRuns(of: playbookID, from: 0).runs.forEach { replay.feed($0) }
        let running = history.unfinishedRuns().filter { $0.summary.playbookID == playbookID && $0.summary.status == .running }
        return replay.status(playbookID, reset: reset, cooldown: cooldown, now: now, running: running)
    }
}

/// The breaker gate (§7.3), after the severity policy: the remediation circuit breaker of the playbook (`RemediationBreaker`, default
/// cooldown 1 h). Open refuses, with the numbers and when it half-opens; half-open passes one
/// trial run; closed passes.
public struct BreakerGate: Gate {
    public let name = GateID.breaker
    public let cooldown: TimeInterval
    public init(cooldown: TimeInterval = 3600) { self.cooldown = cooldown }

    public func evaluate(_ context: GateContext) async -> GateVerdict {
        let playbook = context.plan.playbookID
        let history = context.runHistory
        let reset = await context.flags.breakerResets()[playbook]
        if let damaged = RunStore.damageRefusal(in: history.damagedRuns().map(\.summary), playbookID: playbook, gate: "circuit breaker") {
            return .refuse(name, damaged)
        }
        let status = RemediationBreaker(stateDirectory: context.stateDirectory, cooldown: cooldown)
            .status(of: playbook, now: context.now, history: history, reset: reset)
        switch status.state {
        case .closed:
            return .pass(name, "closed: \(status.windowFailures) of the last \(status.windowRuns) runs failed, \(status.consecutiveFailures) in a row")
        case .halfOpen(let reason):
            return .pass(name, "half-open: this run is the trial run; its success closes the breaker, its failure opens it again (\(reason))")
        case .open(let until, let reason):
            return .refuse(name, "the circuit breaker of \(playbook) is open: \(reason); it half-opens at "
                + "\(JournalRecord.timestamp(until)) (one trial run then goes through), or `medic breaker reset \(playbook) --by NAME` closes it")
        }
    }
}
