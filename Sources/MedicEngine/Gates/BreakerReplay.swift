import Foundation

/// The replay of a playbook's runs through its breaker (the rule: `RemediationBreaker`), oldest
/// first. `feed` takes the next finished run, so a replay kept between looks is continued with
/// the runs that finished since instead of starting over.
public struct BreakerReplay: Sendable {
    struct Counted: Sendable {
        var id: String
        var failed: Bool
        var finished: Date
    }

    /// Runs that finished before the latest manual reset do not count.
    let resetAt: Date?
    /// The history's generation of the runs taken (`RunHistory.finishedRuns`).
    var generation: Int
    /// How many of the playbook's finished runs it has taken (counted or not).
    private(set) var taken = 0
    private var window: [Counted] = []
    private var tripped: String?
    private var failedTrials: [String] = []

    init(resetAt: Date?, generation: Int) {
        self.resetAt = resetAt
        self.generation = generation
    }

    mutating func feed(_ run: IndexedRun) {
        taken += 1
        guard run.summary.status == .finished, let outcome = run.summary.outcome, outcome != .refused else { return }
        if let resetAt, run.updated < resetAt { return }
        let counted = Counted(id: run.summary.id, failed: outcome != .succeeded, finished: run.updated)
        if tripped != nil {
            if counted.failed {
                window.append(counted)
                failedTrials.append(counted.id)
            } else {
                tripped = nil
                failedTrials = []
                window = [counted]
            }
        } else {
            window.append(counted)
            tripped = Self.tripReason(window.suffix(RemediationBreaker.windowSize))
        }
        // Only the last `windowSize` runs are ever looked at (and the last failure, which is
        // the last run while the breaker is open): the window keeps a few more, not all.
        if window.count > 4 * RemediationBreaker.windowSize { window.removeFirst(window.count - RemediationBreaker.windowSize) }
    }

    /// Where the breaker stands at `now`, given the playbook's runs still running (oldest first).
    func status(_ playbookID: String, reset: RemediationBreaker.Reset?, cooldown: TimeInterval, now: Date,
                running: [IndexedRun]) -> RemediationBreaker.Status {
        let openReason = (tripped ?? "") + (failedTrials.isEmpty ? "" : "; then the trial run"
            + (failedTrials.count == 1 ? " " : "s ") + failedTrials.joined(separator: ", ") + " failed")
        let recent = Array(window.suffix(RemediationBreaker.windowSize))
        let consecutive = recent.reversed().prefix { $0.failed }.count
        var state = BreakerState.closed
        if tripped != nil, let lastFailure = window.last(where: \.failed) {
            let until = lastFailure.finished.addingTimeInterval(cooldown)
            if now < until {
                state = .open(until: until, reason: openReason)
            } else {
                let trial = running.last { $0.started >= until }
                state = trial.map { .open(until: until, reason: "half-open since \(JournalRecord.timestamp(until)), and the trial run \($0.summary.id) is still running (\(openReason))") }
                    ?? .halfOpen(reason: "\(openReason); the cooldown ended at \(JournalRecord.timestamp(until))")
            }
        }
        return RemediationBreaker.Status(playbookID: playbookID, state: state, windowRuns: recent.count,
                                         windowFailures: recent.filter(\.failed).count, consecutiveFailures: consecutive, lastReset: reset)
    }

    /// Why these runs (the window's latest, oldest first) open the breaker, or nil.
    private static func tripReason(_ runs: ArraySlice<Counted>) -> String? {
        let last = runs.suffix(RemediationBreaker.consecutiveLimit)
        if last.count == RemediationBreaker.consecutiveLimit && last.allSatisfy(\.failed) {
            let streak = runs.reversed().prefix { $0.failed }.reversed()
            return "\(streak.count) consecutive failures: runs " + streak.map(\.id).joined(separator: ", ")
        }
        let failures = runs.filter(\.failed).count
        if runs.count >= RemediationBreaker.minimumRuns && failures * 2 > runs.count {
            return "\(failures) of the last \(runs.count) runs failed"
        }
        return nil
    }
}
