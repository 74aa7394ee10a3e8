import Foundation
import MedicModel

/// A component's state (reference §2.4, "Health State Calculation"), ordered from best to worst.
/// Its `value` is what the metric `health_state` reads: 0 to 3.
public enum ComponentState: String, Sendable, Hashable, Codable, CaseIterable, Comparable {
    case healthy = "HEALTHY", degraded = "DEGRADED", unhealthy = "UNHEALTHY", critical = "CRITICAL"

    public var value: Int { Self.allCases.firstIndex(of: self) ?? 0 }

    public static func < (a: ComponentState, b: ComponentState) -> Bool { a.value < b.value }

    /// All shallow checks pass: HEALTHY; 1-2 shallow failures: DEGRADED; 3 or more shallow
    /// failures or a deep failure: UNHEALTHY; a comprehensive failure: CRITICAL.
    public static func of(shallowFailures: Int, deepFailures: Int, comprehensiveFailures: Int) -> ComponentState {
        if comprehensiveFailures > 0 { return .critical }
        if shallowFailures >= 3 || deepFailures > 0 { return .unhealthy }
        if shallowFailures > 0 { return .degraded }
        return .healthy
    }

    /// The degradation level this state calls for.
    public var calledLevel: DegradationLevel {
        switch self {
        case .healthy: .full
        case .degraded: .reduced
        case .unhealthy: .minimal
        case .critical: .emergency
        }
    }
}

/// Whether the score goes up, stays, or goes down.
public enum HealthTrend: String, Sendable, Hashable, Codable {
    case improving, stable, declining
}

/// The latest result of one check.
public struct CheckResult: Sendable, Hashable, Codable {
    public var name: String
    public var component: String
    public var tier: HealthTier
    public var passed: Bool
    public var detail: String
    /// When its run ended (RFC 3339).
    public var at: String
    public var attempts: Int
    public var seconds: Double
    public var failureAction: HealthFailureAction

    public init(check: HealthCheckDefinition, outcome: ProbeOutcome, at: Date) {
        name = check.name
        component = check.component
        tier = check.tier
        passed = outcome.passed
        detail = outcome.detail
        self.at = JournalRecord.timestamp(at)
        attempts = outcome.attempts
        seconds = outcome.seconds
        failureAction = check.failureAction
    }

    enum CodingKeys: String, CodingKey {
        case name, component, tier, passed, detail, at, attempts, seconds
        case failureAction = "failure_action"
    }
}

/// One component's health: its state, its score and the checks that fail.
public struct ComponentHealth: Sendable, Hashable, Codable {
    public var component: String
    public var state: ComponentState
    public var score: Int
    public var failing: [String]
}

/// The arithmetic of health: states, scores and trends, from results and times given to it.
public enum HealthAssessment {
    /// What a check weighs in a score: a deep check tests more than a shallow one, a
    /// comprehensive one more than both.
    public static func weight(_ tier: HealthTier) -> Int {
        switch tier {
        case .shallow: 1
        case .deep: 2
        case .comprehensive: 4
        }
    }

    /// 100 × the weight of the checks that pass / the weight of all checks with a result,
    /// rounded down; 100 when no check has a result yet.
    public static func score(_ results: [CheckResult]) -> Int {
        let total = results.reduce(0) { $0 + weight($1.tier) }
        guard total > 0 else { return 100 }
        let passing = results.filter(\.passed).reduce(0) { $0 + weight($1.tier) }
        return passing * 100 / total
    }

    /// Each component's health, sorted by name; a component with no result yet is HEALTHY.
    public static func components(_ results: [CheckResult], names: [String]) -> [ComponentHealth] {
        names.sorted().map { name in
            let own = results.filter { $0.component == name }
            let failed = own.filter { !$0.passed }
            let state = ComponentState.of(shallowFailures: failed.filter { $0.tier == .shallow }.count,
                                          deepFailures: failed.filter { $0.tier == .deep }.count,
                                          comprehensiveFailures: failed.filter { $0.tier == .comprehensive }.count)
            return ComponentHealth(component: name, state: state, score: score(own), failing: failed.map(\.name).sorted())
        }
    }
}

/// The aggregate scores of the last hour (at most 720), for the trend.
public struct ScoreHistory: Sendable, Hashable, Codable {
    public struct Point: Sendable, Hashable, Codable {
        public var at: Date
        public var score: Int
    }

    public private(set) var points: [Point] = []
    /// Seconds a point is kept.
    public var retention: Double = 3600
    public var capacity = 720

    public init() {}

    public mutating func record(_ score: Int, at: Date) {
        points.append(Point(at: at, score: score))
        points.removeAll { at.timeIntervalSince($0.at) > retention }
        if points.count > capacity { points.removeFirst(points.count - capacity) }
    }

    /// The newest score against the oldest one within the last `window` seconds: up by more than
    /// `margin` points is improving, down by more is declining, else stable (also with one point).
    public func trend(now: Date, window: Double = 300, margin: Int = 5) -> HealthTrend {
        guard let newest = points.last,
              let baseline = points.first(where: { now.timeIntervalSince($0.at) <= window }) else { return .stable }
        let change = newest.score - baseline.score
        if change > margin { return .improving }
        if change < -margin { return .declining }
        return .stable
    }
}
