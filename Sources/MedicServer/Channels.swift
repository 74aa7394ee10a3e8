import Foundation
import MedicEngine
import MedicModel

/// Where a notification goes: the executors of the escalation levels' methods.
public enum NotificationChannel: Sendable, Equatable {
    /// A JSON POST of the whole notification; `Idempotency-Key` carries its dedup key.
    case webhook(url: URL)
    /// A Slack-compatible incoming webhook: `{"text": ...}`.
    case slack(url: URL)
    /// PagerDuty Events API v2: trigger, acknowledge, resolve, deduplicated per incident.
    case pagerDuty(url: URL, routingKey: String)
    /// A program with the sendmail interface: the message on standard input, the recipients as
    /// arguments, run directly (never through a shell).
    case email(command: String, recipients: [String])
    /// The engine's bus (`--bus`): a CloudEvent `dev.medic.incident.escalated` (or
    /// `.acknowledged` / `.resolved`) whose data is the notification's fields.
    case bus
}

/// One notification about an incident.
public struct Notification: Sendable, Equatable {
    public enum Kind: String, Sendable { case escalation, acknowledged, resolved }

    public var kind: Kind
    /// The same every time this notification is sent again (a restart between the claim of a
    /// level and its mark resends it): `<incident key>/level-<n>`. A receiver drops repeats by it.
    public var dedupKey: String
    public var incident: String
    public var level: Int
    public var notify: String
    public var method: String
    public var severity: String
    public var policy: String
    public var summary: String
    public var reason: String?
    public var labels: [String: String]

    public init(kind: Kind, dedupKey: String, incident: String, level: Int, notify: String, method: String, severity: String,
                policy: String, summary: String, reason: String? = nil, labels: [String: String] = [:]) {
        (self.kind, self.dedupKey, self.incident, self.level, self.notify, self.method) = (kind, dedupKey, incident, level, notify, method)
        (self.severity, self.policy, self.summary, self.reason, self.labels) = (severity, policy, summary, reason, labels)
    }

    var json: [String: Any] {
        var object: [String: Any] = ["event": kind.rawValue, "dedup_key": dedupKey, "incident": incident, "level": level, "notify": notify,
                                     "method": method, "severity": severity, "policy": policy, "summary": summary, "labels": labels]
        if let reason { object["reason"] = reason }
        return object
    }

    var text: String {
        "[\(severity)] \(summary) (incident \(incident), level \(level) of \(policy): \(notify) by \(method))" + (reason.map { ": \($0)" } ?? "")
    }
}

extension NotificationChannel {
    public struct Failure: Error, CustomStringConvertible, Sendable {
        public var description: String
    }

    /// Seconds one attempt may take when the configuration sets no `timeout`: 10 for an HTTP
    /// answer, 30 for the email command and the bus.
    var defaultTimeout: Double {
        switch self {
        case .webhook, .slack, .pagerDuty: 10
        case .email, .bus: 30
        }
    }

    /// One attempt at sending `notification` through the engine's executors, bounded by
    /// `timeout` seconds; throws unless the receiver took it (a 2xx, exit 0, the bus's yes).
    /// `ChannelDelivery` calls it through the channel's guard.
    func sendOnce(_ notification: Notification, through executors: ExecutorSet, timeout: Double, attempt: Int) async throws {
        var request = ExecutionRequest(runID: notification.incident, stepNumber: notification.level, stepName: "escalation",
                                       action: "notify", purpose: .escalation, executor: .http, timeout: timeout, attempt: attempt)
        let executor: any StepExecutor
        switch self {
        case .bus:
            request.executor = .bus
            request.topic = "dev.medic.incident.\(notification.kind == .escalation ? "escalated" : notification.kind.rawValue)"
            request.parameters = notification.json.mapValues { value -> String in
                if let text = value as? String { return text }
                if let data = try? JSONSerialization.data(withJSONObject: value, options: [.sortedKeys, .fragmentsAllowed]) {
                    return String(decoding: data, as: UTF8.self)
                }
                return "\(value)"
            }
            executor = executors.bus
        case .webhook, .slack, .pagerDuty:
            let (spec, parameters) = try httpRequest(notification)
            request.request = spec
            request.parameters = parameters
            executor = executors.http
        case .email(let command, let recipients):
            let (script, parameters) = Self.mail(notification, command: command, recipients: recipients)
            request.executor = .shell
            request.script = script
            request.parameters = parameters
            executor = executors.shell
        }
        let result = try await executor.execute(request)
        guard result.succeeded else {
            // An HTTP answer's summary lists every 2xx expected: its status says it all.
            let why = request.executor == .http ? result.exitStatus.map { "answered \($0)" } ?? result.summary : result.summary
            throw Failure(description: "\(describe) did not take it: \(why)")
        }
    }

    /// The JSON POST of an HTTP channel, with its parameters (see `post`).
    private func httpRequest(_ notification: Notification) throws -> (HTTPRequestSpec, [String: String]) {
        switch self {
        case .webhook(let url): try Self.post(url, notification.json, headers: ["Idempotency-Key": notification.dedupKey])
        case .slack(let url): try Self.post(url, ["text": notification.text], headers: [:])
        case .pagerDuty(let url, let routingKey): try Self.post(url, Self.pagerDutyEvent(notification, routingKey: routingKey), headers: [:])
        case .email, .bus: throw Failure(description: "\(describe) is not an HTTP channel")
        }
    }

    /// Where it sends, for people.
    var describe: String {
        switch self {
        case .webhook(let url), .slack(let url), .pagerDuty(let url, _): url.absoluteString
        case .email(let command, _): command
        case .bus: "the bus"
        }
    }

    /// An Events API v2 event: `trigger` for an escalation, `acknowledge` / `resolve` after, with
    /// the incident key as the dedup key so that every level of one incident is one PagerDuty alert.
    static func pagerDutyEvent(_ notification: Notification, routingKey: String) -> [String: Any] {
        var event: [String: Any] = ["routing_key": routingKey, "dedup_key": notification.incident]
        switch notification.kind {
        case .escalation:
            event["event_action"] = "trigger"
            let severity = switch notification.severity { case "SEV0", "SEV1": "critical"; case "SEV2": "error"; default: "warning" }
            event["payload"] = ["summary": String(notification.text.prefix(1024)), "source": "medic", "severity": severity,
                                "custom_details": notification.json] as [String: Any]
        case .acknowledged: event["event_action"] = "acknowledge"
        case .resolved: event["event_action"] = "resolve"
        }
        return event
    }

    /// A JSON POST for the engine's http executor, any 2xx taken. The executor substitutes
    /// `${name}` in the body and the headers: each name the text holds is given as a parameter
    /// whose value is itself, so the notification goes out exactly as written.
    static func post(_ url: URL, _ object: [String: Any], headers: [String: String]) throws -> (HTTPRequestSpec, [String: String]) {
        let body = String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]), as: UTF8.self)
        let spec = HTTPRequestSpec(method: "POST", url: url.absoluteString, headers: headers.merging(["Content-Type": "application/json"]) { $1 },
                                   body: body, expectStatus: Array(200..<300))
        var parameters: [String: String] = [:]
        for text in [body] + headers.values {
            var rest = text[...]
            while let open = rest.range(of: "${") {
                let after = rest[open.upperBound...]
                guard let close = after.firstIndex(of: "}") else { break }
                let name = String(after[..<close])
                parameters[name] = "${" + name + "}"
                rest = after
            }
        }
        return (spec, parameters)
    }

    /// The email as a script for the engine's shell executor: the message on the command's
    /// standard input, the recipients as its arguments. The command, the recipients and the
    /// message are environment variables the script quotes, never text of the script, so no
    /// value is ever read by the shell as code.
    static func mail(_ notification: Notification, command: String, recipients: [String]) -> (script: String, parameters: [String: String]) {
        let message = """
            To: \(recipients.joined(separator: ", "))
            Subject: \(notification.text.replacingOccurrences(of: "\n", with: " ").prefix(200))
            X-Medic-Dedup-Key: \(notification.dedupKey)
            Content-Type: text/plain; charset=utf-8

            \(notification.text)

            \(String(decoding: (try? JSONSerialization.data(withJSONObject: notification.json, options: [.sortedKeys, .prettyPrinted])) ?? Data(), as: UTF8.self))

            """
        var parameters = ["MEDIC_MAIL_COMMAND": command, "MEDIC_MAIL_MESSAGE": message]
        var arguments: [String] = []
        for (index, recipient) in recipients.enumerated() {
            parameters["MEDIC_MAIL_TO_\(index)"] = recipient
            arguments.append("\"$MEDIC_MAIL_TO_\(index)\"")
        }
        // -i: a line of a single dot does not end the message (sendmail, and every program with its interface).
        let script = "printf '%s' \"$MEDIC_MAIL_MESSAGE\" | \"$MEDIC_MAIL_COMMAND\" -i -- " + arguments.joined(separator: " ")
        return (script, parameters)
    }
}
