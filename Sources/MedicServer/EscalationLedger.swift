import Foundation
import MedicEngine

/// The escalation of one incident: its policy's levels, each with its due time and state.
public struct EscalationRecord: Sendable, Equatable, Codable {
    public enum LevelState: String, Sendable, Codable {
        /// Not due yet, or due and not claimed.
        case pending
        /// Claimed for sending: a sender is sending it, or died while sending it.
        case claimed
        /// Every channel of the level took it.
        case sent
        /// Its condition no longer held (acknowledged, resolved): never sent.
        case skipped
    }

    public struct Level: Sendable, Equatable, Codable {
        public var level: Int
        /// RFC 3339.
        public var due: String
        public var condition: String?
        public var notify: String
        public var methods: [String]
        public var state: LevelState
        public var claimedAt: String?
        public var sentAt: String?
        public var note: String?
        /// Level 0, a severity level's notifications (§5.1): method → the recipients it reaches.
        public var recipients: [String: [String]]? = nil
        /// Why the level is due earlier than its delay, or exists at all: a library trigger (§5.4).
        public var reason: String? = nil
        /// Sent by another server sharing the database (this one skipped it): its tracking
        /// channels follow the incident from here too, if that server is gone.
        public var sentElsewhere: Bool? = nil

        enum CodingKeys: String, CodingKey {
            case level, due, condition, notify, methods, state, note, recipients, reason
            case claimedAt = "claimed_at", sentAt = "sent_at", sentElsewhere = "sent_elsewhere"
        }
    }

    public var incident: String
    public var policy: String
    public var severity: String
    public var levels: [Level]
    /// The auto-escalation trigger that brought the next level forward, once (§5.4).
    public var trigger: String?
    /// The follow-ups sent to the channels that track an incident (PagerDuty): `acknowledged`,
    /// `resolved`; each is sent, then added here.
    public var followUps: [String]?
    /// For an incident folded into another incident's run: the incident whose escalation
    /// stood for this one while it was firing and at least as severe (its levels waited).
    public var coveredBy: String?
    /// The library's §5.4 triggers that fired for this incident, each once, with their reasons.
    public var fired: [FiredTrigger]?

    public struct FiredTrigger: Sendable, Equatable, Codable {
        public var name: String
        public var at: String
        public var reason: String
    }

    enum CodingKeys: String, CodingKey {
        case incident, policy, severity, levels, trigger, fired
        case followUps = "follow_ups", coveredBy = "covered_by"
    }
}

/// Where the escalation scheduler keeps its state, so that a restart neither skips nor repeats a level.
///
/// Guarantees:
/// - **Begin once**: of any number of `begin`s for one incident, one creates its record.
/// - **Claim before send, mark after**: a level goes `pending` → `claimed` (durable) before any
///   channel is called, then `claimed` → `sent` (durable). A level `sent` is never sent again. A
///   level left `claimed` (the process died between the claim and the mark) is sent again at
///   the next start: at least once, with the same dedup key, which the channels pass on
///   (`Idempotency-Key`, PagerDuty's `dedup_key`, `X-Medic-Dedup-Key`) so a receiver drops the repeat.
/// - **Durable, whole**: each change is written whole, fsync'ed and renamed over the record, and
///   the folder fsync'ed (`StateFiles.writeAtomically`), under the folder's lock, before the call
///   returns.
public struct EscalationLedger: Sendable {
    public let store: FileIncidentStore

    /// The ledger of `stateDirectory`: `escalations/<incident key>.json`.
    public init(stateDirectory: String) throws {
        store = try FileIncidentStore(folder: stateDirectory + "/escalations")
    }

    public var directory: String { store.directory }

    /// Creates the record unless the incident has one: the stored record.
    public func begin(_ record: EscalationRecord) throws -> EscalationRecord {
        try store.whileLocked {
            if let existing = try self.record(record.incident) { return existing }
            try write(record)
            return record
        }
    }

    public func record(_ incident: String) throws -> EscalationRecord? {
        guard let data = FileManager.default.contents(atPath: store.path(key: incident)) else { return nil }
        do {
            return try JSONDecoder().decode(EscalationRecord.self, from: data)
        } catch {
            throw FileIncidentStore.Failure(description: "\(store.path(key: incident)) is damaged: \(error)")
        }
    }

    /// Changes the record under the lock; `change` returns false to leave it as it is.
    @discardableResult
    public func update(_ incident: String, _ change: (inout EscalationRecord) -> Bool) throws -> EscalationRecord? {
        try store.whileLocked {
            guard var stored = try record(incident) else { return nil }
            guard change(&stored) else { return stored }
            try write(stored)
            return stored
        }
    }

    /// The incident keys that have a record.
    public func incidents() -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [])
            .filter { $0.hasSuffix(".json") && !$0.hasPrefix(".") }.map { String($0.dropLast(5)) }
    }

    /// Holding the folder's lock (one writer of a record at a time, as `writeAtomically` needs).
    private func write(_ record: EscalationRecord) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        do {
            try StateFiles.writeAtomically(try encoder.encode(record) + Data("\n".utf8), to: store.path(key: record.incident))
        } catch {
            throw FileIncidentStore.Failure(description: "cannot replace \(store.path(key: record.incident)): \(error)")
        }
    }
}

extension FileIncidentStore {
    /// The same file mechanics over another folder of the state directory (created when missing).
    init(folder: String) throws {
        directory = folder
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw Failure(description: "cannot create \(directory): \(error.localizedDescription)")
        }
        openings = IncidentOpenings(directory: directory)
    }
}
