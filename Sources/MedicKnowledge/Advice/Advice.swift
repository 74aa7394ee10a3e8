/// Optimisation hints for the playbooks (reference §9.2 "Playbook Optimization"), read from the
/// incident history: steps that fail too often, steps or whole runs that are too slow, playbooks
/// whose detections are too often wrong. Every definition is in docs/knowledge.md.
public struct Advice: Sendable, Equatable, Encodable {
    /// The window the rates and means are taken over: records whose `timestamp` is at or after
    /// this (RFC 3339); nil for the whole history.
    public var since: String?
    public var configuration: AdviceConfiguration
    /// Sorted by playbook id, then step (playbook-wide findings first), then issue code.
    public var findings: [Finding]

    public init(since: String?, configuration: AdviceConfiguration, findings: [Finding]) {
        self.since = since
        self.configuration = configuration
        self.findings = findings
    }

    enum CodingKeys: String, CodingKey { case since, configuration, findings }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(since, forKey: .since)
        try c.encode(configuration, forKey: .configuration)
        try c.encode(findings, forKey: .findings)
    }
}

/// The thresholds of §9.2, and how much evidence a finding needs.
public struct AdviceConfiguration: Sendable, Equatable, Codable {
    /// A step whose success rate is below this is flagged (§9.2: 0.8). Exactly at it is not.
    public var minimumSuccessRate: Double
    /// A step (or a run) whose mean duration is above this many times its expected one is
    /// flagged (§9.2: 1.5). Exactly at it is not.
    public var slowFactor: Double
    /// A playbook whose false-positive rate is above this is flagged (§9.2: 0.2). Exactly at it
    /// is not.
    public var maximumFalsePositiveRate: Double
    /// The least sample behind any finding: executions of a step (success rate), timed
    /// executions of a step in the window (slowness), runs in the window (slowness against the
    /// declared average), detected incidents (false-positive rate). One failure is not a finding.
    public var minimumExecutions: Int

    public static let defaultMinimumSuccessRate = 0.8
    public static let defaultSlowFactor = 1.5
    public static let defaultMaximumFalsePositiveRate = 0.2
    public static let defaultMinimumExecutions = 5

    public init(minimumSuccessRate: Double = Self.defaultMinimumSuccessRate, slowFactor: Double = Self.defaultSlowFactor,
                maximumFalsePositiveRate: Double = Self.defaultMaximumFalsePositiveRate,
                minimumExecutions: Int = Self.defaultMinimumExecutions) {
        self.minimumSuccessRate = minimumSuccessRate
        self.slowFactor = slowFactor
        self.maximumFalsePositiveRate = maximumFalsePositiveRate
        self.minimumExecutions = minimumExecutions
    }

    enum CodingKeys: String, CodingKey {
        case minimumSuccessRate = "minimum_success_rate"
        case slowFactor = "slow_factor"
        case maximumFalsePositiveRate = "maximum_false_positive_rate"
        case minimumExecutions = "minimum_executions"
    }
}

/// One optimisation hint: what is wrong with a playbook (or one of its steps), by how much, on
/// how much evidence, and §9.2's recommendation.
public struct Finding: Sendable, Hashable, Codable {
    public enum Issue: String, Sendable, Hashable, Codable, Comparable {
        case lowSuccessRate = "low_success_rate"
        case slowExecution = "slow_execution"
        case highFalsePositiveRate = "high_false_positive_rate"

        public static func < (a: Issue, b: Issue) -> Bool { a.rawValue < b.rawValue }

        /// §9.2's recommendation for a step (`step` true) or a whole playbook.
        public func recommendation(forStep step: Bool) -> String {
            switch self {
            case .lowSuccessRate: return "Review and improve step implementation"
            case .slowExecution:
                return step ? "Optimize or parallelize step"
                    : "Optimize or parallelize its slowest steps, or correct metadata.avg_execution_time"
            case .highFalsePositiveRate: return "Add more specific pre-conditions"
            }
        }
    }

    /// What a slow finding was compared against.
    public enum Baseline: String, Sendable, Hashable, Codable {
        /// The step's median duration over the whole history.
        case historyMedian = "history_median"
        /// The playbook's `metadata.avg_execution_time`.
        case declaredAverage = "declared_average"
    }

    public var playbookID: String
    /// The step number; nil for a finding about the whole playbook.
    public var step: Int?
    public var stepName: String?
    public var issue: Issue
    /// The measured figure: a success rate, a false-positive rate (fractions), or a mean
    /// duration in seconds.
    public var value: Double
    /// The limit it crossed: the minimum success rate, the maximum false-positive rate, or for
    /// slowness `slowFactor × expected` in seconds.
    public var threshold: Double
    /// For slowness, the expected duration (seconds) and where it came from.
    public var expected: Double?
    public var baseline: Baseline?
    /// How many executions (of the step), runs (of the playbook) or detected incidents back `value`.
    public var sampleSize: Int
    public var recommendation: String

    public init(playbookID: String, step: Int? = nil, stepName: String? = nil, issue: Issue, value: Double, threshold: Double,
                expected: Double? = nil, baseline: Baseline? = nil, sampleSize: Int) {
        self.playbookID = playbookID
        self.step = step
        self.stepName = stepName
        self.issue = issue
        self.value = value
        self.threshold = threshold
        self.expected = expected
        self.baseline = baseline
        self.sampleSize = sampleSize
        recommendation = issue.recommendation(forStep: step != nil)
    }

    enum CodingKeys: String, CodingKey {
        case step, issue, value, threshold, expected, baseline, recommendation
        case playbookID = "playbook_id"
        case stepName = "step_name"
        case sampleSize = "sample_size"
    }

    /// The order findings are listed in: playbook id, then step (playbook-wide first), then issue.
    public static func precedes(_ a: Finding, _ b: Finding) -> Bool {
        if a.playbookID != b.playbookID { return a.playbookID < b.playbookID }
        if a.step != b.step { return (a.step ?? Int.min) < (b.step ?? Int.min) }
        return a.issue < b.issue
    }
}
