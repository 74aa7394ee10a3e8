import MedicModel

/// What the rule engine says about a sample (`RuleEngine.ingest`) or the passing of time
/// (`RuleEngine.advance(to:)`). Each is said once, at the transition, never for every sample.
public enum RuleEvent: Sendable, Hashable {
    /// A series became anomalous and the rule's `for` has not passed yet.
    case pending(PendingAnomaly)
    /// A new incident: the anomaly lasted the rule's `for`, no incident of its key was active and
    /// the key was not cooling down. This is what starts a playbook.
    case firing(Incident)
    /// An incident ended: every series of its key had been normal for the engine's
    /// `resolveAfter`. The incident carries its final tally and `resolvedAt`.
    case resolved(Incident)
    /// A series started firing but no incident was opened: one of its key is active (the firing
    /// is folded into it), or the key is cooling down.
    case suppressed(Suppression)

    /// The rule the event is about.
    public var rule: String {
        switch self {
        case .pending(let p): p.rule
        case .firing(let i), .resolved(let i): i.rule
        case .suppressed(let s): s.rule
        }
    }
}

/// An anomaly waiting out its rule's `for`.
public struct PendingAnomaly: Sendable, Hashable, Codable {
    public var rule: String
    public var incidentKey: String
    public var seriesKey: String
    public var metric: String
    public var labels: [String: String]
    /// The time of the sample that started the anomaly.
    public var since: Double
    public var value: Double
    public var score: Double
}

/// A firing that did not open an incident, and why.
public struct Suppression: Sendable, Hashable, Codable {
    public enum Reason: Sendable, Hashable, Codable {
        /// An incident of the same key is active; the firing was folded into it (its `firings`
        /// count grew).
        case alreadyFiring
        /// An incident of the same key resolved less than the rule's `cooldown` ago; a firing
        /// that lasts past `until` opens an incident then.
        case cooldown(until: Double)
    }

    public var rule: String
    public var incidentKey: String
    public var seriesKey: String
    public var time: Double
    public var value: Double
    public var reason: Reason
}

/// An anomaly that lasted its rule's `for`: what `medic watch` hands to the gates and the
/// interpreter, and what `medic backtest` reports.
///
/// The fields up to `firedAt` describe the firing that opened the incident; `firings`,
/// `lastValue`, `lastSeen`, `peakValue` and `peakScore` grow while it is active (the engine
/// keeps them; `RuleEngine.activeIncidents` and the `.resolved` event show them), and
/// `resolvedAt` is set when it resolves.
public struct Incident: Sendable, Hashable, Codable {
    /// The rule's name; a playbook trigger's rule is `trigger:<playbook id>`.
    public var rule: String
    /// One active incident per key: the rule name and its `group_by` labels' values
    /// (`disk-filling{host="a"}`), or the series key when the rule has no `group_by`; for a
    /// compound trigger condition, the rule name.
    public var incidentKey: String
    /// The series whose sample opened the incident.
    public var seriesKey: String
    public var metric: String
    public var labels: [String: String]
    /// The value and detector score of the sample that opened the incident.
    public var value: Double
    public var score: Double
    public var severity: Severity
    public var playbook: String?
    /// The other playbooks the rule lists after `playbook` (candidates ranked with it).
    public var alternatives: [String] = []
    /// The playbook's parameters: the rule's `parameters` as written, then each
    /// `parameters_from_labels` entry (parameter ← the series' label, as unquoted text so that
    /// the playbook's declared type reads it; a label the series lacks gives no parameter).
    public var parameters: [String: StepArgument.RawValue]
    /// When the anomaly began: the first anomalous sample of the episode that fired.
    public var firstSeen: Double
    /// When the incident opened: the sample that completed the rule's `for`.
    public var firedAt: Double
    /// Firings counted into this incident: 1, plus each series of the key that started firing
    /// again while it was active.
    public var firings: Int
    public var lastValue: Double
    /// The time of the last firing sample.
    public var lastSeen: Double
    /// The most anomalous firing sample (highest score; the first of equals).
    public var peakValue: Double
    public var peakScore: Double
    /// When the last firing series of the key went back to normal (set once resolved).
    public var resolvedAt: Double?

    /// Every playbook the rule names for it, in the order written.
    public var playbooks: [String] { (playbook.map { [$0] } ?? []) + alternatives }
}
