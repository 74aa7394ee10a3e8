/// The hosts or instances Medic may remediate, with their labels and groups: the file given with
/// `--inventory` (docs/format.md#inventory).
public struct Inventory: Sendable, Hashable, Codable {
    public struct Host: Sendable, Hashable, Codable {
        public var name: String
        public var labels: [String: String]
        /// The groups the host names itself, and those whose `hosts` name it.
        public var groups: [String]

        public init(name: String, labels: [String: String] = [:], groups: [String] = []) {
            self.name = name
            self.labels = labels
            self.groups = groups
        }
    }

    public struct Group: Sendable, Hashable, Codable {
        public var name: String
        /// Given to every member that has no label of that name.
        public var labels: [String: String]

        public init(name: String, labels: [String: String] = [:]) {
            self.name = name
            self.labels = labels
        }
    }

    /// In file order.
    public var hosts: [Host]
    public var groups: [Group]

    public init(hosts: [Host], groups: [Group] = []) {
        self.hosts = hosts
        self.groups = groups
    }

    /// The targets: every host (none of `groups` given) or the members of any of `groups`, in
    /// file order, each with its own labels, then its groups' labels, then `group` (its first group).
    public func targets(inGroups wanted: [String] = []) -> [TargetSpec] {
        let labelsOf = Dictionary(groups.map { ($0.name, $0.labels) }, uniquingKeysWith: { first, _ in first })
        return hosts.filter { wanted.isEmpty || !Set($0.groups).isDisjoint(with: wanted) }.map { host in
            var labels = host.labels
            for group in host.groups {
                labels.merge(labelsOf[group] ?? [:]) { own, _ in own }
            }
            if let first = host.groups.first, labels["group"] == nil { labels["group"] = first }
            return TargetSpec(name: host.name, labels: labels)
        }
    }
}
