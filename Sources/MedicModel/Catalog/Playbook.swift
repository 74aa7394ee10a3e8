/// A remediation playbook (§3.1), one per file.
public struct Playbook: Sendable, Hashable, Codable {
    public var id: String
    public var name: String
    public var version: String
    public var description: String?
    public var category: Category
    public var severity: Severity
    public var trigger: Trigger?
    public var preconditions: [Precondition]
    public var parameters: [ParameterSpec]
    public var targets: [TargetSpec]?
    public var rollout: RolloutPolicy?
    public var steps: [RemediationStep]
    public var verification: Verification?
    public var rollback: RollbackPlan?
    public var escalation: Escalation?
    public var safety: Safety
    public var metadata: PlaybookMetadata
    /// Where the playbook was read from.
    public var location: SourceLocation

    public init(id: String, name: String, version: String, description: String? = nil, category: Category,
                severity: Severity, trigger: Trigger? = nil, preconditions: [Precondition] = [],
                parameters: [ParameterSpec] = [], targets: [TargetSpec]? = nil, rollout: RolloutPolicy? = nil,
                steps: [RemediationStep], verification: Verification? = nil, rollback: RollbackPlan? = nil,
                escalation: Escalation? = nil, safety: Safety = Safety(), metadata: PlaybookMetadata = PlaybookMetadata(),
                location: SourceLocation) {
        self.id = id
        self.name = name
        self.version = version
        self.description = description
        self.category = category
        self.severity = severity
        self.trigger = trigger
        self.preconditions = preconditions
        self.parameters = parameters
        self.targets = targets
        self.rollout = rollout
        self.steps = steps
        self.verification = verification
        self.rollback = rollback
        self.escalation = escalation
        self.safety = safety
        self.metadata = metadata
        self.location = location
    }
}

public struct Trigger: Sendable, Hashable, Codable {
    public var condition: Condition
    /// How long the condition must hold before the playbook fires (Prometheus `for:`).
    public var duration: Interval?

    public init(condition: Condition, duration: Interval? = nil) {
        self.condition = condition
        self.duration = duration
    }
}

/// A check that must hold before remediation starts.
public enum Precondition: Sendable, Hashable, Codable {
    /// A named check Medic carries out (`writable_filesystem`), with an optional expected value.
    case check(name: String, expected: ParameterValue?)
    case condition(Condition)
}

/// A target of a remediation: a host, instance or service, with labels (service, cluster, region).
public struct TargetSpec: Sendable, Hashable, Codable {
    public var name: String
    public var labels: [String: String]

    public init(name: String, labels: [String: String] = [:]) {
        self.name = name
        self.labels = labels
    }
}

public enum RolloutStageSize: Sendable, Hashable, Codable, CustomStringConvertible {
    case percentage(Double)
    case count(Int)
    case all

    public var description: String {
        switch self {
        case .percentage(let p): "\(Interval.trim(p))%"
        case .count(let n): String(n)
        case .all: "all"
        }
    }
}

/// How a playbook is applied across many targets (reserved for the rollout issue).
public struct RolloutPolicy: Sendable, Hashable, Codable {
    public var stages: [RolloutStageSize]
    public var wait: Interval?
    public var verify: Condition?
    public var abortOn: Condition?
    public var maxConcurrency: Int?
    public var maxFailPercentage: Double?
    public var order: String?
    public var seed: Int?

    public static let defaultStages: [RolloutStageSize] = [.percentage(1), .percentage(10), .percentage(50), .percentage(100)]

    public init(stages: [RolloutStageSize] = RolloutPolicy.defaultStages, wait: Interval? = nil, verify: Condition? = nil,
                abortOn: Condition? = nil, maxConcurrency: Int? = nil, maxFailPercentage: Double? = nil,
                order: String? = nil, seed: Int? = nil) {
        self.stages = stages
        self.wait = wait
        self.verify = verify
        self.abortOn = abortOn
        self.maxConcurrency = maxConcurrency
        self.maxFailPercentage = maxFailPercentage
        self.order = order
        self.seed = seed
    }
}

public struct RetryPolicy: Sendable, Hashable, Codable {
    public var attempts: Int
    public var backoff: Backoff
    public var initial: Interval
    public var max: Interval?

    public init(attempts: Int, backoff: Backoff = .exponential, initial: Interval = Interval(seconds: 1), max: Interval? = nil) {
        self.attempts = attempts
        self.backoff = backoff
        self.initial = initial
        self.max = max
    }
}

/// One step of a playbook: an action from the library with its parameter values.
public struct RemediationStep: Sendable, Hashable, Codable {
    public var number: Int
    public var name: String
    public var action: String
    public var timeout: Interval?
    public var expectedRecovery: Percentage?
    public var onFailure: FailurePolicy
    /// nil: the action's own setting (default true).
    public var idempotent: Bool?
    public var retry: RetryPolicy?
    /// Parameter values given by the step, inline or under `parameters:`, in file order.
    public var arguments: [StepArgument]
    public var location: SourceLocation

    public init(number: Int, name: String, action: String, timeout: Interval? = nil, expectedRecovery: Percentage? = nil,
                onFailure: FailurePolicy = .abort, idempotent: Bool? = nil, retry: RetryPolicy? = nil,
                arguments: [StepArgument] = [], location: SourceLocation) {
        self.number = number
        self.name = name
        self.action = action
        self.timeout = timeout
        self.expectedRecovery = expectedRecovery
        self.onFailure = onFailure
        self.idempotent = idempotent
        self.retry = retry
        self.arguments = arguments
        self.location = location
    }
}

/// A parameter value a step gives its action. The raw form is kept so that the catalog pass can
/// type it against the action's declaration, which the file alone does not know.
public struct StepArgument: Sendable, Hashable, Codable {
    public var name: String
    public var value: RawValue
    public var location: SourceLocation

    /// A value as written: a scalar's text (with whether it was quoted) or a list of them.
    public indirect enum RawValue: Sendable, Hashable, Codable {
        case scalar(String, quoted: Bool)
        case list([RawValue])
        case map([String: RawValue])
    }

    public init(name: String, value: RawValue, location: SourceLocation) {
        self.name = name
        self.value = value
        self.location = location
    }
}

public struct Verification: Sendable, Hashable, Codable {
    public var check: Condition
    public var waitTime: Interval?
    public var retry: Int?
    public var window: Interval?
    public var consecutiveChecks: Int?
    public var interval: Interval?

    public init(check: Condition, waitTime: Interval? = nil, retry: Int? = nil, window: Interval? = nil,
                consecutiveChecks: Int? = nil, interval: Interval? = nil) {
        self.check = check
        self.waitTime = waitTime
        self.retry = retry
        self.window = window
        self.consecutiveChecks = consecutiveChecks
        self.interval = interval
    }
}

public struct RollbackPlan: Sendable, Hashable, Codable {
    public var available: Bool
    public var reason: String?
    public var steps: [RemediationStep]

    public init(available: Bool, reason: String? = nil, steps: [RemediationStep] = []) {
        self.available = available
        self.reason = reason
        self.steps = steps
    }
}

public struct Escalation: Sendable, Hashable, Codable {
    public var onFailure: Bool
    public var notify: [String]
    public var createIncident: Bool
    /// Id of an escalation policy (§5.3).
    public var policy: String?
    public var policyLocation: SourceLocation?

    public init(onFailure: Bool = true, notify: [String] = [], createIncident: Bool = false, policy: String? = nil,
                policyLocation: SourceLocation? = nil) {
        self.onFailure = onFailure
        self.notify = notify
        self.createIncident = createIncident
        self.policy = policy
        self.policyLocation = policyLocation
    }
}

public struct Safety: Sendable, Hashable, Codable {
    public var maxRetries: Int?
    public var requireApproval: Bool
    public var blastRadius: BlastRadius?

    public init(maxRetries: Int? = nil, requireApproval: Bool = false, blastRadius: BlastRadius? = nil) {
        self.maxRetries = maxRetries
        self.requireApproval = requireApproval
        self.blastRadius = blastRadius
    }
}

/// Free-form metadata; the keys the reference uses are typed, the rest kept as text.
public struct PlaybookMetadata: Sendable, Hashable, Codable {
    public var lastUpdated: String?
    public var successRate: Double?
    public var avgExecutionTime: Interval?
    public var totalExecutions: Int?
    public var owner: String?
    public var tags: [String]
    public var other: [String: String]

    public init(lastUpdated: String? = nil, successRate: Double? = nil, avgExecutionTime: Interval? = nil,
                totalExecutions: Int? = nil, owner: String? = nil, tags: [String] = [], other: [String: String] = [:]) {
        self.lastUpdated = lastUpdated
        self.successRate = successRate
        self.avgExecutionTime = avgExecutionTime
        self.totalExecutions = totalExecutions
        self.owner = owner
        self.tags = tags
        self.other = other
    }
}
