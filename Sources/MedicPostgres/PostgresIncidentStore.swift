import Foundation
import MedicServer
import PostgresNIO

/// Alert incidents in the database (`PostgresIncidents`), as `medic serve` keeps them.
///
/// Guarantees, as `IncidentStoring` asks: of any number of instances opening one key, one
/// creates it (the primary key); `resolve` and `update` hold the incident's row from their read
/// to their write, so no change is lost and no other change comes between; committed when they
/// return.
public struct PostgresIncidentStore: IncidentStoring {
    public let incidents: PostgresIncidents

    public init(_ database: StateDatabase) { incidents = PostgresIncidents(database) }

    public var location: String { "\(incidents.database.location)" }

    public func keys() async throws -> [String] { try await incidents.keys() }

    /// A `SELECT 1` that must answer within 2 s.
    public func unavailability() async -> String? {
        do {
            try await incidents.database.ping(within: 2)
            return nil
        } catch {
            return "\(error)"
        }
    }

    public func open(_ incident: AlertIncident) async throws -> (incident: AlertIncident, created: Bool) {
        let (stored, created) = try await incidents.open(key: incident.key, body: try Self.encode(incident))
        return (try Self.decode(stored), created)
    }

    public func resolve(key: String, at time: String) async throws -> AlertIncident? {
        switch try await update(key: key, { incident in
            guard incident.status != .resolved else { return "resolved already" }
            incident.status = .resolved
            incident.resolvedAt = time
            return nil
        }) {
        case .none: return nil
        case .changed(let incident): return incident
        case .refused: return try await self.incident(key: key)
        }
    }

    /// Holds the incident's row (`SELECT ... FOR UPDATE`) from the read to the write, in one
    /// transaction: `change` runs once, with no other change of the incident between, and a
    /// change it refuses or throws on writes nothing.
    public func update(key: String, _ change: (inout AlertIncident) async throws -> String?) async throws -> IncidentUpdate? {
        let database = incidents.database, logger = incidents.database.logger
        do {
            return try await database.client.withTransaction(logger: logger) { connection -> IncidentUpdate? in
                var stored: PostgresIncidents.Stored?
                let rows = try await connection.query("SELECT key, body, version FROM medic_incidents WHERE key = \(key) FOR UPDATE",
                                                      logger: logger)
                for try await (key, body, version) in rows.decode((String, String, Int).self) {
                    stored = PostgresIncidents.Stored(key: key, body: body, version: version)
                }
                guard let stored else { return nil }
                var incident = try Self.decode(stored)
                if let refusal = try await change(&incident) { return .refused(refusal) }
                let body = try Self.encode(incident)
                try await connection.perform("""
                    UPDATE medic_incidents SET body = \(body), version = version + 1, changed_at = clock_timestamp() WHERE key = \(key)
                    """, logger: logger)
                return .changed(incident)
            }
        } catch let damaged as DamagedIncident {
            throw damaged
        } catch {
            throw PostgresFailure("updating the incident \(key)", error, location: database.location)
        }
    }

    public func incident(key: String) async throws -> AlertIncident? {
        try await incidents.incident(key: key).map(Self.decode)
    }

    public func all() async -> (incidents: [AlertIncident], problems: [String]) {
        do {
            var found: [AlertIncident] = [], problems: [String] = []
            for stored in try await incidents.all() {
                do { found.append(try Self.decode(stored)) } catch { problems.append("\(error)") }
            }
            return (found, problems)
        } catch {
            return ([], ["\(error)"])
        }
    }

    static func encode(_ incident: AlertIncident) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(incident), as: UTF8.self)
    }

    static func decode(_ stored: PostgresIncidents.Stored) throws -> AlertIncident {
        do {
            return try JSONDecoder().decode(AlertIncident.self, from: Data(stored.body.utf8))
        } catch {
            throw DamagedIncident(key: stored.key, cause: error)
        }
    }

    struct DamagedIncident: Error, CustomStringConvertible {
        let key: String
        let cause: any Error
        var description: String { "the incident \(key) in the database cannot be read: \(cause)" }
    }
}

/// Escalation levels claimed in the database (`PostgresEscalationClaims`), so that of the servers
/// sharing it one sends each level. A claim lasts `seconds`: longer than a channel's timeout with
/// its retries, or another server may send the level again while the first still tries.
public struct PostgresEscalationArbiter: EscalationClaims {
    public let claims: PostgresEscalationClaims
    public let instance: String
    public let seconds: Double

    public init(_ database: StateDatabase, instance: String, seconds: Double = 120) {
        claims = PostgresEscalationClaims(database)
        self.instance = instance
        self.seconds = seconds
    }

    public func claim(incident: String, level: Int) async throws -> EscalationClaim {
        if try await claims.claim(incident: incident, level: level, instance: instance, seconds: seconds) { return .mine }
        return try await claims.sent(incident: incident).contains(level) ? .sentElsewhere : .heldElsewhere
    }

    public func markSent(incident: String, level: Int) async throws {
        _ = try await claims.markSent(incident: incident, level: level, instance: instance)
    }
}
