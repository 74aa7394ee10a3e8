import Foundation
import Logging
import MedicEngine
import PostgresNIO

/// The audit log in the database: append-only (the database refuses updates and deletes),
/// durable (committed) when `record` returns.
public struct PostgresAuditLog: Sendable {
    public let database: StateDatabase

    public init(_ database: StateDatabase) { self.database = database }

    public func record(_ fields: [String: String]) async throws {
        let json = try Self.json(fields)
        do {
            try await database.client.perform("INSERT INTO medic_audit (fields) VALUES (\(json)::jsonb)", logger: database.logger)
        } catch {
            throw PostgresFailure("writing the audit log", error, location: database.location)
        }
    }

    /// The last `limit` records, oldest first.
    public func records(limit: Int = 100) async throws -> [[String: String]] {
        do {
            var found: [[String: String]] = []
            let rows = try await database.client.query(
                "SELECT fields::text FROM (SELECT id, fields FROM medic_audit ORDER BY id DESC LIMIT \(limit)) AS last ORDER BY id",
                logger: database.logger)
            for try await (text) in rows.decode(String.self) {
                found.append((try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: String]) ?? [:])
            }
            return found
        } catch {
            throw PostgresFailure("reading the audit log", error, location: database.location)
        }
    }

    static func json(_ fields: [String: String]) throws -> String {
        String(decoding: try JSONSerialization.data(withJSONObject: fields, options: [.sortedKeys]), as: UTF8.self)
    }
}

/// The operators' switches (kill switch, safe mode) in the database, each change written with
/// its audit record in one transaction: a change is never visible without its record, nor
/// recorded without being made. The audit events are the file store's (`paused` / `resumed`,
/// `safe_mode_on` / `safe_mode_off`).
public struct PostgresOperatorSwitches: Sendable {
    public let database: StateDatabase

    public init(_ database: StateDatabase) { self.database = database }

    static func events(_ flag: OperatorFlag) -> (on: String, off: String) {
        switch flag {
        case .killSwitch: return ("paused", "resumed")
        case .safeMode: return ("safe_mode_on", "safe_mode_off")
        }
    }

    /// The setting in force, if the switch is on.
    public func setting(_ flag: OperatorFlag) async throws -> OperatorSwitch.Setting? {
        do {
            var setting: OperatorSwitch.Setting?
            let rows = try await database.client.query("SELECT set_by, reason, set_at FROM medic_switches WHERE name = \(flag.rawValue)",
                                                       logger: database.logger)
            for try await (by, reason, at) in rows.decode((String, String?, String).self) {
                // Through its Codable form: the engine's type has no public memberwise initializer.
                var fields = ["by": by, "at": at]
                fields["reason"] = reason
                setting = try JSONDecoder().decode(OperatorSwitch.Setting.self, from: try JSONSerialization.data(withJSONObject: fields))
            }
            return setting
        } catch {
            throw PostgresFailure("reading the switch \(flag.rawValue)", error, location: database.location)
        }
    }

    public func turnOn(_ flag: OperatorFlag, by: String, reason: String?, now: Date) async throws {
        let at = JournalRecord.timestamp(now)
        let audit = try PostgresAuditLog.json(["event": Self.events(flag).on, "by": by, "reason": reason ?? "", "at": at])
        let logger = database.logger
        do {
            try await database.client.withTransaction(logger: logger) { connection in
                try await connection.perform("""
                    INSERT INTO medic_switches (name, set_by, reason, set_at) VALUES (\(flag.rawValue), \(by), \(reason), \(at))
                    ON CONFLICT (name) DO UPDATE SET set_by = excluded.set_by, reason = excluded.reason, set_at = excluded.set_at
                    """, logger: logger)
                try await connection.perform("INSERT INTO medic_audit (fields) VALUES (\(audit)::jsonb)", logger: logger)
            }
        } catch {
            throw PostgresFailure("turning \(flag.rawValue) on", error, location: database.location)
        }
    }

    /// Turns the switch off; false (and nothing audited) when it was off.
    @discardableResult
    public func turnOff(_ flag: OperatorFlag, by: String, reason: String?, now: Date) async throws -> Bool {
        let audit = try PostgresAuditLog.json(["event": Self.events(flag).off, "by": by, "reason": reason ?? "",
                                               "at": JournalRecord.timestamp(now)])
        let logger = database.logger
        do {
            return try await database.client.withTransaction(logger: logger) { connection in
                var removed = false
                let rows = try await connection.query("DELETE FROM medic_switches WHERE name = \(flag.rawValue) RETURNING name", logger: logger)
                for try await _ in rows.decode(String.self) { removed = true }
                if removed { try await connection.perform("INSERT INTO medic_audit (fields) VALUES (\(audit)::jsonb)", logger: logger) }
                return removed
            }
        } catch {
            throw PostgresFailure("turning \(flag.rawValue) off", error, location: database.location)
        }
    }
}
