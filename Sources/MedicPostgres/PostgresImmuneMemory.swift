import Foundation
import MedicKnowledge
import PostgresNIO

/// The immune memory in the database (`medic_immune_memory`, schema version 6): one document
/// (`ImmuneMemoryDocument`'s), so every server sharing the database consults what any of them
/// learned.
///
/// Guarantees (those of `ImmuneMemoryStore`): an update holds the memory row's lock (an advisory
/// lock when there is no row yet) from its read to its commit, so updates of every server are
/// serialised and none is lost; a document that does not decode throws and is left as it is; a
/// read sees the last committed memory, decoded again only when its version changed.
public final class PostgresImmuneMemory: ImmuneMemoryStore, @unchecked Sendable {
    let session: BlockingSession
    let address: PostgresLocation
    private let lock = NSLock()
    /// The memory as last read or written here, by the version it had and its capacity.
    private var cached: (version: Int64, capacity: Int, memory: ImmuneMemory)?

    static let name = "memory"
    /// The advisory lock key of the first update (`'medic-im'` in ASCII).
    static let updateLock: Int64 = 0x6D65_6469_632D_696D

    public init(_ database: StateDatabase) {
        session = database.blocking
        address = database.location
    }

    public var location: String { "\(address) (immune memory)" }

    public func read(capacity: Int, at now: Date) throws -> ImmuneMemory {
        try run("reading the immune memory") { connection in
            let version = try connection.rows("SELECT version FROM medic_immune_memory WHERE name = \(Self.name)")
                .first?.decode(Int64.self)
            guard let version else { return ImmuneMemory(capacity: capacity) }
            if let cached = lock.withLock({ cached }), cached.version == version, cached.capacity == capacity { return cached.memory }
            guard let (stored, document) = try load(connection, capacity: capacity, at: now, forUpdate: false) else {
                return ImmuneMemory(capacity: capacity)
            }
            // A read that evicted entries is not remembered: the next update must find, save and report them.
            if document.changes.isEmpty { lock.withLock { cached = (stored, capacity, document.memory) } }
            return document.memory
        }
    }

    public func update<T>(capacity: Int, at now: Date,
                          _ body: (inout ImmuneMemory) throws -> (T, [ImmuneMemoryChange])) throws -> (T, [ImmuneMemoryChange]) {
        try run("updating the immune memory") { connection in
            try connection.transaction {
                _ = try connection.rows("SELECT pg_advisory_xact_lock(\(Self.updateLock))")
                var memory = ImmuneMemory(capacity: capacity)
                var changes: [ImmuneMemoryChange] = []
                var version: Int64 = 0
                if let (stored, document) = try load(connection, capacity: capacity, at: now, forUpdate: true) {
                    (memory, changes, version) = (document.memory, document.changes, stored)
                }
                let before = memory
                let (result, made) = try body(&memory)
                if memory != before || !changes.isEmpty {
                    let document = String(decoding: try ImmuneMemoryDocument.encode(memory), as: UTF8.self)
                    version += 1
                    _ = try connection.rows("""
                        INSERT INTO medic_immune_memory (name, document, version) VALUES (\(Self.name), \(document), \(version))
                        ON CONFLICT (name) DO UPDATE SET document = excluded.document, version = excluded.version,
                            updated_at = clock_timestamp()
                        """)
                }
                lock.withLock { cached = (version, capacity, memory) }
                return (result, changes + made)
            }
        }
    }

    /// The stored memory and its version; nil when none was ever saved.
    private func load(_ connection: BlockingSession.Connection, capacity: Int, at now: Date, forUpdate: Bool) throws
        -> (Int64, (memory: ImmuneMemory, changes: [ImmuneMemoryChange]))? {
        let rows = try connection.rows(forUpdate
            ? "SELECT version, document FROM medic_immune_memory WHERE name = \(Self.name) FOR UPDATE"
            : "SELECT version, document FROM medic_immune_memory WHERE name = \(Self.name)")
        guard let (version, document) = try rows.first?.decode((Int64, String).self) else { return nil }
        return (version, try ImmuneMemoryDocument.decode(Array(document.utf8), from: location, capacity: capacity, at: now))
    }

    private func run<T>(_ doing: String, _ body: (BlockingSession.Connection) throws -> T) throws -> T {
        do {
            return try session.with(body)
        } catch let error as PostgresFailure {
            throw KnowledgeError("\(error)")
        } catch let error as PSQLError {
            throw KnowledgeError("\(PostgresFailure(doing, error, location: address))")
        }
    }
}
