/// One line of `playbook-performance.jsonl` (reference §9.3 `playbook_performance`): a snapshot of
/// one playbook's record over the whole incident history, taken by `medic kb update`. Snapshots
/// are appended, never rewritten: the file is the playbook's history. Rates absent when there is
/// nothing to count. See docs/knowledge.md.
public struct PlaybookPerformance: Sendable, Equatable, Codable {
    public static let version = 1

    /// One step over the history.
    public struct StepPerformance: Sendable, Equatable, Codable {
        public var name: String
        public var executions: Int
        /// successes / executions.
        public var successRate: Double?
        /// Mean `duration` over the executions that have one (seconds); absent when none has.
        public var avgDuration: Double?

        public init(name: String, executions: Int, successRate: Double?, avgDuration: Double?) {
            self.name = name
            self.executions = executions
            self.successRate = successRate
            self.avgDuration = avgDuration
        }

        enum CodingKeys: String, CodingKey {
            case name, executions
            case successRate = "success_rate"
            case avgDuration = "avg_duration"
        }
    }

    /// How often runs ended in one outcome other than `succeeded`.
    public struct FailureMode: Sendable, Equatable, Codable {
        public var outcome: String
        public var count: Int

        public init(outcome: String, count: Int) {
            self.outcome = outcome
            self.count = count
        }
    }

    public var v: Int
    /// When the snapshot was taken (RFC 3339, UTC).
    public var at: String
    public var playbookID: String
    /// Attempted runs (every outcome but `refused`).
    public var totalExecutions: Int
    /// Succeeded / attempted.
    public var successRate: Double?
    /// Mean `execution_time` of the attempted runs, seconds.
    public var avgExecutionTime: Double?
    /// Denied / detected (as `medic kb stats` counts it).
    public var falsePositiveRate: Double?
    /// By step number (as a string: JSON keys are strings).
    public var stepPerformance: [String: StepPerformance]
    /// Outcomes other than `succeeded`, most frequent first (ties by outcome).
    public var failureModes: [FailureMode]
    /// The `medic kb advise` findings about this playbook at the time of the snapshot.
    public var optimizationHistory: [Finding]

    public init(at: String, playbookID: String, totalExecutions: Int, successRate: Double?, avgExecutionTime: Double?,
                falsePositiveRate: Double?, stepPerformance: [String: StepPerformance], failureModes: [FailureMode],
                optimizationHistory: [Finding]) {
        v = Self.version
        self.at = at
        self.playbookID = playbookID
        self.totalExecutions = totalExecutions
        self.successRate = successRate
        self.avgExecutionTime = avgExecutionTime
        self.falsePositiveRate = falsePositiveRate
        self.stepPerformance = stepPerformance
        self.failureModes = failureModes
        self.optimizationHistory = optimizationHistory
    }

    enum CodingKeys: String, CodingKey {
        case v, at
        case playbookID = "playbook_id"
        case totalExecutions = "total_executions"
        case successRate = "success_rate"
        case avgExecutionTime = "avg_execution_time"
        case falsePositiveRate = "false_positive_rate"
        case stepPerformance = "step_performance"
        case failureModes = "failure_modes"
        case optimizationHistory = "optimization_history"
    }
}
