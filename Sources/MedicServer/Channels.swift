import AsyncHTTPClient
import Foundation
import MedicEngine
import NIOCore

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

    /// Sends `notification`; throws unless the receiver took it (2xx, or exit 0 for email).
    /// Bounded: 10 s for an HTTP answer, 30 s for the email command.
    public func send(_ notification: Notification, bus: any StepExecutor) async throws {
        switch self {
        case .bus:
            let fields = notification.json.mapValues { value -> String in
                if let text = value as? String { return text }
                if let data = try? JSONSerialization.data(withJSONObject: value, options: [.sortedKeys, .fragmentsAllowed]) {
                    return String(decoding: data, as: UTF8.self)
                }
                return "\(value)"
            }
            let request = ExecutionRequest(runID: notification.incident, stepNumber: notification.level, stepName: "escalation",
                                           action: "escalate", purpose: .escalation, executor: .bus,
                                           topic: "dev.medic.incident.\(notification.kind == .escalation ? "escalated" : notification.kind.rawValue)",
                                           parameters: fields, timeout: 30)
            let result = try await bus.execute(request)
            guard result.succeeded else { throw Failure(description: "the bus did not take it: \(result.summary)") }
        case .webhook(let url):
            try await post(url, notification.json, headers: ["Idempotency-Key": notification.dedupKey])
        case .slack(let url):
            try await post(url, ["text": notification.text], headers: [:])
        case .pagerDuty(let url, let routingKey):
            try await post(url, Self.pagerDutyEvent(notification, routingKey: routingKey), headers: [:])
        case .email(let command, let recipients):
            try await Self.mail(notification, command: command, recipients: recipients)
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

    private func post(_ url: URL, _ object: [String: Any], headers: [String: String]) async throws {
        let body = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
        var request = HTTPClientRequest(url: url.absoluteString)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        request.body = .bytes(ByteBuffer(bytes: body))
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
        _ = try? await response.body.collect(upTo: 1 << 16)
        guard (200..<300).contains(Int(response.status.code)) else {
            throw Failure(description: "\(url.absoluteString) answered \(response.status.code)")
        }
    }

    static func mail(_ notification: Notification, command: String, recipients: [String]) async throws {
        let message = """
            To: \(recipients.joined(separator: ", "))
            Subject: \(notification.text.replacingOccurrences(of: "\n", with: " ").prefix(200))
            X-Medic-Dedup-Key: \(notification.dedupKey)
            Content-Type: text/plain; charset=utf-8

            \(notification.text)

            \(String(decoding: (try? JSONSerialization.data(withJSONObject: notification.json, options: [.sortedKeys, .prettyPrinted])) ?? Data(), as: UTF8.self))

            """
        let process = Process()
        process.executableURL = URL(fileURLWithPath: command)
        // -i: a line of a single dot does not end the message (sendmail, and every program with its interface).
        process.arguments = ["-i", "--"] + recipients
        let input = Pipe()
        process.standardInput = input
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        let ended = AsyncStream<Int32>.makeStream()
        process.terminationHandler = { ended.continuation.yield($0.terminationStatus); ended.continuation.finish() }
        do {
            try process.run()
        } catch {
            throw Failure(description: "cannot run \(command): \(error.localizedDescription)")
        }
        try? input.fileHandleForWriting.write(contentsOf: Data(message.utf8))
        try? input.fileHandleForWriting.close()
        let timeout = Task {
            try await Task.sleep(nanoseconds: 30_000_000_000)
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        }
        defer { timeout.cancel() }
        var status: Int32 = -1
        for await code in ended.stream { status = code }
        guard status == 0 else { throw Failure(description: "\(command) exited with \(status)") }
    }
}
