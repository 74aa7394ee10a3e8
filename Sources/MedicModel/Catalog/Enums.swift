/// Incident severity (§5.1). Playbooks write `critical high medium low info`; rules and
/// policies write `SEV0`..`SEV3` or the long names (`SEV1_HIGH`). Both spellings mean the same.
public enum Severity: Int, Sendable, Hashable, Codable, CaseIterable, Comparable, CustomStringConvertible {
    // Raw value orders by urgency: SEV0 is the most severe.
    case sev0 = 0, sev1 = 1, sev2 = 2, sev3 = 3, info = 4

    public init?(text: String) {
        let t = text.lowercased()
        switch t {
        case "critical", "sev0": self = .sev0
        case "high", "sev1": self = .sev1
        case "medium", "sev2": self = .sev2
        case "low", "sev3": self = .sev3
        case "info": self = .info
        default:
            // Long names such as SEV1_HIGH: the SEVn prefix decides.
            guard t.hasPrefix("sev"), let underscore = t.firstIndex(of: "_"),
                  let level = Severity(text: String(t[..<underscore])), level != .info else { return nil }
            self = level
        }
    }

    public static let spellings = ["critical", "high", "medium", "low", "info", "SEV0", "SEV1", "SEV2", "SEV3"]

    /// Ordered by urgency: a less severe level compares lower (`.sev2 < .sev1`, `.info < .sev3`),
    /// which is what a policy condition such as `severity < SEV1` means.
    public static func < (a: Severity, b: Severity) -> Bool { a.rawValue > b.rawValue }

    public var code: String { self == .info ? "info" : "SEV\(rawValue)" }
    public var word: String { ["critical", "high", "medium", "low", "info"][rawValue] }
    public var description: String { code }
}

/// How far a remediation reaches (§7.1).
public enum BlastRadius: String, Sendable, Hashable, Codable, CaseIterable, Comparable {
    case singleInstance = "single_instance"
    case singleService = "single_service"
    case multipleServices = "multiple_services"
    case clusterWide = "cluster_wide"
    case multiRegion = "multi_region"

    /// Spellings the reference uses beside the level names (§3.1 writes `single_host`).
    public static let aliases: [String: BlastRadius] = [
        "single_host": .singleInstance, "single_pod": .singleInstance, "single_container": .singleInstance,
        "single_vm": .singleInstance, "multi_service": .multipleServices, "cluster": .clusterWide,
        "global": .multiRegion,
    ]

    public init?(text: String) {
        if let level = BlastRadius(rawValue: text) ?? Self.aliases[text] { self = level } else { return nil }
    }

    public static var spellings: [String] { allCases.map(\.rawValue) + aliases.keys.sorted() }

    private var rank: Int { Self.allCases.firstIndex(of: self)! }
    public static func < (a: BlastRadius, b: BlastRadius) -> Bool { a.rank < b.rank }
}

public enum RiskLevel: String, Sendable, Hashable, Codable, CaseIterable, Comparable {
    case low, medium, high, critical

    private var rank: Int { Self.allCases.firstIndex(of: self)! }
    public static func < (a: RiskLevel, b: RiskLevel) -> Bool { a.rank < b.rank }
}

/// The playbook categories of §3.2, also the `type` of an action (§4).
public enum Category: String, Sendable, Hashable, Codable, CaseIterable {
    case infrastructure, kubernetes, application, database, network
}

/// What carries out an action.
public enum ExecutorKind: String, Sendable, Hashable, Codable, CaseIterable {
    case shell, bus, http
}

public enum FailurePolicy: String, Sendable, Hashable, Codable, CaseIterable {
    case abort, `continue`, rollback
}

public enum Backoff: String, Sendable, Hashable, Codable, CaseIterable {
    case exponential, linear, jittered
}

/// The kinds of file Medic loads.
public enum FileKind: String, Sendable, Hashable, Codable, CaseIterable {
    case playbook, actions, rules, policies
}
