import Foundation
import MedicText

/// An immune event: something an agent or module reports about its own health (a policy
/// violated, errors spiking, a self-healing action taken), posted to `POST /api/v1/events`.
public struct ImmuneEvent: Sendable, Equatable {
    public enum Severity: String, Sendable, CaseIterable {
        case info = "INFO", warning = "WARNING", critical = "CRITICAL"
    }

    public enum Kind: String, Sendable, CaseIterable {
        case policyViolation = "POLICY_VIOLATION", errorSpike = "ERROR_SPIKE", selfHealingAction = "SELF_HEALING_ACTION"
    }

    /// Unique in the store: the client's when it gave one (a retry with the same id is stored
    /// once), else a UUID given by the server.
    public var id: String
    public var agentID: String?
    public var module: String?
    public var severity: Severity
    public var type: Kind
    public var message: String
    /// Free JSON, kept as its compact serialization (`null` when absent).
    public var meta: String
    /// RFC 3339, in UTC with milliseconds: the client's time, else the time it was received.
    public var createdAt: Timestamp

    /// Why a body is not an event: the field at fault (empty for the body as a whole) and what is wrong.
    public struct Rejection: Error, Sendable, Equatable {
        public var field: String
        public var message: String
    }

    static let fields: Set<String> = ["id", "agent_id", "module", "severity", "type", "message", "meta", "created_at"]
    /// The longest id, agent id or module accepted, in bytes.
    static let maxNameBytes = 256

    /// Reads a posted body. `newID` names an event posted without an id; `now` dates one posted
    /// without `created_at`. Every field is checked; an unknown field is refused (it would be
    /// lost silently otherwise).
    public static func decode(_ body: Data, newID: () -> String, now: Date) throws(Rejection) -> ImmuneEvent {
        let parsed: Any
        do {
            parsed = try JSONSerialization.jsonObject(with: body, options: [.fragmentsAllowed])
        } catch {
            throw Rejection(field: "", message: "the body is not JSON")
        }
        guard let object = parsed as? [String: Any] else { throw Rejection(field: "", message: "the body is not a JSON object") }
        if let unknown = object.keys.sorted().first(where: { !fields.contains($0) }) {
            throw Rejection(field: unknown, message: "is not a field of an event (fields: \(fields.sorted().joined(separator: ", ")))")
        }
        let id = try name(object, "id") ?? newID()
        let severityText = try required(object, "severity")
        guard let severity = Severity(rawValue: severityText) else {
            throw Rejection(field: "severity", message: "'\(severityText)' is not one of \(Severity.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        let typeText = try required(object, "type")
        guard let type = Kind(rawValue: typeText) else {
            throw Rejection(field: "type", message: "'\(typeText)' is not one of \(Kind.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        let message = try required(object, "message")
        var meta = "null"
        if let value = object["meta"] {
            guard let data = try? JSONSerialization.data(withJSONObject: value, options: [.fragmentsAllowed, .sortedKeys, .withoutEscapingSlashes]),
                  let text = String(data: data, encoding: .utf8) else {
                throw Rejection(field: "meta", message: "cannot be written back as JSON")
            }
            meta = text
        }
        var createdAt: Timestamp
        if let value = object["created_at"] {
            guard let text = value as? String, let time = Timestamp(rfc3339: text) else {
                throw Rejection(field: "created_at", message: "must be an RFC 3339 time such as 2026-12-06T07:00:00Z")
            }
            createdAt = time
        } else {
            guard let time = Timestamp(now) else { throw Rejection(field: "created_at", message: "the server's clock cannot be written") }
            createdAt = time
        }
        // Kept to the millisecond, as it is written, so a stored event reads back equal.
        createdAt = Timestamp(seconds: createdAt.seconds, nanoseconds: Int64(createdAt.nanoseconds) / 1_000_000 * 1_000_000)
        return ImmuneEvent(id: id, agentID: try name(object, "agent_id"), module: try name(object, "module"), severity: severity,
                           type: type, message: message, meta: meta, createdAt: createdAt)
    }

    private static func required(_ object: [String: Any], _ field: String) throws(Rejection) -> String {
        guard let value = object[field] else { throw Rejection(field: field, message: "is required") }
        guard let text = value as? String else { throw Rejection(field: field, message: "must be a string") }
        guard !text.isEmpty else { throw Rejection(field: field, message: "must not be empty") }
        return text
    }

    /// An optional identifier: a non-empty string of at most `maxNameBytes` bytes without control characters.
    private static func name(_ object: [String: Any], _ field: String) throws(Rejection) -> String? {
        guard let value = object[field], !(value is NSNull) else { return nil }
        guard let text = value as? String else { throw Rejection(field: field, message: "must be a string") }
        guard !text.isEmpty, text.utf8.count <= maxNameBytes else {
            throw Rejection(field: field, message: "must be 1 to \(maxNameBytes) bytes long")
        }
        guard !text.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            throw Rejection(field: field, message: "must not contain control characters")
        }
        return text
    }

    /// The event as one JSON object: the stored line (without its newline) and the bus's data.
    /// Keys sorted; absent optional fields are left out.
    public func jsonLine() -> [UInt8] {
        // Keys sorted, then meta, spliced in already serialized: it is free JSON, kept byte for byte.
        var object = JSONObjectBytes()
        object.field("agent_id", agentID)
        object.field("created_at", createdAt.rfc3339())
        object.field("id", id)
        object.field("message", message)
        object.field("module", module)
        object.field("severity", severity.rawValue)
        object.field("type", type.rawValue)
        if meta != "null" { object.field("meta", json: Array(meta.utf8)) }
        return object.closed()
    }

    /// Reads a line written by `jsonLine()`; nil for anything else.
    public static func read(line: [UInt8]) -> ImmuneEvent? {
        guard let object = (try? JSONSerialization.jsonObject(with: Data(line))) as? [String: Any],
              let id = object["id"] as? String, let severity = (object["severity"] as? String).flatMap(Severity.init(rawValue:)),
              let type = (object["type"] as? String).flatMap(Kind.init(rawValue:)), let message = object["message"] as? String,
              let createdAt = (object["created_at"] as? String).flatMap({ Timestamp(rfc3339: $0) }) else { return nil }
        var meta = "null"
        if let value = object["meta"], let data = try? JSONSerialization.data(withJSONObject: value, options: [.fragmentsAllowed, .sortedKeys, .withoutEscapingSlashes]) {
            meta = String(decoding: data, as: UTF8.self)
        }
        return ImmuneEvent(id: id, agentID: object["agent_id"] as? String, module: object["module"] as? String, severity: severity,
                           type: type, message: message, meta: meta, createdAt: createdAt)
    }

    /// Whether `other` is this event posted again (a retry): everything but the times the server gave.
    public func sameReport(as other: ImmuneEvent) -> Bool {
        id == other.id && agentID == other.agentID && module == other.module && severity == other.severity && type == other.type
            && message == other.message && meta == other.meta
    }
}
