import Foundation
import MedicModel

/// One alert on Medic's own health (§10.4), raised by a `SelfMonitor` check.
public struct HealthAlert: Sendable, Hashable, Encodable {
    /// The §10.4 alert: `remediation_failure_spike`, `playbook_circuit_breaker_tripped`, `knowledge_base_stale`.
    public var name: String
    /// What the alert is about, for de-duplication: the name, and `name:PLAYBOOK` for a breaker.
    public var key: String
    public var severity: Severity
    /// Who §10.4 says to tell.
    public var notify: [String]
    /// What §10.4 says to do.
    public var action: String
    /// The condition, with this monitor's thresholds.
    public var condition: String
    /// What was seen, for people.
    public var observed: String
    /// The number behind `observed`: a success rate (0...1), an age in seconds; nil when none.
    public var value: Double?
    /// The playbook whose breaker is open (`playbook_circuit_breaker_tripped`).
    public var playbookID: String?
    /// The escalation policy (§5.3) whose `applies_to` names this alert or its severity, and
    /// the `notify` of its chain's first level.
    public var escalationPolicy: String?
    public var escalationNotify: String?

    public init(name: String, key: String, severity: Severity, notify: [String], action: String, condition: String,
                observed: String, value: Double? = nil, playbookID: String? = nil) {
        self.name = name
        self.key = key
        self.severity = severity
        self.notify = notify
        self.action = action
        self.condition = condition
        self.observed = observed
        self.value = value
        self.playbookID = playbookID
    }

    /// The CloudEvent data of `dev.medic.health.alert`.
    var eventData: [String: String] {
        var data = ["alert": name, "key": key, "severity": severity.word, "notify": notify.joined(separator: ","),
                    "action": action, "condition": condition, "observed": observed]
        if let value { data["value"] = HealthFormat.number(value) }
        if let playbookID { data["playbook_id"] = playbookID }
        if let escalationPolicy { data["escalation_policy"] = escalationPolicy }
        if let escalationNotify { data["escalation_notify"] = escalationNotify }
        return data
    }

    private enum CodingKeys: String, CodingKey {
        case name, key, severity, notify, action, condition, observed, value
        case playbookID = "playbook_id"
        case escalationPolicy = "escalation_policy"
        case escalationNotify = "escalation_notify"
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(name, forKey: .name)
        try container.encode(key, forKey: .key)
        try container.encode(severity.word, forKey: .severity)
        try container.encode(notify, forKey: .notify)
        try container.encode(action, forKey: .action)
        try container.encode(condition, forKey: .condition)
        try container.encode(observed, forKey: .observed)
        try container.encodeIfPresent(value, forKey: .value)
        try container.encodeIfPresent(playbookID, forKey: .playbookID)
        try container.encodeIfPresent(escalationPolicy, forKey: .escalationPolicy)
        try container.encodeIfPresent(escalationNotify, forKey: .escalationNotify)
    }
}

/// One health check's verdict: `ok`, `alert` (with its alerts), or `unknown` when it could not
/// be decided (an unreadable knowledge base); an unknown check neither raises nor clears.
public struct HealthCheckResult: Sendable, Hashable, Encodable {
    public enum Verdict: String, Sendable, Hashable, Encodable {
        case ok, alert, unknown
    }

    public var name: String
    public var condition: String
    public var verdict: Verdict
    public var observed: String
    public var value: Double?
    public var alerts: [HealthAlert]

    public init(name: String, condition: String, verdict: Verdict, observed: String, value: Double? = nil, alerts: [HealthAlert] = []) {
        self.name = name
        self.condition = condition
        self.verdict = verdict
        self.observed = observed
        self.value = value
        self.alerts = alerts
    }
}

/// Every check of one `SelfMonitor.report(now:)`.
public struct HealthReport: Sendable, Hashable, Encodable {
    public var checkedAt: Date
    public var checks: [HealthCheckResult]
    /// Things noticed on the way that are not alerts: skipped lines of the incident history.
    public var problems: [String]

    public var alerts: [HealthAlert] { checks.flatMap(\.alerts) }
    public var healthy: Bool { alerts.isEmpty }

    public init(checkedAt: Date, checks: [HealthCheckResult], problems: [String] = []) {
        self.checkedAt = checkedAt
        self.checks = checks
        self.problems = problems
    }

    private enum CodingKeys: String, CodingKey {
        case checkedAt = "checked_at", checks, problems, healthy
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(JournalRecord.timestamp(checkedAt), forKey: .checkedAt)
        try container.encode(healthy, forKey: .healthy)
        try container.encode(checks, forKey: .checks)
        try container.encode(problems, forKey: .problems)
    }
}

/// Numbers and durations as the health checks print them.
enum HealthFormat {
    /// Up to 3 decimals, no trailing zeros: `0.333`, `0.7`, `604801`.
    static func number(_ value: Double) -> String {
        var text = String(format: "%.3f", value)
        while text.hasSuffix("0") { text.removeLast() }
        if text.hasSuffix(".") { text.removeLast() }
        return text
    }

    static func percent(_ rate: Double) -> String { String(format: "%.1f%%", rate * 100) }

    /// `7d 1s`, `30m`, `1h 5m`: the non-zero units, largest first; `0s` for none.
    static func duration(_ seconds: TimeInterval) -> String {
        var left = Int(seconds.rounded(.down))
        var parts: [String] = []
        for (unit, size) in [("d", 86400), ("h", 3600), ("m", 60), ("s", 1)] where left >= size {
            parts.append("\(left / size)\(unit)")
            left %= size
        }
        return parts.isEmpty ? "0s" : parts.joined(separator: " ")
    }
}
