import Foundation
import MedicEngine
import MedicText

/// A person's decision about an incident: who, when (RFC 3339) and their note.
public struct PersonDecision: Sendable, Equatable, Codable {
    public var by: String
    public var at: String
    public var note: String?

    public init(by: String, at: String, note: String?) {
        self.by = by
        self.at = at
        self.note = note
    }
}

/// People acknowledging and resolving incidents, for the HTTP API and the CLI alike, on the
/// durable incident store. Every change is audited: once the change is decided, under the
/// store's lock, its audit record is written first, then the change. An audit log that cannot be
/// written refuses the change (it throws and nothing changes), so no change is ever left
/// unaudited; a change that cannot be written after its record throws too, and its record is
/// followed by one saying it failed (`incident_change_failed`, when that can be written).
///
/// - **Acknowledge**: a firing incident not yet acknowledged gets `acknowledgement`. A resolved
///   one, or one acknowledged already, is a conflict (the first acknowledgement stays).
/// - **Resolve**: a firing incident becomes `resolved` at now, with `resolution`. One resolved
///   already (by its alert or a person) is a conflict. A run going is not stopped.
public struct IncidentAcknowledgement: Sendable {
    public enum Action: String, Sendable {
        case acknowledge, resolve

        var auditEvent: String { self == .acknowledge ? "incident_acknowledged" : "incident_resolved" }
    }

    public enum Outcome: Sendable, Equatable {
        case done(AlertIncident)
        case notFound(String)
        /// The incident is not in a state this action applies to: why.
        case conflict(String)
        /// Bad input (an empty name, a key that cannot be an incident's): why, and the field.
        case invalid(String, field: String)
    }

    public let store: any IncidentStoring
    public let audit: any AuditLog

    public init(store: any IncidentStoring, audit: any AuditLog) {
        self.store = store
        self.audit = audit
    }

    /// Keys are `<fingerprint>-<ms>`: letters, digits, `-` and `_` only, so a key never names a
    /// file outside the store.
    public static func isWellFormed(key: String) -> Bool {
        !key.isEmpty && key.utf8.count <= 200 && key.unicodeScalars.allSatisfy {
            ($0.isASCII && (CharacterSet.alphanumerics.contains($0))) || $0 == "-" || $0 == "_"
        }
    }

    /// The key of the one incident whose key is `text` or starts with it; nil when none or several do.
    public func resolveKey(_ text: String) async -> (key: String?, candidates: [String]) {
        guard Self.isWellFormed(key: text) else { return (nil, []) }
        if (try? await store.incident(key: text)) != nil { return (text, [text]) }
        let matches = await store.all().incidents.map(\.key).filter { $0.hasPrefix(text) }.sorted()
        return (matches.count == 1 ? matches[0] : nil, matches)
    }

    public func perform(_ action: Action, key: String, by: String, note: String?, now: Date) async throws -> Outcome {
        guard Self.isWellFormed(key: key) else {
            return .invalid("'\(key)' is not an incident key (letters, digits, '-' and '_')", field: "key")
        }
        let person = by.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !person.isEmpty else { return .invalid("who \(action.rawValue)s must be named", field: "by") }
        let at = (Timestamp(now) ?? Timestamp(seconds: 0)).rfc3339()
        let decision = PersonDecision(by: person, at: at, note: note.flatMap { $0.isEmpty ? nil : $0 })
        var fields = ["event": action.auditEvent, "incident": key, "by": person, "at": at]
        if let note = decision.note { fields["note"] = note }
        let outcome: IncidentUpdate?
        do {
            outcome = try await store.update(key: key) { incident -> String? in
                if let refusal = Self.refusal(action, incident) { return refusal }
                switch action {
                case .acknowledge:
                    incident.acknowledgement = decision
                case .resolve:
                    incident.status = .resolved
                    incident.resolvedAt = at
                    incident.resolution = decision
                }
                // Audited before it is written: a failure here writes nothing.
                do {
                    try await audit.record(fields)
                } catch {
                    throw Unaudited(cause: error)
                }
                return nil
            }
        } catch let unaudited as Unaudited {
            throw unaudited
        } catch {
            try? await audit.record(["event": "incident_change_failed", "incident": key, "by": person, "at": at,
                               "change": action.auditEvent, "error": "\(error)"])
            throw error
        }
        switch outcome {
        case .none: return .notFound("no incident has the key '\(key)'")
        case .some(.refused(let why)): return .conflict(why)
        case .some(.changed(let incident)): return .done(incident)
        }
    }

    /// Why `action` does not apply to `incident` now, or nil.
    static func refusal(_ action: Action, _ incident: AlertIncident) -> String? {
        if incident.status == .resolved {
            let who = incident.resolution.map { " by \($0.by)" } ?? " by its alert"
            return "incident \(incident.key) is resolved already (at \(incident.resolution?.at ?? incident.resolvedAt ?? "?")\(who))"
        }
        if action == .acknowledge, let existing = incident.acknowledgement {
            return "incident \(incident.key) is acknowledged already (by \(existing.by) at \(existing.at))"
        }
        return nil
    }

    /// The audit log could not be written: the change was not made.
    public struct Unaudited: Error, CustomStringConvertible {
        public let cause: any Error
        public var description: String { "the audit log could not be written, so nothing was changed: \(cause)" }
    }
}
