import Foundation
import MedicKnowledge
import MedicModel

/// Alerts on Medic's own health (§10.4): a spike of failing remediations, a playbook stopped by
/// its circuit breaker, a knowledge base nothing is learnt into.
///
/// `report(now:)` / `check(now:)` only read the state directory: the knowledge base's incident
/// history (its last records only, see `IncidentTail`) and the run journals as the breaker gate
/// reads them. `evaluateAndPublish(now:bus:)` (in `SelfMonitor+Publishing.swift`) also raises and
/// clears the alerts on the bus, once each. Cheap enough to call every minute.
public struct SelfMonitor: Sendable {
    /// Thresholds and windows; the defaults are §10.4's.
    public struct Configuration: Sendable, Hashable {
        /// `remediation_failure_spike`: the window of run ends looked at (30 min) ...
        public var failureSpikeWindow: TimeInterval
        /// ... the success rate under which it alerts (0.70; exactly 70% does not) ...
        public var minimumSuccessRate: Double
        /// ... and the attempted runs the window must hold before the rate is judged (3): one
        /// failed run of one is not a spike.
        public var minimumAttemptedRuns: Int
        /// `knowledge_base_stale`: no record for this long (7 days).
        public var staleAfter: TimeInterval
        /// The breaker's cooldown, as the breaker gate uses it (1 h).
        public var breakerCooldown: TimeInterval
        /// How far out of `ended_at` order incident records may be appended (1 h; see `IncidentTail`).
        public var recordOrderTolerance: TimeInterval
        /// `false_positive_surge`: the window (1 h) ...
        public var falsePositiveWindow: TimeInterval = 3600
        /// ... the rate above which it alerts (0.20; exactly 20% does not) ...
        public var maximumFalsePositiveRate: Double = 0.20
        /// ... and the detected incidents the window must hold before the rate is judged (3).
        public var minimumDetectedIncidents: Int = 3

        public init(failureSpikeWindow: TimeInterval = 30 * 60, minimumSuccessRate: Double = 0.70, minimumAttemptedRuns: Int = 3,
                    staleAfter: TimeInterval = 7 * 86400, breakerCooldown: TimeInterval = 3600,
                    recordOrderTolerance: TimeInterval = 3600) {
            self.failureSpikeWindow = failureSpikeWindow
            self.minimumSuccessRate = minimumSuccessRate
            self.minimumAttemptedRuns = minimumAttemptedRuns
            self.staleAfter = staleAfter
            self.breakerCooldown = breakerCooldown
            self.recordOrderTolerance = recordOrderTolerance
        }
    }

    /// The §10.4 alert names.
    public static let failureSpike = "remediation_failure_spike"
    public static let breakerTripped = "playbook_circuit_breaker_tripped"
    public static let knowledgeBaseStale = "knowledge_base_stale"
    public static let falsePositiveSurge = "false_positive_surge"

    public let stateDirectory: String
    public let configuration: Configuration
    /// Escalation policies (§5.3, `Catalog.policies.escalationPolicies`): the first whose
    /// `applies_to` names an alert, or its severity (`critical`, `SEV0` ...), adds its chain's
    /// level-1 `notify` to the alert.
    public let escalationPolicies: [EscalationPolicy]
    /// The engine's clock: "now" when a check is not given one.
    public let clock: any EngineClock
    /// The runs the breaker and staleness checks read; nil: the state directory's, listed afresh.
    public let runs: (any RunHistory)?

    public init(stateDirectory: String, configuration: Configuration = Configuration(), escalationPolicies: [EscalationPolicy] = [],
                clock: any EngineClock = SystemClock(), runs: (any RunHistory)? = nil) {
        self.stateDirectory = stateDirectory
        self.configuration = configuration
        self.escalationPolicies = escalationPolicies
        self.clock = clock
        self.runs = runs
    }

    /// The alerts raised at `now` (by default the clock's), every check's, in check order.
    public func check(now: Date? = nil) async -> [HealthAlert] { await report(now: now).alerts }

    /// Every check with its verdict and what it saw, at `now` (by default the clock's).
    public func report(now: Date? = nil) async -> HealthReport {
        let now = now ?? clock.now
        var problems: [String] = []
        let historyPath = (KnowledgeBase.defaultDirectory(inState: stateDirectory) as NSString)
            .appendingPathComponent(KnowledgeFile.incidentHistory.name)
        let tail: IncidentTail.Result?
        var tailError = ""
        do {
            tail = try IncidentTail(path: historyPath, orderTolerance: configuration.recordOrderTolerance)
                .read(windowStart: now.addingTimeInterval(-max(configuration.failureSpikeWindow, configuration.falsePositiveWindow)), now: now)
            if let skipped = tail?.skippedLines, skipped > 0 {
                problems.append("\(historyPath): \(skipped) line\(skipped == 1 ? "" : "s") near the end not readable as incident records; skipped")
            }
        } catch {
            tail = nil
            tailError = "\(error)"
            problems.append(tailError)
        }
        let breaker = RemediationBreaker(stateDirectory: stateDirectory, cooldown: configuration.breakerCooldown, history: runs)
        let statuses = await breaker.statuses(now: now)
        let firstEnd = statuses.isEmpty ? nil : await earliestRunEnd()
        let checks = [
            failureSpike(tail, error: tailError, now: now),
            falsePositiveSurge(tail, error: tailError, now: now),
            breakerTripped(statuses),
            knowledgeBaseStale(tail, error: tailError, now: now, firstRunEnd: firstEnd),
        ].map(withEscalation)
        return HealthReport(checkedAt: now, checks: checks, problems: problems)
    }

    // MARK: - The checks

    private func failureSpike(_ tail: IncidentTail.Result?, error: String, now: Date) -> HealthCheckResult {
        let window = HealthFormat.duration(configuration.failureSpikeWindow)
        let condition = "remediation success rate < \(HealthFormat.percent(configuration.minimumSuccessRate)) over the last \(window) "
            + "(at least \(configuration.minimumAttemptedRuns) attempted runs)"
        guard let tail else {
            return HealthCheckResult(name: Self.failureSpike, condition: condition, verdict: .unknown, observed: "cannot read the incident history: \(error)")
        }
        let start = now.addingTimeInterval(-configuration.failureSpikeWindow)
        let attempted = tail.window.filter { $0.attempted && $0.endedAt >= start }
        let succeeded = attempted.filter(\.succeeded).count
        guard !attempted.isEmpty else {
            return HealthCheckResult(name: Self.failureSpike, condition: condition, verdict: .ok,
                                     observed: "no attempted run ended in the last \(window)")
        }
        let rate = Double(succeeded) / Double(attempted.count)
        var observed = "\(succeeded) of \(attempted.count) attempted run\(attempted.count == 1 ? "" : "s") succeeded "
            + "in the last \(window) (\(HealthFormat.percent(rate)))"
        guard attempted.count >= configuration.minimumAttemptedRuns else {
            observed += "; fewer than \(configuration.minimumAttemptedRuns) attempted runs: not judged"
            return HealthCheckResult(name: Self.failureSpike, condition: condition, verdict: .ok, observed: observed, value: rate)
        }
        guard rate < configuration.minimumSuccessRate else {
            return HealthCheckResult(name: Self.failureSpike, condition: condition, verdict: .ok, observed: observed, value: rate)
        }
        let alert = HealthAlert(name: Self.failureSpike, key: Self.failureSpike, severity: .sev0,
                                notify: ["sre_team", "engineering_manager"],
                                action: "Investigate failing playbooks, consider disabling auto-remediation",
                                condition: condition, observed: observed, value: rate)
        return HealthCheckResult(name: Self.failureSpike, condition: condition, verdict: .alert, observed: observed, value: rate, alerts: [alert])
    }

    /// §10.4 `false_positive_surge`: of the incidents anomaly rules raised that ended in the
    /// window, the share a person denied (§10.1's false positives: not real issues) is over 20%.
    private func falsePositiveSurge(_ tail: IncidentTail.Result?, error: String, now: Date) -> HealthCheckResult {
        let window = HealthFormat.duration(configuration.falsePositiveWindow)
        let condition = "false positive rate > \(HealthFormat.percent(configuration.maximumFalsePositiveRate)) over the last \(window) "
            + "(denied / detected incidents; at least \(configuration.minimumDetectedIncidents) detected)"
        guard let tail else {
            return HealthCheckResult(name: Self.falsePositiveSurge, condition: condition, verdict: .unknown,
                                     observed: "cannot read the incident history: \(error)")
        }
        let start = now.addingTimeInterval(-configuration.falsePositiveWindow)
        let detected = tail.window.filter { $0.detected && $0.endedAt >= start }
        guard !detected.isEmpty else {
            return HealthCheckResult(name: Self.falsePositiveSurge, condition: condition, verdict: .ok,
                                     observed: "no incident from an anomaly rule ended in the last \(window)")
        }
        let denied = detected.filter(\.denied).count
        let rate = Double(denied) / Double(detected.count)
        var observed = "\(denied) of \(detected.count) detected incident\(detected.count == 1 ? "" : "s") denied "
            + "in the last \(window) (\(HealthFormat.percent(rate)))"
        guard detected.count >= configuration.minimumDetectedIncidents else {
            observed += "; fewer than \(configuration.minimumDetectedIncidents) detected incidents: not judged"
            return HealthCheckResult(name: Self.falsePositiveSurge, condition: condition, verdict: .ok, observed: observed, value: rate)
        }
        guard rate > configuration.maximumFalsePositiveRate else {
            return HealthCheckResult(name: Self.falsePositiveSurge, condition: condition, verdict: .ok, observed: observed, value: rate)
        }
        let alert = HealthAlert(name: Self.falsePositiveSurge, key: Self.falsePositiveSurge, severity: .sev2, notify: ["sre_lead"],
                                action: "Adjust anomaly detection thresholds", condition: condition, observed: observed, value: rate)
        return HealthCheckResult(name: Self.falsePositiveSurge, condition: condition, verdict: .alert, observed: observed, value: rate,
                                 alerts: [alert])
    }

    /// One alert per playbook whose breaker is open: the breaker gate refuses its runs. A
    /// half-open breaker lets a trial run through, so the playbook is not disabled.
    private func breakerTripped(_ statuses: [RemediationBreaker.Status]) -> HealthCheckResult {
        let condition = "a playbook's remediation circuit breaker is open (the breaker gate refuses its runs)"
        let alerts: [HealthAlert] = statuses.compactMap { status in
            guard case .open(let until, let reason) = status.state else { return nil }
            return HealthAlert(name: Self.breakerTripped, key: "\(Self.breakerTripped):\(status.playbookID)", severity: .sev1,
                               notify: ["sre_team"], action: "Manual review required before re-enabling", condition: condition,
                               observed: "the breaker of \(status.playbookID) is open until \(JournalRecord.timestamp(until)): \(reason)",
                               value: Double(status.consecutiveFailures), playbookID: status.playbookID)
        }
        let observed = alerts.isEmpty
            ? "no breaker open (\(statuses.count) playbook\(statuses.count == 1 ? "" : "s") with runs)"
            : "open: " + alerts.compactMap(\.playbookID).joined(separator: ", ")
        return HealthCheckResult(name: Self.breakerTripped, condition: condition, verdict: alerts.isEmpty ? .ok : .alert,
                                 observed: observed, value: Double(alerts.count), alerts: alerts)
    }

    /// The age of the newest record's `ended_at`. A history without records in a state directory
    /// without runs is "not yet started" (ok). Without records but with runs, nothing has been
    /// learnt from them: the age is measured from the earliest run's end, so a state directory
    /// whose runs have ended for 7 days without one record is stale.
    private func knowledgeBaseStale(_ tail: IncidentTail.Result?, error: String, now: Date, firstRunEnd: Date?) -> HealthCheckResult {
        let condition = "no record appended to the knowledge base for \(HealthFormat.duration(configuration.staleAfter))"
        guard let tail else {
            return HealthCheckResult(name: Self.knowledgeBaseStale, condition: condition, verdict: .unknown,
                                     observed: "cannot read the incident history: \(error)")
        }
        let since: Date
        let what: String
        if let newest = tail.newest {
            since = newest
            what = "the newest incident record ended at \(JournalRecord.timestamp(newest))"
        } else if let firstEnd = firstRunEnd {
            since = firstEnd
            what = "no incident record, though runs have ended since \(JournalRecord.timestamp(firstEnd))"
        } else {
            return HealthCheckResult(name: Self.knowledgeBaseStale, condition: condition, verdict: .ok,
                                     observed: "not yet started: no incident record and no finished run")
        }
        let age = now.timeIntervalSince(since)
        let observed = "\(what) (\(HealthFormat.duration(max(age, 0))) ago)"
        guard age > configuration.staleAfter else {
            return HealthCheckResult(name: Self.knowledgeBaseStale, condition: condition, verdict: .ok, observed: observed, value: age)
        }
        let alert = HealthAlert(name: Self.knowledgeBaseStale, key: Self.knowledgeBaseStale, severity: .sev3, notify: ["sre_lead"],
                                action: "Verify learning pipeline is functioning", condition: condition, observed: observed, value: age)
        return HealthCheckResult(name: Self.knowledgeBaseStale, condition: condition, verdict: .alert, observed: observed, value: age, alerts: [alert])
    }

    /// When the state directory's first finished run ended (the breaker's run list is cached per process).
    private func earliestRunEnd() async -> Date? {
        let finished: [RunSummary]
        if let runs {
            await runs.refresh()
            finished = runs.runs(startedSince: .distantPast).map(\.summary).filter { $0.status == .finished }
        } else {
            finished = RunStore.history(in: stateDirectory).filter { $0.status == .finished }
        }
        return finished.compactMap { JournalRecord.date($0.updatedAt) }.min()
    }

    // MARK: - Escalation policies

    private func withEscalation(_ result: HealthCheckResult) -> HealthCheckResult {
        var result = result
        for index in result.alerts.indices {
            let alert = result.alerts[index]
            let names = Set([alert.name, alert.severity.word, alert.severity.code].map { $0.lowercased() })
            guard let policy = escalationPolicies.first(where: { $0.appliesTo.contains { names.contains($0.lowercased()) } }) else { continue }
            result.alerts[index].escalationPolicy = policy.id
            result.alerts[index].escalationNotify = (policy.chain.first { $0.level == 1 } ?? policy.chain.min { $0.level < $1.level })?.notify
        }
        return result
    }
}
