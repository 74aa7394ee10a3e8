/// Everything loaded from a set of files: the input to planning. A catalog whose load
/// produced errors is never executed.
public struct Catalog: Sendable, Hashable, Codable {
    public var playbooks: [Playbook] = []
    public var actions: [Action] = []
    public var rules: [AnomalyRule] = []
    public var policies = Policies()
    /// The files read, in the order they were read.
    public var files: [String] = []

    public init() {}

    public func playbook(id: String) -> Playbook? { playbooks.first { $0.id == id } }
    public func action(named name: String) -> Action? { actions.first { $0.name == name } }
}
