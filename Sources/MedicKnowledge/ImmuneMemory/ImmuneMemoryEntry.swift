import Foundation

/// One remembered remediation action: a step (or action) of a playbook, run in priority order
/// (lowest number first), each with its own timeout (seed-systems §1).
public struct RemediationAction: Sendable, Hashable, Codable {
    public static let defaultTimeout: Double = 30

    public var playbookID: String
    /// The step or action name, as the playbook calls it.
    public var action: String
    /// Lower runs first.
    public var priority: Int
    /// Seconds.
    public var timeout: Double
    /// Set when the action is one the systems around Medic carry out on the bus (its topic is
    /// `type.topic`); nil for a playbook step. Absent from documents written before it existed.
    public var type: RemediationActionType?
    /// What the owner of a typed action needs to carry it out (the plugin, the node …), sent in
    /// the event's data; nil when none.
    public var parameters: [String: String]?

    public init(playbookID: String, action: String, priority: Int, timeout: Double = RemediationAction.defaultTimeout,
                type: RemediationActionType? = nil, parameters: [String: String]? = nil) {
        self.playbookID = playbookID
        self.action = action
        self.priority = priority
        self.timeout = timeout
        self.type = type
        self.parameters = parameters
    }

    private enum CodingKeys: String, CodingKey {
        case playbookID = "playbook_id", action, priority, timeout, type, parameters
    }
}

/// Where a lesson came from: a chaos experiment or a run of a playbook (a production incident).
/// Both learn through the same `ImmuneMemory.learn`.
public enum LearningOrigin: String, Sendable, Hashable, Codable {
    case chaosExperiment = "chaos_experiment"
    case run
}

/// What one remediation of a fault taught: the fault, what was done, whether it worked.
public struct RemediationOutcome: Sendable, Equatable {
    public var signature: FaultSignature
    public var actions: [RemediationAction]
    public var succeeded: Bool
    public var origin: LearningOrigin
    /// The run or experiment id, recorded on the entry.
    public var originID: String?

    public init(signature: FaultSignature, actions: [RemediationAction], succeeded: Bool,
                origin: LearningOrigin, originID: String? = nil) {
        self.signature = signature
        self.actions = actions
        self.succeeded = succeeded
        self.origin = origin
        self.originID = originID
    }
}

/// A remembered fault and its cure.
public struct ImmuneMemoryEntry: Sendable, Equatable, Codable {
    public var signature: FaultSignature
    /// Sorted by priority, then playbook id, then action.
    public var actions: [RemediationAction]
    /// Remediations learned from (successes and failures).
    public var observations: Int
    /// Exponential moving average of outcomes (1 success, 0 failure), in 0...1.
    public var successRate: Double
    public var firstSeen: Date
    public var lastSeen: Date
    /// When a remediation of this fault was last applied (learned from); what decay and eviction go by.
    public var lastApplied: Date
    /// The last time decay halved the success rate, if ever (decay counts 90 days from the later
    /// of this and `lastApplied`).
    public var lastDecayed: Date?
    /// Where the entry was first learned, and where it was last learned from.
    public var origin: LearningOrigin
    public var lastOrigin: LearningOrigin
    public var lastOriginID: String?

    public var id: String { signature.id }

    private enum CodingKeys: String, CodingKey {
        case signature, actions, observations
        case successRate = "success_rate", firstSeen = "first_seen", lastSeen = "last_seen"
        case lastApplied = "last_applied", lastDecayed = "last_decayed", origin
        case lastOrigin = "last_origin", lastOriginID = "last_origin_id"
    }
}

/// A change to the immune memory, to be published on the bus as a CloudEvent of type
/// `chaos.immune-memory.changed` so other nodes can sync (seed-systems §1).
public struct ImmuneMemoryChange: Sendable, Hashable, Codable {
    public static let eventType = "chaos.immune-memory.changed"

    public enum Kind: String, Sendable, Hashable, Codable {
        /// A new entry (a first successful remediation).
        case learned
        /// A known entry learned from again (observations, actions, success rate).
        case reinforced
        /// Decay halved the success rate of an entry not applied for 90 days.
        case decayed
        /// Removed to make room (capacity reached), least recently applied first.
        case evicted
        /// Removed on request (`medic memory forget`).
        case forgotten
    }

    public var kind: Kind
    public var signatureID: String
    public var time: Date
    /// The entry's success rate after the change (nil when it was removed).
    public var successRate: Double?

    public init(kind: Kind, signatureID: String, time: Date, successRate: Double? = nil) {
        self.kind = kind
        self.signatureID = signatureID
        self.time = time
        self.successRate = successRate
    }

    /// `chaos.immune-memory.changed`.
    public var type: String { Self.eventType }

    /// The event's data as string values (the shape the bus executor publishes):
    /// `kind`, `signature_id` and, unless removed, `success_rate`.
    public var data: [String: String] {
        var data = ["kind": kind.rawValue, "signature_id": signatureID]
        if let successRate { data["success_rate"] = String(successRate) }
        return data
    }

    private enum CodingKeys: String, CodingKey {
        case kind, signatureID = "signature_id", time, successRate = "success_rate"
    }
}
