import Foundation

/// `root-causes.json` (reference §9.3 `root_cause_library`): one JSON document, replaced whole and
/// atomically by `medic kb update`. Runs do not know an incident's root cause, so causes are
/// grouped by the incidents' `classification.category` (the playbook's category). See
/// docs/knowledge.md.
public struct RootCauseLibrary: Sendable, Equatable, Codable {
    public static let version = 1

    public var v: Int
    public var updatedAt: String
    /// By category.
    public var rootCauses: [String: RootCause]

    public init(updatedAt: String, rootCauses: [String: RootCause]) {
        v = Self.version
        self.updatedAt = updatedAt
        self.rootCauses = rootCauses
    }

    enum CodingKeys: String, CodingKey {
        case v
        case updatedAt = "updated_at"
        case rootCauses = "root_causes"
    }
}

/// One entry of the root-cause library: what incidents of one category looked like and what
/// cured them.
public struct RootCause: Sendable, Equatable, Codable {
    /// `rc-<category>`.
    public var rootCauseID: String
    public var category: String
    public var description: String
    /// The detection rules that fired for it, sorted.
    public var symptoms: [String]
    /// The `detection.method` values seen, sorted.
    public var detectionMethods: [String]
    /// Playbooks that resolved it at least once, best success rate on it first (ties: more
    /// successes, then id).
    public var remediationPlaybooks: [String]
    /// Not known to Medic: always empty for now.
    public var preventionStrategies: [String]
    /// Incidents of the category over the whole history.
    public var frequency: Int

    public init(category: String, description: String, symptoms: [String], detectionMethods: [String],
                remediationPlaybooks: [String], frequency: Int) {
        rootCauseID = "rc-\(category)"
        self.category = category
        self.description = description
        self.symptoms = symptoms
        self.detectionMethods = detectionMethods
        self.remediationPlaybooks = remediationPlaybooks
        preventionStrategies = []
        self.frequency = frequency
    }

    enum CodingKeys: String, CodingKey {
        case category, description, symptoms, frequency
        case rootCauseID = "root_cause_id"
        case detectionMethods = "detection_methods"
        case remediationPlaybooks = "remediation_playbooks"
        case preventionStrategies = "prevention_strategies"
    }
}
