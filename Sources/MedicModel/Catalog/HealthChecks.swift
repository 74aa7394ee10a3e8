/// The three tiers of health checks (reference §2.1-§2.3), with the defaults of the decision
/// matrix (§2.4): how often each runs, how long it may take, how often a failure is retried at
/// once before it counts, and what a failure that counts calls for.
public enum HealthTier: String, Sendable, Hashable, Codable, CaseIterable {
    case shallow, deep, comprehensive

    /// The key of the file that lists this tier's checks.
    public var fileKey: String { rawValue + "_checks" }

    /// Seconds between two runs: the slow end of each range of §2.4 (5-10 s, 30-60 s, 5-15 min).
    public var defaultInterval: Double {
        switch self {
        case .shallow: 10
        case .deep: 60
        case .comprehensive: 900
        }
    }

    /// Seconds one attempt may take: the top of each range of §2.4 (<100 ms, 100 ms-5 s, 5-30 s).
    public var defaultTimeout: Double {
        switch self {
        case .shallow: 0.1
        case .deep: 5
        case .comprehensive: 30
        }
    }

    /// Attempts after the first before a failure counts: "Retry 3x", "Retry 2x", none.
    public var defaultRetries: Int {
        switch self {
        case .shallow: 3
        case .deep: 2
        case .comprehensive: 0
        }
    }

    public var defaultFailureAction: HealthFailureAction {
        switch self {
        case .shallow: .escalate
        case .deep: .remediate
        case .comprehensive: .alert
        }
    }
}

/// What a check's failure calls for (§2.4's last column). Medic says it on the bus with the
/// failure; the component's state (and the rules over it) decide what runs.
public enum HealthFailureAction: String, Sendable, Hashable, Codable, CaseIterable {
    case escalate, remediate, alert
}

/// One health check as a health checks file defines it.
public struct HealthCheckDefinition: Sendable, Hashable {
    /// What the check looks at, and how.
    public enum Probe: Sendable, Hashable {
        /// A request whose answer must have one of `statuses`, contain `bodyContains` when given,
        /// and come within `maxLatency` seconds when given.
        case http(url: String, method: String, statuses: [Int], bodyContains: String?, maxLatency: Double?)
        /// A TCP connection that opens within the timeout.
        case tcp(host: String, port: Int)
        /// A process that runs: the pid in `pidFile`, or any process whose name is `name`.
        case process(name: String, pidFile: String?)
        /// A shell command that exits 0 within the timeout.
        case command(String)
        /// Metric readings that each satisfy their bound (`cpu_usage: <90%`).
        case metrics([MetricBound])
        /// A statement (`SELECT 1`) answered by a PostgreSQL server at `url` (postgres://...).
        case postgres(url: String, statement: String)
        /// A check the file defines that Medic does not run, and why (a redis check, a workflow
        /// of named steps): loaded, listed, never counted in a state.
        case notRun(String)
    }

    /// One metric of a metrics check: `selector` is its name, with `path="/"` for `disk_space`.
    public struct MetricBound: Sendable, Hashable {
        public var key: String
        public var metric: String
        public var labels: [String: String]
        public var bound: Bound

        public init(key: String, metric: String, labels: [String: String] = [:], bound: Bound) {
            self.key = key
            self.metric = metric
            self.labels = labels
            self.bound = bound
        }
    }

    public var name: String
    public var tier: HealthTier
    public var component: String
    public var probe: Probe
    /// Seconds between two runs.
    public var interval: Double
    /// Seconds one attempt may take.
    public var timeout: Double
    /// Attempts after the first before a failure counts.
    public var retries: Int
    public var failureAction: HealthFailureAction
    public var description: String?
    public var location: SourceLocation

    public init(name: String, tier: HealthTier, component: String, probe: Probe, interval: Double? = nil, timeout: Double? = nil,
                retries: Int? = nil, failureAction: HealthFailureAction? = nil, description: String? = nil,
                location: SourceLocation = SourceLocation(file: "")) {
        self.name = name
        self.tier = tier
        self.component = component
        self.probe = probe
        self.interval = interval ?? tier.defaultInterval
        self.timeout = timeout ?? tier.defaultTimeout
        self.retries = retries ?? tier.defaultRetries
        self.failureAction = failureAction ?? tier.defaultFailureAction
        self.description = description
        self.location = location
    }

    public var runs: Bool {
        if case .notRun = probe { return false }
        return true
    }
}

/// The levels of graceful degradation, from everything on to the least Medic does on its own.
public enum DegradationLevel: String, Sendable, Hashable, Codable, CaseIterable, Comparable {
    case full, reduced, minimal, emergency

    public var rank: Int { Self.allCases.firstIndex(of: self) ?? 0 }

    public static func < (a: DegradationLevel, b: DegradationLevel) -> Bool { a.rank < b.rank }
}

/// Something Medic does that a degradation level switches off: on at every level below
/// `offFrom`, and only while every feature it `dependsOn` is on. An automated run of a playbook
/// in `playbooks` needs it.
public struct DegradationFeature: Sendable, Hashable, Codable {
    public var name: String
    public var offFrom: DegradationLevel
    public var dependsOn: [String]
    public var playbooks: [String]

    public init(name: String, offFrom: DegradationLevel, dependsOn: [String] = [], playbooks: [String] = []) {
        self.name = name
        self.offFrom = offFrom
        self.dependsOn = dependsOn
        self.playbooks = playbooks
    }

    enum CodingKeys: String, CodingKey {
        case name, playbooks
        case offFrom = "off_from"
        case dependsOn = "depends_on"
    }

    /// The features Medic itself consults (docs/health.md): comprehensive checks "may impact
    /// production", so they stop first; automated runs of non-critical severities stop at
    /// `minimal`; every automated run stops at `emergency`.
    public static let builtIn: [DegradationFeature] = [
        DegradationFeature(name: "comprehensive_checks", offFrom: .reduced),
        DegradationFeature(name: "automated_remediation", offFrom: .emergency),
        DegradationFeature(name: "automated_remediation_noncritical", offFrom: .minimal, dependsOn: ["automated_remediation"]),
    ]
}

/// How degradation follows health.
public struct DegradationSettings: Sendable, Hashable {
    /// Seconds a better level must be called for without a break before Medic steps up to it,
    /// one level at a time (hysteresis: a flapping check does not flap the level).
    public var recoverAfter: Double
    /// The built-in features, then the file's.
    public var features: [DegradationFeature]

    public init(recoverAfter: Double = 120, features: [DegradationFeature] = DegradationFeature.builtIn) {
        self.recoverAfter = recoverAfter
        self.features = features
    }
}

/// A health checks file: its checks in file order (shallow, then deep, then comprehensive as the
/// file lists them) and its degradation settings.
public struct HealthChecksFile: Sendable, Hashable {
    public var checks: [HealthCheckDefinition]
    public var degradation: DegradationSettings

    public init(checks: [HealthCheckDefinition], degradation: DegradationSettings = DegradationSettings()) {
        self.checks = checks
        self.degradation = degradation
    }

    /// The components the checks name, sorted.
    public var components: [String] { Array(Set(checks.map(\.component))).sorted() }
}
