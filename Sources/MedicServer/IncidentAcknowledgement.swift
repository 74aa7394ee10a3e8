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
/// durable incident store: the change is durable, then written to the audit log, before it is
/// reported done.
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

    public let store: FileIncidentStore
    public let audit: any AuditLog

    public init(store: FileIncidentStore, audit: any AuditLog) {
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
    public func resolveKey(_ text: String) -> (key: String?, candidates: [String]) {
        guard Self.isWellFormed(key: text) else { return (nil, []) }
        if FileManager.default.fileExists(atPath: store.path(key: text)) { return (text, [text]) }
        let matches = store.all().incidents.map(\.key).filter { $0.hasPrefix(text) }.sorted()
        return (matches.count == 1 ? matches[0] : nil, matches)
    }

    public func perform(_ action: Action, key: String, by: String, note: String?, now: Date) throws -> Outcome {
        guard Self.isWellFormed(key: key) else {
            return .invalid("'\(key)' is not an incident key (letters, digits, '-' and '_')", field: "key")
        }
        let person = by.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !person.isEmpty else { return .invalid("who \(action.rawValue)s must be named", field: "by") }
        let at = (Timestamp(now) ?? Timestamp(seconds: 0)).rfc3339()
        let decision = PersonDecision(by: person, at: at, note: note.flatMap { $0.isEmpty ? nil : $0 })
        let outcome = try store.update(key: key) { incident -> String? in
            if incident.status == .resolved {
                let who = incident.resolution.map { " by \($0.by)" } ?? " by its alert"
                return "incident \(key) is resolved already (at \(incident.resolution?.at ?? incident.resolvedAt ?? "?")\(who))"
            }
            switch action {
            case .acknowledge:
                if let existing = incident.acknowledgement {
                    return "incident \(key) is acknowledged already (by \(existing.by) at \(existing.at))"
                }
                incident.acknowledgement = decision
            case .resolve:
                incident.status = .resolved
                incident.resolvedAt = at
                incident.resolution = decision
            }
            return nil
        }
        switch outcome {
        case .none: return .notFound("no incident has the key '\(key)'")
        case .some(.refused(let why)): return .conflict(why)
        case .some(.changed(let incident)):
            var fields = ["event": action.auditEvent, "incident": key, "by": person, "at": at]
            if let note = decision.note { fields["note"] = note }
            try audit.record(fields)
            return .done(incident)
        }
    }
}

extension FileIncidentStore {
    public enum Update: Sendable {
        case changed(AlertIncident)
        case refused(String)
    }

    /// Changes the incident `key` under the folder's lock: `change` edits it, or returns why it
    /// refuses (and nothing is written). The change is written whole, fsync'ed and renamed over
    /// the old document before this returns. nil when no incident has the key.
    public func update(key: String, _ change: (inout AlertIncident) -> String?) throws -> Update? {
        try whileLocked {
            guard var stored = try incident(key: key) else { return nil }
            if let refusal = change(&stored) { return .refused(refusal) }
            let temporary = try writeTemporary(stored)
            guard rename(temporary, path(key: key)) == 0 else {
                let error = errno
                unlink(temporary)
                throw Failure(description: "cannot replace \(path(key: key)): \(String(cString: strerror(error)))")
            }
            try syncDirectory()
            return .changed(stored)
        }
    }
}
