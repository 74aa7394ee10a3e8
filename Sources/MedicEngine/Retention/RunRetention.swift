import Foundation
import MedicModel

/// Which finished runs' journals `medic prune` may take: a pure function of the runs, the
/// retention policy and what the gates count, so a dry run and a prune decide alike.
///
/// A run is kept, whatever the policy says, when:
/// - it has not finished (`running`, `interrupted`, `pending_approval`, `damaged`);
/// - its incident record is not marked written (`runs/<RUN>.recorded`): the statistics still
///   need its journal (`medic runs` writes the record);
/// - a rate limit counts it: it started within the longest `window` of the catalog's rate
///   limits (whatever their `match`), so the `rate_limit` gate counts the same runs after a prune;
/// - the remediation breaker of its playbook needs it: the newest counted runs of the playbook
///   (at least `RemediationBreaker.windowSize`, and more until the breaker computed without the
///   pruned runs is the breaker computed with them, now and once its cooldown has passed);
/// - it is its playbook's newest succeeded run (the `safe_mode` gate asks whether a playbook
///   ever succeeded here).
/// Of the other finished runs, the newest `runsKeepAtLeast` (by when they finished) stay, and
/// the rest go once older than `runsMaxAge`, or once beyond the newest `runsKeepAtMost`.
public enum RunRetention {
    /// Why a run stays.
    public enum KeepReason: String, Sendable, Hashable, Codable, CaseIterable {
        case unfinished
        case incidentRecordMissing = "incident_record_missing"
        case newest
        case young
        case rateLimitWindow = "rate_limit_window"
        case breakerWindow = "breaker_window"
        case lastSuccess = "last_success"
    }

    public struct Decision: Sendable, Hashable {
        public var prune: [RetainedRun]
        /// Why each run not pruned stays.
        public var kept: [String: KeepReason]
    }

    public static func decide(_ runs: [RetainedRun], policy: RetentionPolicy, rateLimitWindow: Interval?,
                              breakerResets: [String: RemediationBreaker.Reset], breakerCooldown: TimeInterval = 3600,
                              now: Date) -> Decision {
        var kept: [String: KeepReason] = [:]
        let finished = runs.filter { $0.summary.status == .finished }
        for run in runs where run.summary.status != .finished { kept[run.id] = .unfinished }
        let newestFirst = finished.sorted { ($0.finishedAt ?? .distantPast, $0.id) > ($1.finishedAt ?? .distantPast, $1.id) }
        let oldest = now.addingTimeInterval(-policy.runsMaxAge.seconds)
        let rateLimitSince = rateLimitWindow.map { now.addingTimeInterval(-$0.seconds) }
        var candidates: [String: RetainedRun] = [:]
        for (rank, run) in newestFirst.enumerated() {
            if !run.recorded {
                kept[run.id] = .incidentRecordMissing
            } else if rank < policy.runsKeepAtLeast {
                kept[run.id] = .newest
            } else if (run.finishedAt ?? .distantPast) >= oldest && rank < (policy.runsKeepAtMost ?? Int.max) {
                kept[run.id] = .young
            } else if let since = rateLimitSince, (run.startedAt ?? .distantFuture) >= since {
                kept[run.id] = .rateLimitWindow
            } else {
                candidates[run.id] = run
            }
        }
        // The newest success of each playbook.
        var succeeded = Set<String>()
        for run in newestFirst where run.summary.outcome == .succeeded && succeeded.insert(run.summary.playbookID).inserted {
            if candidates.removeValue(forKey: run.id) != nil { kept[run.id] = .lastSuccess }
        }
        for playbook in Set(candidates.values.map(\.summary.playbookID)).sorted() {
            let needed = breakerNeeds(runs.filter { $0.summary.playbookID == playbook }, candidates: Set(candidates.keys),
                                      playbook: playbook, reset: breakerResets[playbook], cooldown: breakerCooldown, now: now)
            for id in needed where candidates.removeValue(forKey: id) != nil { kept[id] = .breakerWindow }
        }
        let prune = newestFirst.reversed().filter { candidates[$0.id] != nil }
        return Decision(prune: prune, kept: kept)
    }

    /// The candidates the playbook's breaker cannot do without: the newest k counted runs,
    /// k = the window and doubling, until the breaker of the runs left equals the breaker of them all.
    static func breakerNeeds(_ runs: [RetainedRun], candidates: Set<String>, playbook: String, reset: RemediationBreaker.Reset?,
                             cooldown: TimeInterval, now: Date) -> Set<String> {
        let summaries = runs.map(\.summary)
        let later = now.addingTimeInterval(cooldown)
        func status(_ of: [RunSummary], _ at: Date) -> RemediationBreaker.Status {
            RemediationBreaker.compute(playbook, runs: of, reset: reset, cooldown: cooldown, now: at)
        }
        let whole = (status(summaries, now), status(summaries, later))
        let counted = runs.filter { $0.summary.status == .finished && $0.summary.outcome != .refused }
            .sorted { ($0.startedAt ?? .distantPast, $0.id) < ($1.startedAt ?? .distantPast, $1.id) }.map(\.id)
        var k = RemediationBreaker.windowSize
        while true {
            let needed = Set(counted.suffix(k))
            if k >= counted.count { return needed }
            let left = summaries.filter { !candidates.contains($0.id) || needed.contains($0.id) }
            if (status(left, now), status(left, later)) == whole { return needed }
            k *= 2
        }
    }
}
