import Foundation
import Logging
import PostgresNIO

/// Incidents in the database by key, their bodies kept as the server encodes them.
///
/// Guarantees:
/// - **Atomic claim of a key** (`open`): of any number of instances opening one key at once,
///   exactly one creates it (a primary key, `ON CONFLICT DO NOTHING`); every other gets the
///   stored incident and `created: false`, and starts nothing.
/// - **No lost update** (`update`): a change names the version it read; it is written only if
///   that is still the stored version, so two instances changing one incident at once cannot
///   overwrite each other (the second learns it must read again).
/// - **Durable** when a call returns (committed).
public struct PostgresIncidents: Sendable {
    public struct Stored: Sendable, Equatable {
        public var key: String
        public var body: String
        /// 1 when opened, one more at each update.
        public var version: Int
    }

    public let database: StateDatabase

    public init(_ database: StateDatabase) { self.database = database }

    public func open(key: String, body: String) async throws -> (incident: Stored, created: Bool) {
        do {
            let inserted = try await first(try await database.client.query(
                "INSERT INTO medic_incidents (key, body) VALUES (\(key), \(body)) ON CONFLICT (key) DO NOTHING RETURNING key, body, version",
                logger: database.logger))
            if let inserted { return (inserted, true) }
            guard let existing = try await incident(key: key) else {
                throw PostgresFailure("opening the incident \(key)", Missing(), location: database.location)
            }
            return (existing, false)
        } catch let failure as PostgresFailure {
            throw failure
        } catch {
            throw PostgresFailure("opening the incident \(key)", error, location: database.location)
        }
    }

    /// Writes `body` if the stored version is still `version`: the new incident, or nil when
    /// another writer changed it first (read it again and decide again).
    public func update(key: String, from version: Int, to body: String) async throws -> Stored? {
        do {
            return try await first(try await database.client.query("""
                UPDATE medic_incidents SET body = \(body), version = version + 1, changed_at = clock_timestamp()
                WHERE key = \(key) AND version = \(version) RETURNING key, body, version
                """, logger: database.logger))
        } catch {
            throw PostgresFailure("updating the incident \(key)", error, location: database.location)
        }
    }

    public func incident(key: String) async throws -> Stored? {
        do {
            return try await first(try await database.client.query("SELECT key, body, version FROM medic_incidents WHERE key = \(key)",
                                                                    logger: database.logger))
        } catch {
            throw PostgresFailure("reading the incident \(key)", error, location: database.location)
        }
    }

    /// Every incident's key, in the order they were opened.
    public func keys() async throws -> [String] {
        do {
            var keys: [String] = []
            let rows = try await database.client.query("SELECT key FROM medic_incidents ORDER BY opened_at, key", logger: database.logger)
            for try await (key) in rows.decode(String.self) { keys.append(key) }
            return keys
        } catch {
            throw PostgresFailure("listing the incidents' keys", error, location: database.location)
        }
    }

    /// Every incident, in the order they were opened.
    public func all() async throws -> [Stored] {
        do {
            var found: [Stored] = []
            let rows = try await database.client.query("SELECT key, body, version FROM medic_incidents ORDER BY opened_at, key",
                                                       logger: database.logger)
            for try await (key, body, version) in rows.decode((String, String, Int).self) {
                found.append(Stored(key: key, body: body, version: version))
            }
            return found
        } catch {
            throw PostgresFailure("listing the incidents", error, location: database.location)
        }
    }

    private func first(_ rows: PostgresRowSequence) async throws -> Stored? {
        var found: Stored?
        for try await (key, body, version) in rows.decode((String, String, Int).self) { found = Stored(key: key, body: body, version: version) }
        return found
    }

    struct Missing: Error, CustomStringConvertible {
        var description: String { "the incident's key was taken but no incident has it" }
    }
}
