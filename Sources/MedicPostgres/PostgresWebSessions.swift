import Foundation
import MedicServer
import PostgresNIO

/// The web page's logins in the database (`medic_web_sessions`), so that a person logged in
/// through one server is logged in at every server sharing it (behind one address, a load
/// balancer may send each request elsewhere). Keyed by the SHA-256 of the cookie's id: the
/// database never holds an id a cookie could be made from.
///
/// Guarantees: `insert` trims expired sessions, then the identity's and the table's oldest
/// beyond their limits, and inserts, in one transaction (each statement sees the others'); a
/// flash is taken in one statement (`DELETE`-like: only one page shows it); every time compared
/// is the caller's `now`, so the servers' clocks, not the database's, decide an expiry.
public struct PostgresWebSessions: WebSessionStoring {
    public let database: StateDatabase

    public init(_ database: StateDatabase) { self.database = database }

    public func insert(_ digest: String, _ session: WebSessionRecord, now: Date, perIdentity: Int, capacity: Int) async throws {
        let roles = session.roles.joined(separator: ",")
        do {
            try await database.client.withTransaction(logger: database.logger) { connection in
                try await connection.query("DELETE FROM medic_web_sessions WHERE expires <= \(now)", logger: database.logger)
                // The identity's oldest beyond perIdentity - 1, then the table's beyond capacity - 1.
                try await connection.query("""
                    DELETE FROM medic_web_sessions WHERE digest IN (
                        SELECT digest FROM medic_web_sessions WHERE identity = \(session.identity) ORDER BY expires DESC OFFSET \(max(0, perIdentity - 1)))
                    """, logger: database.logger)
                try await connection.query("""
                    DELETE FROM medic_web_sessions WHERE digest IN (
                        SELECT digest FROM medic_web_sessions ORDER BY expires DESC OFFSET \(max(0, capacity - 1)))
                    """, logger: database.logger)
                try await connection.query("""
                    INSERT INTO medic_web_sessions (digest, identity, roles, csrf, expires)
                    VALUES (\(digest), \(session.identity), \(roles), \(session.csrf), \(session.expires))
                    """, logger: database.logger)
            }
        } catch {
            throw PostgresFailure("keeping a login of the web page", error, location: database.location)
        }
    }

    public func session(_ digest: String, now: Date) async throws -> WebSessionRecord? {
        do {
            let rows = try await database.client.query("""
                SELECT identity, roles, csrf, expires, flash_ok, flash_message FROM medic_web_sessions
                WHERE digest = \(digest) AND expires > \(now)
                """, logger: database.logger)
            var found: WebSessionRecord?
            for try await (identity, roles, csrf, expires, ok, message) in rows.decode((String, String, String, Date, Bool?, String?).self) {
                let flash = ok.flatMap { ok in message.map { WebSessionRecord.Flash(ok: ok, message: $0) } }
                found = WebSessionRecord(identity: identity, roles: roles.split(separator: ",").map(String.init), csrf: csrf, expires: expires, flash: flash)
            }
            return found
        } catch {
            throw PostgresFailure("reading a login of the web page", error, location: database.location)
        }
    }

    public func takeFlash(_ digest: String) async throws -> WebSessionRecord.Flash? {
        do {
            // The row locked by the sub-select, so of two pages asking at once one gets the flash.
            let rows = try await database.client.query("""
                UPDATE medic_web_sessions s SET flash_ok = NULL, flash_message = NULL
                FROM (SELECT digest, flash_ok, flash_message FROM medic_web_sessions WHERE digest = \(digest) FOR UPDATE) old
                WHERE s.digest = old.digest AND old.flash_ok IS NOT NULL
                RETURNING old.flash_ok, old.flash_message
                """, logger: database.logger)
            var flash: WebSessionRecord.Flash?
            for try await (ok, message) in rows.decode((Bool, String).self) { flash = .init(ok: ok, message: message) }
            return flash
        } catch {
            throw PostgresFailure("taking a web page's message", error, location: database.location)
        }
    }

    public func setFlash(_ digest: String, _ flash: WebSessionRecord.Flash) async throws {
        do {
            try await database.client.query("UPDATE medic_web_sessions SET flash_ok = \(flash.ok), flash_message = \(flash.message) WHERE digest = \(digest)",
                                            logger: database.logger)
        } catch {
            throw PostgresFailure("keeping a web page's message", error, location: database.location)
        }
    }

    public func close(_ digest: String) async throws {
        do {
            try await database.client.query("DELETE FROM medic_web_sessions WHERE digest = \(digest)", logger: database.logger)
        } catch {
            throw PostgresFailure("ending a login of the web page", error, location: database.location)
        }
    }
}
