/// What a remembered action does, when it is one the systems around Medic carry out themselves
/// (seed-systems §1): each type is published on the bus on its own topic, and the system that
/// owns that topic (a plugin host, a load balancer, an autoscaler …) carries it out. An action
/// without a type is a step of a playbook, carried out by running that playbook.
///
/// The raw values are the seed's names (`RestartPlugin` …), as `medic memory learn` reads them
/// and `immune-memory.json` stores them.
public enum RemediationActionType: String, Sendable, Hashable, Codable, CaseIterable {
    case restartPlugin = "RestartPlugin"
    case tripCircuitBreaker = "TripCircuitBreaker"
    case drainConnections = "DrainConnections"
    case scaleDown = "ScaleDown"
    case isolateNode = "IsolateNode"
    case rerouteTraffic = "RerouteTraffic"
    case restoreFromCheckpoint = "RestoreFromCheckpoint"
    case notifyOperator = "NotifyOperator"
    case custom = "Custom"

    /// The bus topic (the CloudEvent `type`) the action is published on.
    public var topic: String {
        switch self {
        case .restartPlugin: "plugin.lifecycle.restart"
        case .tripCircuitBreaker: "resilience.circuit-breaker.trip"
        case .drainConnections: "connectivity.drain"
        case .scaleDown: "cluster.autoscale.down"
        case .isolateNode: "cluster.node.isolate"
        case .rerouteTraffic: "loadbalancer.reroute"
        case .restoreFromCheckpoint: "disaster-recovery.restore-checkpoint"
        case .notifyOperator: "observability.alert.operator"
        case .custom: "chaos.remediation.custom"
        }
    }

    /// The type published on `topic`; nil for a topic that is none of the nine.
    public init?(topic: String) {
        guard let type = Self.allCases.first(where: { $0.topic == topic }) else { return nil }
        self = type
    }
}

extension RemediationActionType {
    /// The keys of a published action's data that say what the cure is (`ImmuneCure` fills them);
    /// an action's own `parameters` may not use them, so an owner never reads one for the other.
    public static let cureDataKeys: Set<String> = [
        "cure_id", "action_type", "signature_id", "fault_type", "components", "pattern", "playbook_id", "action", "priority", "timeout",
    ]
}
