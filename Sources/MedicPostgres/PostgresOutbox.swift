import Foundation
import Logging
import MedicEngine
import MedicServer
import PostgresNIO

/// The bus outbox in the database (the transactional outbox pattern): an event is stored in the
/// same transaction as the change it announces, so it is published only if that change
/// committed; dispatchers on any number of instances publish it afterwards.
///
/// Guarantees:
/// - **Once stored, published at least once**: `dispatch` marks an event dispatched only in the
///   transaction that publishes it, after the publish succeeded; a dispatcher that dies (or whose
///   publish fails) leaves its events for the next one. Consumers deduplicate on the event id
///   (a CloudEvent's `id`), which `enqueue` keeps unique.
/// - **No two dispatchers publish one event at once**: each batch is taken with
///   `FOR UPDATE SKIP LOCKED`; concurrent dispatchers take disjoint batches.
/// - **In order** within one dispatcher's batch (by the order of storing).
public struct PostgresOutbox: Sendable {
    public let database: StateDatabase

    public init(_ database: StateDatabase) { self.database = database }

    /// Stores `events` on `connection` (inside the caller's transaction); an event whose id is
    /// already stored is kept as it was (an idempotent retry).
    public static func enqueue(_ events: [OutboxEvent], on connection: StateConnection, logger: Logger) async throws {
        guard !events.isEmpty else { return }
        let ids = events.map(\.id), bodies = events.map { String(decoding: $0.json, as: UTF8.self) }
        try await connection.perform("""
            INSERT INTO medic_outbox (event_id, event)
            SELECT entry.id, entry.event FROM unnest(\(ids)::text[], \(bodies)::text[]) WITH ORDINALITY AS entry(id, event, position)
            ORDER BY entry.position
            ON CONFLICT (event_id) DO NOTHING
            """, logger: logger)
    }

    /// Stores `events` in a transaction of their own.
    public func enqueue(_ events: [OutboxEvent]) async throws {
        let logger = database.logger
        do {
            try await database.client.withTransaction(logger: logger) { connection in
                try await Self.enqueue(events, on: connection, logger: logger)
            }
        } catch {
            throw PostgresFailure("storing events in the outbox", error, location: database.location)
        }
    }

    /// Takes up to `limit` waiting events no other dispatcher holds, hands them to `publish` in
    /// order, and marks them dispatched when it returns; if it throws, they stay waiting (their
    /// `attempts` counted) and the error is rethrown. The number dispatched.
    @discardableResult
    public func dispatch(limit: Int = 100, _ publish: @Sendable ([OutboxEvent]) async throws -> Void) async throws -> Int {
        let logger = database.logger
        let claimed: [(Int64, OutboxEvent)]
        do {
            claimed = try await database.client.withTransaction(logger: logger) { connection in
                var batch: [(Int64, OutboxEvent)] = []
                let rows = try await connection.query("""
                    SELECT id, event_id, event FROM medic_outbox WHERE dispatched_at IS NULL
                    ORDER BY id LIMIT \(limit) FOR UPDATE SKIP LOCKED
                    """, logger: logger)
                for try await (row, id, event) in rows.decode((Int64, String, String).self) {
                    batch.append((row, OutboxEvent(id: id, json: Array(event.utf8))))
                }
                guard !batch.isEmpty else { return [] }
                let rowIDs = batch.map(\.0)
                do {
                    try await publish(batch.map(\.1))
                } catch {
                    throw PublishFailed(cause: error, rows: rowIDs)
                }
                try await connection.perform(
                    "UPDATE medic_outbox SET dispatched_at = clock_timestamp(), attempts = attempts + 1 WHERE id = ANY(\(rowIDs)::bigint[])",
                    logger: logger)
                return batch
            }
        } catch {
            if let failed = error as? PublishFailed {
                _ = try? await database.client.query("UPDATE medic_outbox SET attempts = attempts + 1 WHERE id = ANY(\(failed.rows)::bigint[])",
                                                 logger: logger)
                throw failed.cause
            }
            throw PostgresFailure("dispatching the outbox", error, location: database.location)
        }
        return claimed.count
    }

    /// Events stored and not yet dispatched.
    public func waiting() async throws -> Int {
        do {
            var count = 0
            for try await (found) in try await database.client.query("SELECT count(*) FROM medic_outbox WHERE dispatched_at IS NULL",
                                                                     logger: database.logger).decode(Int.self) { count = found }
            return count
        } catch {
            throw PostgresFailure("counting the outbox", error, location: database.location)
        }
    }

    struct PublishFailed: Error {
        let cause: any Error
        let rows: [Int64]
    }
}

/// The servers of the database drain its outbox through their relays (`OutboxRelay`).
extension PostgresOutbox: OutboxDispatching {}
