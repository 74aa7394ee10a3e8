import Foundation
import MedicKnowledge
import PostgresNIO

/// The knowledge base in the database (schema version 6), so that every server sharing it
/// learns from every run, and a dead host takes no record with it.
///
/// Guarantees (those of `KnowledgeStore`, and):
/// - **Committed in order**: an append takes the knowledge base's advisory lock for its
///   transaction and draws its records' sequence numbers under it, so sequence order is commit
///   order and a follower reading "after N" never skips a record committed later with a lower
///   number.
/// - **Once per key**: an incident record is stored at most once per run id (a unique key; a
///   repeated append, by a server that took the run over or a retry, stores nothing more).
/// - **Durable when `append` returns**, whatever `durable` says: one committed transaction.
/// - Documents are replaced in one statement: a reader sees the old one or the new one.
///
/// The calls block their thread until the database answered (the protocol is synchronous; see
/// `BlockingSession`). A database that cannot be reached fails the call with a `KnowledgeError`.
public struct PostgresKnowledgeStore: KnowledgeStore {
    let session: BlockingSession
    let address: PostgresLocation

    public init(_ database: StateDatabase) {
        session = database.blocking
        address = database.location
    }

    public var location: String { "\(address) (knowledge base)" }

    /// Records read per round trip when following a file.
    static let page = 1000
    /// The advisory lock key of appends (`'medic-kb'` in ASCII).
    static let appendLock: Int64 = 0x6D65_6469_632D_6B62

    @discardableResult
    public func append(_ line: [UInt8], to file: KnowledgeFile, durable: Bool) throws -> [KnowledgeProblem] {
        try appendBatch([line], to: file, durable: durable)
    }

    @discardableResult
    public func appendBatch(_ lines: [[UInt8]], to file: KnowledgeFile, durable: Bool) throws -> [KnowledgeProblem] {
        guard file.isJSONLines else {
            throw KnowledgeError("\(file.name) is one JSON document, not lines: use replaceDocument")
        }
        guard !lines.isEmpty else { return [] }
        for (index, line) in lines.enumerated() {
            if let refusal = JSONLine.refusal(line) {
                let which = lines.count == 1 ? "the record" : "record \(index + 1) of \(lines.count)"
                throw KnowledgeError("cannot append to \(file.name) in \(location): \(which) is refused: \(refusal)")
            }
        }
        let records = lines.map { String(decoding: $0, as: UTF8.self) }
        let keys = lines.map { Self.key(of: $0, in: file) ?? "" }
        try run("appending to \(file.name)") { connection in
            try connection.transaction {
                _ = try connection.rows("SELECT pg_advisory_xact_lock(\(Self.appendLock))")
                _ = try connection.rows("""
                    INSERT INTO medic_knowledge_records (file, record_key, record)
                    SELECT \(file.name), nullif(entry.key, ''), entry.record
                    FROM unnest(\(keys)::text[], \(records)::text[]) WITH ORDINALITY AS entry(key, record, position)
                    ORDER BY entry.position
                    ON CONFLICT (file, record_key) DO NOTHING
                    """)
            }
        }
        return []
    }

    /// What makes a record of `file` the same record written again: an incident record's run id.
    static func key(of line: [UInt8], in file: KnowledgeFile) -> String? {
        guard file == .incidentHistory else { return nil }
        struct Keyed: Decodable {
            var runID: String?
            enum CodingKeys: String, CodingKey { case runID = "run_id" }
        }
        return (try? JSONDecoder().decode(Keyed.self, from: Data(line)))?.runID.flatMap { $0.isEmpty ? nil : $0 }
    }

    @discardableResult
    public func forEachLine(in file: KnowledgeFile,
                            _ body: (_ line: ArraySlice<UInt8>, _ number: Int) throws -> Void) throws -> [KnowledgeProblem] {
        guard file.isJSONLines else {
            throw KnowledgeError("\(file.name) is one JSON document, not lines: use readDocument")
        }
        var number = 0
        _ = try follow(file, after: 0) { line in
            number += 1
            try body(line, number)
        }
        return []
    }

    public func forEachLine(in file: KnowledgeFile, after position: KnowledgePosition, restarting: () -> Void,
                            _ body: (_ line: ArraySlice<UInt8>) throws -> Void) throws -> KnowledgePosition {
        guard file.isJSONLines else {
            throw KnowledgeError("\(file.name) is one JSON document, not lines: use readDocument")
        }
        var from = Int64(clamping: position.value)
        if from > 0 {
            // Records are never removed by Medic; a history shorter than the position was replaced
            // (restored from an older backup): read again from its start.
            let last = try run("reading \(file.name)") { connection in
                try connection.rows("SELECT coalesce(max(seq), 0) FROM medic_knowledge_records WHERE file = \(file.name)")
                    .first?.decode(Int64.self) ?? 0
            }
            if last < from {
                restarting()
                from = 0
            }
        }
        return KnowledgePosition(UInt64(try follow(file, after: from, body)))
    }

    /// Each record of `file` after sequence number `after`, a page at a time; the last number read.
    private func follow(_ file: KnowledgeFile, after: Int64, _ body: (_ line: ArraySlice<UInt8>) throws -> Void) throws -> Int64 {
        var last = after
        while true {
            let rows = try run("reading \(file.name)") { connection in
                try connection.rows("""
                    SELECT seq, record FROM medic_knowledge_records WHERE file = \(file.name) AND seq > \(last)
                    ORDER BY seq LIMIT \(Self.page)
                    """).map { try $0.decode((Int64, String).self) }
            }
            for (seq, record) in rows {
                try body(Array(record.utf8)[...])
                last = seq
            }
            if rows.count < Self.page { return last }
        }
    }

    public func replaceDocument(_ bytes: [UInt8], of file: KnowledgeFile) throws {
        guard !file.isJSONLines else { throw KnowledgeError("\(file.name) is JSON Lines: use append") }
        guard (try? JSONSerialization.jsonObject(with: Data(bytes), options: [])) != nil else {
            throw KnowledgeError("cannot replace \(file.name) in \(location): the document is not valid JSON")
        }
        let document = String(decoding: bytes, as: UTF8.self)
        try run("replacing \(file.name)") { connection in
            _ = try connection.rows("""
                INSERT INTO medic_knowledge_documents (file, document) VALUES (\(file.name), \(document))
                ON CONFLICT (file) DO UPDATE SET document = excluded.document, replaced_at = clock_timestamp()
                """)
        }
    }

    public func readDocument(_ file: KnowledgeFile) throws -> [UInt8]? {
        guard !file.isJSONLines else { throw KnowledgeError("\(file.name) is JSON Lines: use read") }
        return try run("reading \(file.name)") { connection in
            try connection.rows("SELECT document FROM medic_knowledge_documents WHERE file = \(file.name)")
                .first.map { Array(try $0.decode(String.self).utf8) }
        }
    }

    /// `body` on the session, its database errors said as `KnowledgeError`s naming `doing`.
    private func run<T>(_ doing: String, _ body: (BlockingSession.Connection) throws -> T) throws -> T {
        do {
            return try session.with(body)
        } catch let error as PostgresFailure {
            throw KnowledgeError("\(error)")
        } catch let error as PSQLError {
            throw KnowledgeError("\(PostgresFailure(doing + " in the knowledge base", error, location: address))")
        }
    }
}
