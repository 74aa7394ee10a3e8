/// Everything the policy files define (§5, §7, §8.3, §9.3), merged across files.
public struct Policies: Sendable, Hashable, Codable {
    public var severityLevels: [SeverityLevelPolicy] = []
    public var escalationPolicies: [EscalationPolicy] = []
    public var autoEscalationTriggers: [AutoEscalationTrigger] = []
    public var blastRadiusLevels: [BlastRadiusPolicy] = []
    public var containmentStrategies: [ContainmentStrategy] = []
    public var rollbackStrategies: [RollbackStrategy] = []
    public var verificationStates: [VerificationStatePolicy] = []
    public var knowledgeBase: [KnowledgeBaseFile] = []
    public var rateLimits: [RateLimitPolicy] = []
    public var maintenanceWindows: [MaintenanceWindow] = []
    /// How candidate playbooks are ranked (§6.2); nil: the reference's weights.
    public var playbookSelection: PlaybookSelectionPolicy?
    /// What `medic prune` keeps; nil: `RetentionPolicy.defaults`.
    public var retention: RetentionPolicy?

    public init() {}

    public var isEmpty: Bool {
        severityLevels.isEmpty && escalationPolicies.isEmpty && autoEscalationTriggers.isEmpty
            && blastRadiusLevels.isEmpty && containmentStrategies.isEmpty && rollbackStrategies.isEmpty
            && verificationStates.isEmpty && knowledgeBase.isEmpty && rateLimits.isEmpty
            && maintenanceWindows.isEmpty && playbookSelection == nil && retention == nil
    }

    public mutating func merge(_ other: Policies) {
        severityLevels += other.severityLevels
        escalationPolicies += other.escalationPolicies
        autoEscalationTriggers += other.autoEscalationTriggers
        blastRadiusLevels += other.blastRadiusLevels
        containmentStrategies += other.containmentStrategies
        rollbackStrategies += other.rollbackStrategies
        verificationStates += other.verificationStates
        rateLimits += other.rateLimits
        maintenanceWindows += other.maintenanceWindows
        knowledgeBase += other.knowledgeBase
        playbookSelection = other.playbookSelection ?? playbookSelection
        retention = other.retention ?? retention
    }
}

/// `playbook_selection:` (§6.2 `select_playbook` criteria): the weight of each part of a
/// candidate playbook's score. Scores are the weighted mean of the parts (weights need not sum
/// to 1; they are divided by their sum).
public struct PlaybookSelectionPolicy: Sendable, Hashable, Codable {
    /// §6.2's weights.
    public static let reference = PlaybookSelectionPolicy()

    public var successRate: Double
    public var avgExecutionTime: Double
    public var blastRadiusMatch: Double
    public var recency: Double
    /// A success this long ago counts half as recent as one now (default 30 days).
    public var recencyHalfLife: Interval
    public var location: SourceLocation?

    public init(successRate: Double = 0.4, avgExecutionTime: Double = 0.2, blastRadiusMatch: Double = 0.3, recency: Double = 0.1,
                recencyHalfLife: Interval = Interval(seconds: 30 * 86_400), location: SourceLocation? = nil) {
        self.successRate = successRate
        self.avgExecutionTime = avgExecutionTime
        self.blastRadiusMatch = blastRadiusMatch
        self.recency = recency
        self.recencyHalfLife = recencyHalfLife
        self.location = location
    }
}

/// Whether automation may act at a severity (§5.1).
public enum AutoRemediationMode: String, Sendable, Hashable, Codable, CaseIterable {
    case enabled, limited, disabled
}

/// A person or role to notify, and how: `on_call_engineer (phone)`.
public struct NotificationTarget: Sendable, Hashable, Codable {
    public var recipient: String
    public var methods: [String]

    public init(recipient: String, methods: [String]) {
        self.recipient = recipient
        self.methods = methods
    }
}

/// A deadline written either as a duration or as a word (`immediate`, `next_business_day`, `none`).
public enum ResponseTime: Sendable, Hashable, Codable {
    case duration(Interval)
    case word(String)
}

public struct SeverityLevelPolicy: Sendable, Hashable, Codable {
    public var name: String
    public var severity: Severity
    public var description: String?
    public var examples: [String]
    public var responseTime: ResponseTime?
    public var escalation: ResponseTime?
    public var notifications: [NotificationTarget]
    public var autoRemediation: AutoRemediationMode
    /// Actions allowed when `auto_remediation: limited`.
    public var allowedActions: [String]
    public var location: SourceLocation

    public init(name: String, severity: Severity, description: String? = nil, examples: [String] = [],
                responseTime: ResponseTime? = nil, escalation: ResponseTime? = nil, notifications: [NotificationTarget] = [],
                autoRemediation: AutoRemediationMode, allowedActions: [String] = [], location: SourceLocation) {
        self.name = name
        self.severity = severity
        self.description = description
        self.examples = examples
        self.responseTime = responseTime
        self.escalation = escalation
        self.notifications = notifications
        self.autoRemediation = autoRemediation
        self.allowedActions = allowedActions
        self.location = location
    }
}

public struct EscalationPolicy: Sendable, Hashable, Codable {
    public struct Level: Sendable, Hashable, Codable {
        public var level: Int
        public var delay: Interval
        public var condition: String?
        public var notify: String
        public var methods: [String]

        public init(level: Int, delay: Interval, condition: String? = nil, notify: String, methods: [String]) {
            self.level = level
            self.delay = delay
            self.condition = condition
            self.notify = notify
            self.methods = methods
        }
    }

    public var id: String
    public var name: String
    public var appliesTo: [String]
    public var chain: [Level]
    public var location: SourceLocation

    public init(id: String, name: String, appliesTo: [String], chain: [Level], location: SourceLocation) {
        self.id = id
        self.name = name
        self.appliesTo = appliesTo
        self.chain = chain
        self.location = location
    }
}

public enum EscalationAction: Sendable, Hashable, Codable {
    case oneLevel
    case toSeverity(Severity)
}

public struct AutoEscalationTrigger: Sendable, Hashable, Codable {
    public var name: String
    public var condition: Condition
    public var action: EscalationAction
    public var reason: String?
    public var location: SourceLocation

    public init(name: String, condition: Condition, action: EscalationAction, reason: String? = nil, location: SourceLocation) {
        self.name = name
        self.condition = condition
        self.action = action
        self.reason = reason
        self.location = location
    }
}

public enum BlastRadiusAutoRemediation: String, Sendable, Hashable, Codable, CaseIterable {
    case alwaysAllowed = "always_allowed"
    case allowedWithApproval = "allowed_with_approval"
    case restricted
    case disabled
}

public struct BlastRadiusPolicy: Sendable, Hashable, Codable {
    public var level: BlastRadius
    public var description: String?
    public var autoRemediation: BlastRadiusAutoRemediation
    public var approvalRequired: Bool
    /// Conditions under which approval is needed (§7.1 single_service).
    public var approvalRequiredIf: [Precondition]
    public var requireSignOff: [String]
    public var examples: [String]
    public var maxImpact: String?
    public var location: SourceLocation

    public init(level: BlastRadius, description: String? = nil, autoRemediation: BlastRadiusAutoRemediation,
                approvalRequired: Bool = false, approvalRequiredIf: [Precondition] = [], requireSignOff: [String] = [],
                examples: [String] = [], maxImpact: String? = nil, location: SourceLocation) {
        self.level = level
        self.description = description
        self.autoRemediation = autoRemediation
        self.approvalRequired = approvalRequired
        self.approvalRequiredIf = approvalRequiredIf
        self.requireSignOff = requireSignOff
        self.examples = examples
        self.maxImpact = maxImpact
        self.location = location
    }
}

/// A `key: value` item of an ordered list, as the reference writes strategies (`- wait: 5m`).
public struct KeyedItem: Sendable, Hashable, Codable {
    public var key: String
    public var value: String

    public init(key: String, value: String) {
        self.key = key
        self.value = value
    }
}

/// §7.3: circuit_breaker, progressive_rollout, safe_mode, maintenance_window_only and others.
public struct ContainmentStrategy: Sendable, Hashable, Codable {
    public var name: String
    public var description: String?
    public var triggers: [String]
    public var actions: [String]
    public var cooldown: Interval?
    public var strategy: [KeyedItem]
    public var abortOn: Condition?
    public var restrictions: [KeyedItem]
    public var appliesTo: [String]
    public var windows: [String]
    public var location: SourceLocation

    public init(name: String, description: String? = nil, triggers: [String] = [], actions: [String] = [],
                cooldown: Interval? = nil, strategy: [KeyedItem] = [], abortOn: Condition? = nil,
                restrictions: [KeyedItem] = [], appliesTo: [String] = [], windows: [String] = [], location: SourceLocation) {
        self.name = name
        self.description = description
        self.triggers = triggers
        self.actions = actions
        self.cooldown = cooldown
        self.strategy = strategy
        self.abortOn = abortOn
        self.restrictions = restrictions
        self.appliesTo = appliesTo
        self.windows = windows
        self.location = location
    }
}

/// §7.4: immediate, gradual and checkpoint rollback.
public struct RollbackStrategy: Sendable, Hashable, Codable {
    public var name: String
    public var description: String?
    public var triggers: [String]
    public var implementation: [KeyedItem]
    public var verification: [String]
    public var useWhen: [String]
    public var steps: [KeyedItem]
    public var maintains: [String]
    public var procedure: [String]
    public var location: SourceLocation

    public init(name: String, description: String? = nil, triggers: [String] = [], implementation: [KeyedItem] = [],
                verification: [String] = [], useWhen: [String] = [], steps: [KeyedItem] = [], maintains: [String] = [],
                procedure: [String] = [], location: SourceLocation) {
        self.name = name
        self.description = description
        self.triggers = triggers
        self.implementation = implementation
        self.verification = verification
        self.useWhen = useWhen
        self.steps = steps
        self.maintains = maintains
        self.procedure = procedure
        self.location = location
    }
}

/// The outcome of verification (§8.3).
public enum VerificationState: String, Sendable, Hashable, Codable, CaseIterable {
    case success = "SUCCESS"
    case partialSuccess = "PARTIAL_SUCCESS"
    case failed = "FAILED"
    case uncertain = "UNCERTAIN"
}

public struct VerificationStatePolicy: Sendable, Hashable, Codable {
    public var state: VerificationState
    public var description: String?
    public var criteria: [KeyedItem]
    public var actions: [String]
    public var location: SourceLocation

    public init(state: VerificationState, description: String? = nil, criteria: [KeyedItem] = [], actions: [String] = [],
                location: SourceLocation) {
        self.state = state
        self.description = description
        self.criteria = criteria
        self.actions = actions
        self.location = location
    }
}

/// One file of the knowledge base (§9.3) and the fields of its records.
public struct KnowledgeBaseFile: Sendable, Hashable, Codable {
    public struct Field: Sendable, Hashable, Codable {
        public var name: String
        public var type: String

        public init(name: String, type: String) {
            self.name = name
            self.type = type
        }
    }

    public var name: String
    public var file: String
    public var fields: [Field]
    public var location: SourceLocation

    public init(name: String, file: String, fields: [Field], location: SourceLocation) {
        self.name = name
        self.file = file
        self.fields = fields
        self.location = location
    }
}

/// What a rate limit counts: runs of a playbook, runs using an action, or runs on a target.
public enum RateLimitScope: String, Sendable, Hashable, Codable, CaseIterable {
    case playbook, action, target
}

/// At most `maxRuns` runs per `window` for each playbook, action or target `match` selects
/// (a name, or a glob with `*`). Counted from the runs in the state directory.
public struct RateLimitPolicy: Sendable, Hashable, Codable {
    public var name: String
    public var scope: RateLimitScope
    public var match: String
    public var maxRuns: Int
    public var window: Interval
    public var location: SourceLocation

    public init(name: String, scope: RateLimitScope, match: String = "*", maxRuns: Int, window: Interval, location: SourceLocation) {
        self.name = name
        self.scope = scope
        self.match = match
        self.maxRuns = maxRuns
        self.window = window
        self.location = location
    }

    /// Whether `name` (a playbook id, an action name or a target) falls under this limit.
    public func matches(_ name: String) -> Bool {
        Self.glob(match, matches: Substring(name))
    }

    static func glob(_ pattern: String, matches name: Substring) -> Bool {
        guard let star = pattern.firstIndex(of: "*") else { return pattern == name }
        let prefix = pattern[..<star], rest = String(pattern[pattern.index(after: star)...])
        guard name.hasPrefix(prefix) else { return false }
        var tail = name.dropFirst(prefix.count)
        while true {
            if glob(rest, matches: tail) { return true }
            guard !tail.isEmpty else { return false }
            tail = tail.dropFirst()
        }
    }
}

/// A weekly maintenance window: on `days` (1 = Monday ... 7 = Sunday; empty: every day), from
/// `start` (minutes after midnight) for `duration`, in `timeZone` (an IANA name). Actions marked
/// `maintenance_only` run only inside one.
public struct MaintenanceWindow: Sendable, Hashable, Codable {
    public var name: String
    public var days: [Int]
    public var start: Int
    public var duration: Interval
    public var timeZone: String
    public var location: SourceLocation

    public init(name: String, days: [Int], start: Int, duration: Interval, timeZone: String, location: SourceLocation) {
        self.name = name
        self.days = days
        self.start = start
        self.duration = duration
        self.timeZone = timeZone
        self.location = location
    }

    /// Day words and their ISO weekday numbers.
    public static let dayNumbers: [String: Int] = [
        "mon": 1, "monday": 1, "tue": 2, "tuesday": 2, "wed": 3, "wednesday": 3, "thu": 4, "thursday": 4,
        "fri": 5, "friday": 5, "sat": 6, "saturday": 6, "sun": 7, "sunday": 7,
    ]
}
