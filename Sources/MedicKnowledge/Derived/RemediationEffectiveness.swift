/// One line of `remediation-effectiveness.jsonl` (reference §9.3 `remediation_effectiveness`):
/// how well one playbook (the remediation action) did against one category of problem (the
/// incidents' `classification.category`), over the whole history, at one `medic kb update`.
/// See docs/knowledge.md.
public struct RemediationEffectiveness: Sendable, Equatable, Codable {
    public static let version = 1
    /// The problem category of records written before the category was recorded.
    public static let uncategorized = "uncategorized"

    public var v: Int
    public var at: String
    /// The playbook id.
    public var remediationAction: String
    public var problemCategory: String
    /// Attempted runs of the playbook on incidents of the category.
    public var runs: Int
    public var successes: Int
    /// successes / runs.
    public var successRate: Double?
    /// Mean `time_to_resolution` of the resolved (succeeded) runs, seconds.
    public var avgTimeToResolution: Double?
    /// Not recorded by runs: always empty for now.
    public var sideEffects: [String]
    /// Not recorded by runs: always empty for now.
    public var prerequisites: [String]
    /// The categories (of all this playbook's incidents) where it succeeded in at least the
    /// recommended share of at least the minimum number of runs.
    public var recommendedFor: [String]
    /// The categories where it succeeded in less than the not-recommended share, on at least the
    /// minimum number of runs.
    public var notRecommendedFor: [String]

    public init(at: String, remediationAction: String, problemCategory: String, runs: Int, successes: Int,
                avgTimeToResolution: Double?, recommendedFor: [String], notRecommendedFor: [String]) {
        v = Self.version
        self.at = at
        self.remediationAction = remediationAction
        self.problemCategory = problemCategory
        self.runs = runs
        self.successes = successes
        successRate = rate(successes, runs)
        self.avgTimeToResolution = avgTimeToResolution
        sideEffects = []
        prerequisites = []
        self.recommendedFor = recommendedFor
        self.notRecommendedFor = notRecommendedFor
    }

    enum CodingKeys: String, CodingKey {
        case v, at, runs, successes, prerequisites
        case remediationAction = "remediation_action"
        case problemCategory = "problem_category"
        case successRate = "success_rate"
        case avgTimeToResolution = "avg_time_to_resolution"
        case sideEffects = "side_effects"
        case recommendedFor = "recommended_for"
        case notRecommendedFor = "not_recommended_for"
    }
}
