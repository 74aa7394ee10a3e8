import Foundation
import MedicModel

/// The health of the systems after one round of checks: what `medic status` prints, the web
/// page shows and the metrics read. Kept in `<state>/health-checks/status.json`.
public struct HealthSnapshot: Sendable, Hashable, Codable {
    /// A check the file defines that Medic does not run.
    public struct NotRun: Sendable, Hashable, Codable {
        public var name: String
        public var tier: HealthTier
        public var component: String
        public var reason: String
    }

    /// A feature at the most degraded level in force.
    public struct Feature: Sendable, Hashable, Codable {
        public var name: String
        public var on: Bool
        public var offFrom: DegradationLevel
        public var dependsOn: [String]
        public var playbooks: [String]

        enum CodingKeys: String, CodingKey {
            case name, on, playbooks
            case offFrom = "off_from"
            case dependsOn = "depends_on"
        }
    }

    public var checkedAt: String
    /// 0-100 over every check with a result (HealthAssessment.score).
    public var score: Int
    public var trend: HealthTrend
    public var components: [ComponentHealth]
    public var checks: [CheckResult]
    public var notRun: [NotRun]
    public var degradation: [DegradationState.Effective]
    public var features: [Feature]
    /// What went wrong around the checks: an event the bus refused, a state file not written.
    public var problems: [String]

    enum CodingKeys: String, CodingKey {
        case score, trend, components, checks, degradation, features, problems
        case checkedAt = "checked_at"
        case notRun = "not_run"
    }

    public static func path(_ stateDirectory: String) -> String {
        (stateDirectory as NSString).appendingPathComponent("health-checks/status.json")
    }

    /// The snapshot the last round saved in the state directory, if any.
    public static func load(_ stateDirectory: String) -> HealthSnapshot? {
        guard let data = FileManager.default.contents(atPath: path(stateDirectory)) else { return nil }
        return try? JSONDecoder().decode(HealthSnapshot.self, from: data)
    }

    public func state(of component: String) -> ComponentState? { components.first { $0.component == component }?.state }

    /// This snapshot with the levels in force now in `stateDirectory` (an override set since the
    /// round counts) and the features at the most degraded of them.
    public func degradationNow(in stateDirectory: String) -> HealthSnapshot {
        var copy = self
        (copy.degradation, copy.features) = Self.degradation(DegradationState.load(stateDirectory), overrides: DegradationState.overrides(stateDirectory))
        return copy
    }

    static func degradation(_ state: DegradationState, overrides: [String: DegradationOverride]) -> ([DegradationState.Effective], [Feature]) {
        let effective = state.effectiveAll(overrides: overrides)
        let on = DegradationFeatures.on(state.features, at: effective.map(\.level).max() ?? .full)
        return (effective, state.features.map {
            Feature(name: $0.name, on: on[$0.name] ?? false, offFrom: $0.offFrom, dependsOn: $0.dependsOn, playbooks: $0.playbooks)
        })
    }
}

/// The latest snapshot, shared with readers that cannot wait (a scrape, a rule's reading).
public final class HealthSnapshotBox: @unchecked Sendable {  // `value` only under `lock`
    private let lock = NSLock()
    private var value: HealthSnapshot?

    public init() {}

    public var latest: HealthSnapshot? {
        get { lock.withLock { value } }
        set { lock.withLock { value = newValue } }
    }
}

/// The health of the systems as metrics that anomaly rules read (`medic serve`): `health_state`
/// by `component` (0 HEALTHY, 1 DEGRADED, 2 UNHEALTHY, 3 CRITICAL), `health_score` (the
/// aggregate), `health_component_score` by `component`, `health_check_up` by `check` (1 or 0) and
/// `degradation_level` by `system` (0 full to 3 emergency). Each also answers with the `medic_`
/// prefix that `/metrics` gives it. No snapshot yet: no such series.
public struct HealthMetricSource: MetricSource {
    public static let names = ["health_state", "health_score", "health_component_score", "health_check_up", "degradation_level"]
    public static let patterns = names + names.map { "medic_" + $0 }
    let box: HealthSnapshotBox

    public init(_ box: HealthSnapshotBox) { self.box = box }

    public func value(of selector: MetricSelector) async throws -> MetricValue? {
        guard let snapshot = box.latest else { return nil }
        let labels = selector.equalityLabels
        let name = selector.name.hasPrefix("medic_") ? String(selector.name.dropFirst(6)) : selector.name
        switch name {
        case "health_state":
            return labels["component"].flatMap(snapshot.state(of:)).map { .number(Double($0.value)) }
        case "health_score":
            return .number(Double(snapshot.score))
        case "health_component_score":
            return labels["component"].flatMap { component in snapshot.components.first { $0.component == component } }
                .map { .number(Double($0.score)) }
        case "health_check_up":
            return labels["check"].flatMap { check in snapshot.checks.first { $0.name == check } }.map { .number($0.passed ? 1 : 0) }
        case "degradation_level":
            return labels["system"].flatMap { system in snapshot.degradation.first { $0.system == system } }.map { .number(Double($0.level.rank)) }
        default:
            return nil
        }
    }
}

extension MetricRegistry {
    /// This registry with `source` serving `patterns` before every other source.
    public func serving(_ patterns: [String], from source: any MetricSource) -> MetricRegistry {
        MetricRegistry(entries: [Entry(name: "health", patterns: patterns, source: source)] + entries, host: host, sourcesFile: sourcesFile)
    }

    private init(entries: [Entry], host: any MetricSource, sourcesFile: String?) {
        self.entries = entries
        self.host = host
        self.sourcesFile = sourcesFile
    }
}
