import Foundation
import MedicEngine
import PostgresNIO

/// The resilience guards' breaker states in the database (`medic_guard_states`, schema version
/// 9), shared by the servers (`GuardStateSharing`): one row per key, its last change, with a
/// version that grows at each. Times are the database's (`clock_timestamp()`): a reset timeout
/// is stored as the moment trials may start and read back as the seconds left, so the servers'
/// clocks need not agree.
public struct PostgresGuardStates: GuardStateStore {
    public let database: StateDatabase

    public init(_ database: StateDatabase) { self.database = database }

    public var location: String { "the database's guard states (medic_guard_states, \(database.location))" }

    public func record(key: String, state: String, reason: String, instance: String, retryIn: Double?) async throws {
        do {
            try await database.client.perform("""
                INSERT INTO medic_guard_states AS held (key, state, reason, instance, version, retry_at)
                VALUES (\(key), \(state), \(reason), \(instance), 1, clock_timestamp() + make_interval(secs => \(retryIn)))
                ON CONFLICT (key) DO UPDATE SET state = excluded.state, reason = excluded.reason, instance = excluded.instance,
                    version = held.version + 1, retry_at = excluded.retry_at, changed_at = clock_timestamp()
                """, logger: database.logger)
        } catch {
            throw PostgresFailure("recording the breaker state of \(key)", error, location: database.location)
        }
    }

    public func states() async throws -> [SharedGuardState] {
        do {
            var found: [SharedGuardState] = []
            let rows = try await database.client.query("""
                SELECT key, state, reason, instance, version, extract(epoch FROM retry_at - clock_timestamp())::float8
                FROM medic_guard_states ORDER BY key
                """, logger: database.logger)
            for try await (key, state, reason, instance, version, retryIn) in rows.decode((String, String, String, String, Int64, Double?).self) {
                found.append(SharedGuardState(key: key, state: state, reason: reason, instance: instance, version: version, retryIn: retryIn))
            }
            return found
        } catch {
            throw PostgresFailure("reading the breakers' states", error, location: database.location)
        }
    }
}
