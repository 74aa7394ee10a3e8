import Foundation
import MedicLoader
import MedicModel

/// The escalation part of `medic serve --config` (docs/escalation.md):
///
/// ```yaml
/// escalation:
///   policies: {SEV0: policy_001, SEV1: policy_001, SEV2: policy_002}  # severity: policy of the library
///   severity_levels: true    # §5.1's notifications and deadlines of the library's severity levels (default)
/// channels:                                    # a method of the policies' levels: where it goes
///   phone_call: {type: webhook, url: "http://pager.example/hook", timeout: 5s}   # per attempt
///   slack: {type: slack, url: "https://hooks.slack.com/services/..."}
///   pagerduty: {type: pagerduty, routing_key: "R0UT1NGKEY", url: "https://events.pagerduty.com/v2/enqueue"}
///   email: {type: email, command: /usr/sbin/sendmail, to: [oncall@example.com]}
///   sms: {type: bus}                           # a CloudEvent on the engine's bus (--bus)
/// ```
public struct EscalationSettings: Sendable, Equatable {
    /// Severity → the id of an escalation policy of the library (§5.3).
    public var policies: [Severity: String] = [:]
    /// Method (`phone_call`, `sms`, `pagerduty`, `email`, `slack`, ...) → the channel carrying it.
    public var channels: [String: NotificationChannel] = [:]
    /// Method → seconds one attempt of its channel may take (`timeout:`), where set.
    public var timeouts: [String: Double] = [:]
    /// Whether the library's §5.1 severity levels page too: their `notifications` when an
    /// incident opens, their `response_time` and `escalation` as deadlines. On when the
    /// configuration has an `escalation` section, unless `severity_levels: false`.
    public var severityLevels = false

    public init(policies: [Severity: String] = [:], channels: [String: NotificationChannel] = [:]) {
        self.policies = policies
        self.channels = channels
    }

    public static let keys: Set<String> = ["escalation", "channels"]

    /// Reads the `escalation` and `channels` sections of the configuration's top-level `pairs`,
    /// checked against `catalog` (every policy exists, every method of a used policy has a channel).
    public static func decode(_ pairs: [SourceNode.Pair], catalog: Catalog) -> (EscalationSettings, [Diagnostic]) {
        var reader = Reader()
        var settings = EscalationSettings()
        if let channels = pairs.first(where: { $0.key == "channels" })?.value, let items = reader.mapping(channels, "'channels'", known: nil) {
            for item in items {
                if let channel = reader.channel(item.value, method: item.key) { settings.channels[item.key] = channel }
                if let timeout = reader.timeout(item.value, method: item.key) { settings.timeouts[item.key] = timeout }
            }
        }
        if let escalation = pairs.first(where: { $0.key == "escalation" })?.value,
           let items = reader.mapping(escalation, "'escalation'", known: ["policies", "severity_levels"]) {
            settings.severityLevels = true
            if let flag = items.first(where: { $0.key == "severity_levels" })?.value {
                switch flag.scalar.flatMap({ $0.style == .plain ? $0.text : nil }) {
                case "true": settings.severityLevels = true
                case "false": settings.severityLevels = false
                default: reader.report(.wrongType, "'escalation.severity_levels' must be true or false", flag)
                }
            }
            if settings.severityLevels {
                // A warning, not an error: a library's §5.1 block written before Medic paged by it
                // must not stop a server that starts today; those methods are not sent.
                for level in catalog.policies.severityLevels {
                    for target in level.notifications {
                        for method in SeverityNotice.methods(of: target) where settings.channels[method] == nil {
                            reader.diagnostics.append(Diagnostic(
                                .missingKey, "severity level \(level.name) notifies \(target.recipient) by '\(method)', which no channel carries: not sent",
                                at: escalation.location, hint: "add channels.\(method), or set escalation.severity_levels: false", severity: .warning))
                        }
                    }
                }
            }
            let map = items.first(where: { $0.key == "policies" }).flatMap { reader.mapping($0.value, "'escalation.policies'", known: nil) } ?? []
            for pair in map {
                guard let severity = Severity(text: pair.key), severity != .info else {
                    reader.report(.invalidValue, "'\(pair.key)' is not a severity (SEV0, SEV1, SEV2, SEV3)", pair.keyNode)
                    continue
                }
                guard let id = reader.string(pair.value, "the policy of \(pair.key)") else { continue }
                guard let policy = catalog.policies.escalationPolicies.first(where: { $0.id == id }) else {
                    reader.report(.invalidValue, "'\(id)' is not an escalation policy of the library (policies/, escalation_policies)", pair.value)
                    continue
                }
                for level in policy.chain {
                    for method in level.methods where settings.channels[method] == nil {
                        reader.report(.missingKey, "policy '\(id)' level \(level.level) notifies by '\(method)', which no channel carries (add channels.\(method))", pair.value)
                    }
                }
                settings.policies[severity] = id
            }
        }
        return (settings, reader.diagnostics)
    }

    struct Reader {
        var diagnostics: [Diagnostic] = []

        mutating func channel(_ node: SourceNode, method: String) -> NotificationChannel? {
            guard let pairs = mapping(node, "channel '\(method)'", known: ["type", "url", "routing_key", "command", "to", "timeout"]) else { return nil }
            let field = { (name: String) in pairs.first { $0.key == name }?.value }
            guard let typeNode = field("type"), let type = string(typeNode, "'type' of channel '\(method)'") else {
                if field("type") == nil { report(.missingKey, "channel '\(method)' needs 'type' (webhook, slack, pagerduty, email, bus)", node) }
                return nil
            }
            switch type {
            case "webhook": return url(field("url"), channel: node, method: method).map { .webhook(url: $0) }
            case "slack": return url(field("url"), channel: node, method: method).map { .slack(url: $0) }
            case "pagerduty":
                guard let keyNode = field("routing_key") else {
                    report(.missingKey, "a pagerduty channel needs 'routing_key' (the integration key of a PagerDuty service)", node)
                    return nil
                }
                guard let key = string(keyNode, "'routing_key'") else { return nil }
                let target = field("url") == nil ? URL(string: "https://events.pagerduty.com/v2/enqueue") : url(field("url"), channel: node, method: method)
                return target.map { .pagerDuty(url: $0, routingKey: key) }
            case "email":
                guard let commandNode = field("command"), let command = string(commandNode, "'command'") else {
                    if field("command") == nil { report(.missingKey, "an email channel needs 'command', a program with the sendmail interface", node) }
                    return nil
                }
                guard command.hasPrefix("/") else {
                    report(.invalidValue, "'command' must be an absolute path (it is run directly, never through a shell)", commandNode)
                    return nil
                }
                guard let toNode = field("to"), let items = toNode.sequence, !items.isEmpty else {
                    report(.missingKey, "an email channel needs 'to', a list of recipients", node)
                    return nil
                }
                let recipients = items.compactMap { string($0, "a recipient") }
                for (item, recipient) in zip(items, recipients) where recipient.hasPrefix("-") || recipient.isEmpty {
                    report(.invalidValue, "a recipient may not be empty or start with '-'", item)
                }
                return .email(command: command, recipients: recipients)
            case "bus": return .bus
            default:
                report(.invalidValue, "unknown channel type '\(type)' (webhook, slack, pagerduty, email, bus)", typeNode)
                return nil
            }
        }

        /// The channel's `timeout:` (a duration above 0, at most an hour), when it has one.
        mutating func timeout(_ node: SourceNode, method: String) -> Double? {
            guard let value = node.mapping?.first(where: { $0.key == "timeout" })?.value else { return nil }
            guard let text = string(value, "'timeout' of channel '\(method)'") else { return nil }
            switch Interval.parse(text) {
            case .success(let interval) where interval.seconds > 0 && interval.seconds <= 3600: return interval.seconds
            case .success: report(.invalidValue, "'timeout' of channel '\(method)' must be above 0 and at most 1h", value)
            case .failure(let error): report(.invalidValue, "'timeout' of channel '\(method)': \(error.message)", value)
            }
            return nil
        }

        mutating func url(_ urlNode: SourceNode?, channel: SourceNode, method: String) -> URL? {
            guard let urlNode else {
                report(.missingKey, "channel '\(method)' needs 'url'", channel)
                return nil
            }
            guard let text = string(urlNode, "'url'"), let url = URL(string: text), ["http", "https"].contains(url.scheme ?? ""), url.host != nil else {
                report(.invalidValue, "'url' of channel '\(method)' must be an http or https URL", urlNode)
                return nil
            }
            return url
        }

        mutating func mapping(_ node: SourceNode, _ what: String, known: Set<String>?) -> [SourceNode.Pair]? {
            guard let pairs = node.mapping else {
                report(.wrongType, "\(what) must be a mapping, found \(node.kindDescription)", node)
                return nil
            }
            var seen: Set<String> = []
            for pair in pairs {
                if let known, !known.contains(pair.key) {
                    report(.unknownKey, "unknown key '\(pair.key)' in \(what) (known: \(known.sorted().joined(separator: ", ")))", pair.keyNode)
                }
                if !seen.insert(pair.key).inserted { report(.duplicateKey, "'\(pair.key)' is given twice in \(what)", pair.keyNode) }
            }
            return pairs
        }

        mutating func string(_ node: SourceNode, _ what: String) -> String? {
            guard let scalar = node.scalar, !node.isNull, scalar.style != .plain || ImplicitType.of(scalar.text) == nil else {
                report(.wrongType, "\(what) must be text, found \(node.kindDescription)", node)
                return nil
            }
            return scalar.text
        }

        mutating func report(_ code: DiagnosticCode, _ message: String, _ node: SourceNode) {
            diagnostics.append(Diagnostic(code, message, at: node.location))
        }
    }
}
