import Foundation
import MedicEngine
import MedicPostgres
import MedicServer

/// Where `medic serve` keeps its shared state: the state directory's files, or a PostgreSQL
/// database several servers share (`--store`, `MEDIC_STORE`).
struct ServeStore {
    var stores: StateStores
    var incidents: any IncidentStoring
    /// The database, when there is one (shut down when the server stops).
    var database: StateDatabase?
    /// Who sends each escalation level, when servers share the database.
    var escalationClaims: (any EscalationClaims)?
    /// Where the alert groups' leads are kept, when servers share the database.
    var alertGroups: (any AlertGroupLeads)?
    /// Whether this server evaluates the anomaly rules now, when servers share the database.
    var rulesLeadership: (@Sendable () async -> Bool)?
    /// Where the web page's logins are kept, when servers share the database.
    var webSessions: (any WebSessionStoring)? = nil
    /// Who requested each run over the API, when servers share the database.
    var requesters: (any RunRequesterLedger)? = nil

    /// The database `text` names (`--store`, exit 2 when it is not an address), its pool
    /// started; nothing is sent to it yet.
    static func database(_ text: String, connectTimeout: Double) throws -> StateDatabase {
        let location: PostgresLocation
        do {
            location = try PostgresLocation(text)
        } catch {
            throw CommandFailure.usage("--store: \(error)")
        }
        return StateDatabase(location, connectTimeout: .milliseconds(Int64(connectTimeout * 1000)))
    }

    /// The database `text` names, answering within `connectTimeout` and with the schema this
    /// Medic knows; else a `CommandFailure` (exit 1), its pool shut down, nothing changed.
    static func current(_ text: String, connectTimeout: Double) async throws -> StateDatabase {
        let database = try database(text, connectTimeout: connectTimeout)
        do {
            try await database.reach(within: connectTimeout)
            try await SchemaMigrations.requireCurrent(database)
        } catch {
            await database.shutdown()
            throw CommandFailure("error: \(error)", "the database must answer and have the current schema (medic migrate --store ...)")
        }
        return database
    }

    /// The rules' leadership among the servers of `database`: a lease of `seconds`.
    static func leadership(_ database: StateDatabase, owner: String, seconds: Double) -> @Sendable () async -> Bool {
        let leadership = PostgresRulesLeadership(database, owner: owner, seconds: seconds)
        return { await leadership.lead() }
    }

    /// The stores of `--store` (else `$MEDIC_STORE`), else the state directory's. A database must
    /// answer within `connectTimeout` and have the schema this Medic knows (`medic migrate`).
    static func open(_ text: String?, files: StateStores, stateDirectory: String, owner: String, leaseSeconds: Double,
                     connectTimeout: Double, rulesLeaseSeconds: Double, clock: any EngineClock) async throws -> ServeStore {
        guard let text = text ?? ProcessInfo.processInfo.environment["MEDIC_STORE"], !text.isEmpty else {
            do {
                return ServeStore(stores: files, incidents: try FileIncidentStore(stateDirectory: stateDirectory), database: nil, escalationClaims: nil, alertGroups: nil, rulesLeadership: nil)
            } catch {
                throw CommandFailure("error: \(error)")
            }
        }
        let database = try await current(text, connectTimeout: connectTimeout)
        let stores = StateStores.postgres(database, owner: owner, leaseSeconds: leaseSeconds, clock: clock, local: files)
        return ServeStore(stores: stores, incidents: PostgresIncidentStore(database), database: database,
                          escalationClaims: PostgresEscalationArbiter(database, instance: owner), alertGroups: PostgresAlertGroupLeads(database),
                          rulesLeadership: leadership(database, owner: owner, seconds: rulesLeaseSeconds), webSessions: PostgresWebSessions(database),
                          requesters: PostgresRunRequesters(database))
    }
}
