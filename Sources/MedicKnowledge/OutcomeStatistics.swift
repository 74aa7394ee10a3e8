/// What the incident history says about each playbook and about remediation as a whole (reference
/// §9.2 and the KPIs of §10.1), over the records of a time range. Every formula is in
/// docs/knowledge.md; a rate whose denominator is zero is nil (`null` in JSON), never 0.
public struct OutcomeStatistics: Sendable, Equatable, Encodable {
    /// Only records whose `timestamp` is at or after this (RFC 3339), when given.
    public var since: String?
    public var kpis: KPIs
    /// By playbook id.
    public var playbooks: [PlaybookStatistics]

    public init(since: String?, kpis: KPIs, playbooks: [PlaybookStatistics]) {
        self.since = since
        self.kpis = kpis
        self.playbooks = playbooks
    }

    enum CodingKeys: String, CodingKey { case since, kpis, playbooks }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(since, forKey: .since)
        try c.encode(kpis, forKey: .kpis)
        try c.encode(playbooks, forKey: .playbooks)
    }
}

/// The §10.1 KPIs over a set of incident records.
public struct KPIs: Sendable, Equatable, Encodable {
    /// Every record (every run, refused ones too).
    public var incidents: Int
    /// Records whose steps were attempted (run outcome other than `refused`).
    public var attempted: Int
    /// Mean time to detect, seconds: avg(time_to_detect) over records that have one.
    public var mttd: Double?
    /// Mean time to remediate, seconds: avg(time_to_resolution) over resolved records.
    public var mttr: Double?
    /// Automated runs that succeeded with no person involved (no approval asked, not escalated,
    /// not refused) / incidents.
    public var autoRemediationSuccessRate: Double?
    /// Succeeded / attempted.
    public var remediationAccuracy: Double?
    /// (rolled_back + rollback_failed) / attempted.
    public var rollbackRate: Double?
    /// Automated runs with no person involved (no approval asked, not escalated, not refused) /
    /// incidents: never an incident `manualInterventionRate` counts, so the two add up to 1 at most.
    public var automationRate: Double?
    /// Incidents where people had to act after the start (escalated, approval asked, refused) / incidents.
    public var manualInterventionRate: Double?
    /// Denied detected incidents / detected incidents (method other than manual).
    public var falsePositiveRate: Double?
    /// Runs of chaos experiments (mode `chaos`): in their playbooks' figures, not in the KPIs above.
    public var chaosRuns: Int = 0

    enum CodingKeys: String, CodingKey {
        case incidents, attempted, mttd, mttr
        case autoRemediationSuccessRate = "auto_remediation_success_rate"
        case remediationAccuracy = "remediation_accuracy"
        case rollbackRate = "rollback_rate"
        case automationRate = "automation_rate"
        case manualInterventionRate = "manual_intervention_rate"
        case falsePositiveRate = "false_positive_rate"
        case chaosRuns = "chaos_runs"
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(incidents, forKey: .incidents)
        try c.encode(attempted, forKey: .attempted)
        try c.encode(mttd, forKey: .mttd)
        try c.encode(mttr, forKey: .mttr)
        try c.encode(autoRemediationSuccessRate, forKey: .autoRemediationSuccessRate)
        try c.encode(remediationAccuracy, forKey: .remediationAccuracy)
        try c.encode(rollbackRate, forKey: .rollbackRate)
        try c.encode(automationRate, forKey: .automationRate)
        try c.encode(manualInterventionRate, forKey: .manualInterventionRate)
        try c.encode(falsePositiveRate, forKey: .falsePositiveRate)
        try c.encode(chaosRuns, forKey: .chaosRuns)
    }
}

/// One playbook's record (§9.2): how often it ran, worked, was undone, and each step's success.
public struct PlaybookStatistics: Sendable, Equatable, Encodable {
    public struct Step: Sendable, Equatable, Encodable {
        public var step: Int
        public var name: String
        /// Times the step was run to its end (once per run, or per target in a rollout).
        public var executions: Int
        public var successes: Int
        public var successRate: Double?

        enum CodingKeys: String, CodingKey {
            case step, name, executions, successes
            case successRate = "success_rate"
        }

        public func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(step, forKey: .step)
            try c.encode(name, forKey: .name)
            try c.encode(executions, forKey: .executions)
            try c.encode(successes, forKey: .successes)
            try c.encode(successRate, forKey: .successRate)
        }
    }

    public var playbookID: String
    /// Attempted runs (every outcome but `refused`).
    public var runs: Int
    /// Runs a gate or a person stopped before the first step.
    public var refused: Int
    public var successes: Int
    /// successes / runs.
    public var successRate: Double?
    /// (rolled_back + rollback_failed) / runs.
    public var rollbackRate: Double?
    /// Denied / detected (see `KPIs.falsePositiveRate`), over this playbook's records.
    public var falsePositiveRate: Double?
    /// Seconds, over the attempted runs.
    public var averageExecutionTime: Double?
    /// Nearest-rank 95th percentile of the execution times, seconds; exact up to
    /// `OutcomeStatisticsBuilder.reservoirCapacity` runs, over a uniform sample of that many beyond.
    public var p95ExecutionTime: Double?
    public var steps: [Step]

    enum CodingKeys: String, CodingKey {
        case runs, refused, successes, steps
        case playbookID = "playbook_id"
        case successRate = "success_rate"
        case rollbackRate = "rollback_rate"
        case falsePositiveRate = "false_positive_rate"
        case averageExecutionTime = "average_execution_time"
        case p95ExecutionTime = "p95_execution_time"
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(playbookID, forKey: .playbookID)
        try c.encode(runs, forKey: .runs)
        try c.encode(refused, forKey: .refused)
        try c.encode(successes, forKey: .successes)
        try c.encode(successRate, forKey: .successRate)
        try c.encode(rollbackRate, forKey: .rollbackRate)
        try c.encode(falsePositiveRate, forKey: .falsePositiveRate)
        try c.encode(averageExecutionTime, forKey: .averageExecutionTime)
        try c.encode(p95ExecutionTime, forKey: .p95ExecutionTime)
        try c.encode(steps, forKey: .steps)
    }
}

/// A rate, nil when nothing was counted.
func rate(_ part: Int, _ whole: Int) -> Double? { whole == 0 ? nil : Double(part) / Double(whole) }

/// The nearest-rank percentile `p` (0...1] of `values`: the smallest value with at least p of
/// them at or below it (sorted[ceil(p·n) − 1]); nil for no values.
public func nearestRankPercentile(_ p: Double, of values: [Double]) -> Double? {
    guard !values.isEmpty else { return nil }
    let sorted = values.sorted()
    let rank = Int((p * Double(sorted.count)).rounded(.up))
    return sorted[max(0, min(sorted.count, rank) - 1)]
}
