import Foundation
import MedicServer
import MedicText
import PostgresNIO

/// The immune events (`POST /api/v1/events`) in the database several servers share
/// (`medic_immune_events`, schema version 9): an event posted to any server is stored once, is
/// listed by every server, and is not lost with the server that took it.
///
/// Guarantees (those of `ImmuneEventStoring`):
/// - **Durable before `store` returns**: one committed `INSERT`.
/// - **Once per id**: the id is the table's primary key (`ON CONFLICT DO NOTHING`); of any
///   number of servers storing one id, one answers `.stored`, the others `.existing` or
///   `.conflict` with the stored event.
/// - **Whole**: an event is one row.
/// - **Read after write**: an event this server stored is listed here at once; another server's
///   is listed once this server has read it: every `follow` seconds (an event whose transaction
///   committed late, after one with a greater `seq`, is still read: each read looks again at the
///   last five minutes' rows).
public final class PostgresImmuneEventStore: ImmuneEventStoring, @unchecked Sendable {  // state under `lock`
    public let database: StateDatabase
    private let lock = NSLock()
    private var known: [String: (seq: Int64, event: ImmuneEvent)] = [:]
    private var lastSeq: Int64 = 0
    private var follower: Task<Void, Never>?

    public var location: String { "\(database.location) (medic_immune_events)" }

    /// Reads the stored events, then reads what others store every `follow` seconds for as long
    /// as the store is kept.
    public static func open(_ database: StateDatabase, follow seconds: Double = 1) async throws -> PostgresImmuneEventStore {
        let store = PostgresImmuneEventStore(database)
        try await store.catchUp()
        store.follower = Task { [weak store] in
            while !Task.isCancelled {
                try? await Task.sleep(nanoseconds: UInt64(max(seconds, 0.05) * 1e9))
                guard let store else { return }
                // A database away: the next round reads what was missed.
                try? await store.catchUp()
            }
        }
        return store
    }

    private init(_ database: StateDatabase) { self.database = database }

    deinit { follower?.cancel() }

    public func store(_ event: ImmuneEvent) async throws -> ImmuneEventStoreOutcome {
        let line = String(decoding: event.jsonLine(), as: UTF8.self)
        let logger = database.logger
        do {
            // On a connection of its own (never carried out after the post was answered 503).
            let (inserted, stored) = try await database.client.withConnection { connection -> (Int64?, (Int64, ImmuneEvent)?) in
                var inserted: Int64?
                for try await (seq) in try await connection.query("""
                    INSERT INTO medic_immune_events (id, event, created_at) VALUES (\(event.id), \(line), \(event.createdAt.rfc3339()))
                    ON CONFLICT (id) DO NOTHING RETURNING seq
                    """, logger: logger).decode(Int64.self) { inserted = seq }
                if inserted != nil { return (inserted, nil) }
                var stored: (Int64, ImmuneEvent)?
                for try await (seq, text) in try await connection.query(
                    "SELECT seq, event FROM medic_immune_events WHERE id = \(event.id)", logger: logger).decode((Int64, String).self) {
                    if let read = ImmuneEvent.read(line: Array(text.utf8)) { stored = (seq, read) }
                }
                return (nil, stored)
            }
            if let inserted {
                remember(event, seq: inserted)
                return .stored(event)
            }
            guard let (seq, existing) = stored else {
                throw ImmuneEventStoreError(description: "the event \(event.id) is in \(location) but could not be read")
            }
            remember(existing, seq: seq)
            return existing.sameReport(as: event) ? .existing(existing) : .conflict(existing)
        } catch let error as ImmuneEventStoreError {
            throw error
        } catch {
            throw ImmuneEventStoreError(description: "\(PostgresFailure("storing the immune event \(event.id)", error, location: database.location))")
        }
    }

    public func events(since: Timestamp) -> [ImmuneEvent] {
        lock.withLock { known.values.filter { $0.event.createdAt >= since }.sorted { $0.seq < $1.seq }.map(\.event) }
    }

    /// Reads the rows stored since the last read, and again those of the last five minutes.
    func catchUp() async throws {
        let after = lock.withLock { lastSeq }
        var read: [(Int64, ImmuneEvent)] = []
        do {
            for try await (seq, text) in try await database.client.query("""
                SELECT seq, event FROM medic_immune_events
                WHERE seq > \(after) OR received_at > clock_timestamp() - interval '5 minutes' ORDER BY seq
                """, logger: database.logger).decode((Int64, String).self) {
                if let event = ImmuneEvent.read(line: Array(text.utf8)) { read.append((seq, event)) }
            }
        } catch {
            throw ImmuneEventStoreError(description: "\(PostgresFailure("reading the immune events", error, location: database.location))")
        }
        for (seq, event) in read { remember(event, seq: seq) }
    }

    private func remember(_ event: ImmuneEvent, seq: Int64) {
        lock.withLock {
            known[event.id] = (seq, event)
            lastSeq = max(lastSeq, seq)
        }
    }
}
