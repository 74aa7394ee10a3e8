/// One incident as `incident-history.jsonl` keeps it: reference §9.1's incident data model, plus
/// the run that handled it (`run_id`, `mode`, Medic's own `run_outcome`) so statistics are exact.
///
/// Written once per run, when the run ends (see docs/knowledge.md). Fields a run cannot know
/// (root cause, users affected, revenue impact, on-call engineer) are optional and left out; a
/// reader must accept any optional field being absent. `v` is the record's version (1).
public struct IncidentRecord: Sendable, Hashable, Codable {
    /// How the incident was noticed (§9.1 `detection.method`).
    public enum DetectionMethod: String, Sendable, Hashable, Codable {
        case anomalyDetection = "anomaly_detection"
        case healthCheck = "health_check"
        case alert
        case manual
    }

    /// Who started the run: a person (`medic run`) or Medic itself (`medic watch`).
    /// `manual`: a person started the run; `automated`: `medic watch` did, for an incident;
    /// `chaos`: it ran as part of a chaos experiment (`medic run --chaos-experiment`) — a test of
    /// the playbook, counted in its figures but not as an incident in the KPIs.
    public enum Mode: String, Sendable, Hashable, Codable {
        case manual, automated, chaos
    }

    /// How the run ended, in the journal's spelling (`run_finished.outcome`).
    public enum RunOutcome: String, Sendable, Hashable, Codable, CaseIterable {
        case succeeded, failed, refused, escalated
        case rolledBack = "rolled_back"
        case rollbackFailed = "rollback_failed"
        case partiallySucceeded = "partially_succeeded"

        /// A run whose steps were attempted: every outcome but `refused` (a gate stopped it, or a
        /// person denied it, before its first step).
        public var attempted: Bool { self != .refused }
        /// The remediation was undone (whether or not the undoing worked).
        public var rolledBack: Bool { self == .rolledBack || self == .rollbackFailed }
    }

    /// §9.1 `remediation.outcome`.
    public enum RemediationOutcome: String, Sendable, Hashable, Codable {
        case success
        case partialSuccess = "partial_success"
        case failed
    }

    /// §9.1 `resolution.resolution_method`.
    public enum ResolutionMethod: String, Sendable, Hashable, Codable {
        case autoRemediation = "auto_remediation"
        case manual
        case rollback
    }

    public struct Detection: Sendable, Hashable, Codable {
        public var method: DetectionMethod
        /// When the incident was detected (a rule's `fired_at`; a manual run's start), RFC 3339.
        public var detectionTime: String
        /// Seconds from the anomaly's first sample to detection; nil when not known (manual runs).
        public var timeToDetect: Double?
        public var initialSeverity: String?
        /// The rule that fired (watched runs).
        public var rule: String?

        public init(method: DetectionMethod, detectionTime: String, timeToDetect: Double? = nil,
                    initialSeverity: String? = nil, rule: String? = nil) {
            self.method = method
            self.detectionTime = detectionTime
            self.timeToDetect = timeToDetect
            self.initialSeverity = initialSeverity
            self.rule = rule
        }

        enum CodingKeys: String, CodingKey {
            case method, rule
            case detectionTime = "detection_time"
            case timeToDetect = "time_to_detect"
            case initialSeverity = "initial_severity"
        }
    }

    public struct Classification: Sendable, Hashable, Codable {
        public var category: String?
        public var rootCause: String?
        public var affectedComponents: [String]
        public var blastRadius: String?

        public init(category: String? = nil, rootCause: String? = nil, affectedComponents: [String] = [], blastRadius: String? = nil) {
            self.category = category
            self.rootCause = rootCause
            self.affectedComponents = affectedComponents
            self.blastRadius = blastRadius
        }

        enum CodingKeys: String, CodingKey {
            case category
            case rootCause = "root_cause"
            case affectedComponents = "affected_components"
            case blastRadius = "blast_radius"
        }
    }

    /// One step of the playbook as the run left it (on one target, in a rollout).
    public struct StepExecuted: Sendable, Hashable, Codable {
        public var step: Int
        public var name: String
        public var target: String?
        /// Its last attempt (implementation, then the action's verification) succeeded.
        public var succeeded: Bool
        public var attempts: Int
        /// Seconds spent in the step: every attempt of its implementation and of the action's
        /// verification, summed (not its waits between retries); absent in older records.
        public var duration: Double?

        public init(step: Int, name: String, target: String? = nil, succeeded: Bool, attempts: Int, duration: Double? = nil) {
            self.step = step
            self.name = name
            self.target = target
            self.succeeded = succeeded
            self.attempts = attempts
            self.duration = duration
        }
    }

    public struct Remediation: Sendable, Hashable, Codable {
        public var playbookID: String
        public var playbookVersion: String
        /// Seconds from the run's start to its end.
        public var executionTime: Double
        public var stepsExecuted: [StepExecuted]
        /// nil for a refused run: nothing was attempted.
        public var outcome: RemediationOutcome?

        public init(playbookID: String, playbookVersion: String, executionTime: Double, stepsExecuted: [StepExecuted],
                    outcome: RemediationOutcome?) {
            self.playbookID = playbookID
            self.playbookVersion = playbookVersion
            self.executionTime = executionTime
            self.stepsExecuted = stepsExecuted
            self.outcome = outcome
        }

        enum CodingKeys: String, CodingKey {
            case outcome
            case playbookID = "playbook_id"
            case playbookVersion = "playbook_version"
            case executionTime = "execution_time"
            case stepsExecuted = "steps_executed"
        }
    }

    public struct Impact: Sendable, Hashable, Codable {
        /// Seconds from detection to the run's end.
        public var duration: Double?
        public var servicesAffected: [String]
        public var usersAffected: Int?

        public init(duration: Double?, servicesAffected: [String] = [], usersAffected: Int? = nil) {
            self.duration = duration
            self.servicesAffected = servicesAffected
            self.usersAffected = usersAffected
        }

        enum CodingKeys: String, CodingKey {
            case duration
            case servicesAffected = "services_affected"
            case usersAffected = "users_affected"
        }
    }

    public struct Resolution: Sendable, Hashable, Codable {
        public var resolutionMethod: ResolutionMethod
        /// Seconds from detection to the run's end, when the run resolved the incident
        /// (`succeeded`); nil otherwise (people resolve it, at a time Medic does not know).
        public var timeToResolution: Double?
        /// The playbook's last verification said SUCCESS (false when none ran).
        public var verificationPassed: Bool

        public init(resolutionMethod: ResolutionMethod, timeToResolution: Double?, verificationPassed: Bool) {
            self.resolutionMethod = resolutionMethod
            self.timeToResolution = timeToResolution
            self.verificationPassed = verificationPassed
        }

        enum CodingKeys: String, CodingKey {
            case resolutionMethod = "resolution_method"
            case timeToResolution = "time_to_resolution"
            case verificationPassed = "verification_passed"
        }
    }

    public struct Metadata: Sendable, Hashable, Codable {
        /// The run was handed to people (an `escalated` record).
        public var escalated: Bool
        /// A gate asked for a person's approval.
        public var approvalRequested: Bool
        /// A person denied the run (`medic deny`).
        public var denied: Bool
        public var environment: String?
        public var host: String?

        public init(escalated: Bool, approvalRequested: Bool = false, denied: Bool = false, environment: String? = nil,
                    host: String? = nil) {
            self.escalated = escalated
            self.approvalRequested = approvalRequested
            self.denied = denied
            self.environment = environment
            self.host = host
        }

        enum CodingKeys: String, CodingKey {
            case escalated, denied, environment, host
            case approvalRequested = "approval_requested"
        }
    }

    public static let version = 1

    public var v: Int
    public var incidentID: String
    /// When the run started, RFC 3339 (the time range of `medic kb stats` filters on it).
    public var timestamp: String
    /// When the run ended, RFC 3339.
    public var endedAt: String
    public var runID: String
    public var mode: Mode
    public var runOutcome: RunOutcome
    public var detection: Detection
    public var classification: Classification
    public var remediation: Remediation
    public var impact: Impact
    public var resolution: Resolution
    public var metadata: Metadata

    public init(incidentID: String, timestamp: String, endedAt: String, runID: String, mode: Mode, runOutcome: RunOutcome,
                detection: Detection, classification: Classification, remediation: Remediation, impact: Impact,
                resolution: Resolution, metadata: Metadata) {
        v = Self.version
        self.incidentID = incidentID
        self.timestamp = timestamp
        self.endedAt = endedAt
        self.runID = runID
        self.mode = mode
        self.runOutcome = runOutcome
        self.detection = detection
        self.classification = classification
        self.remediation = remediation
        self.impact = impact
        self.resolution = resolution
        self.metadata = metadata
    }

    enum CodingKeys: String, CodingKey {
        case v, timestamp, mode, detection, classification, remediation, impact, resolution, metadata
        case incidentID = "incident_id"
        case endedAt = "ended_at"
        case runID = "run_id"
        case runOutcome = "run_outcome"
    }
}
