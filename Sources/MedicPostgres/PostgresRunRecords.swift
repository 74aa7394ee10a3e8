import Foundation
import Logging
import MedicEngine
import PostgresNIO

/// Runs' journal records in the database, each written under the lease of the run that writes
/// it, carrying the lease's fencing token.
///
/// Guarantees (kept by the database, not by the writer):
/// - **Fenced**: a record whose token is no longer its lease's is rejected (`Refused.staleToken`),
///   however late it arrives: an instance that paused past its lease and woke up cannot write.
/// - **Sequence**: a run's records are numbered 1, 2, ... with no gap and no repeat
///   (`Refused.outOfOrder`); records are append-only.
/// - **All or nothing**: the records of one `append` are stored together or not at all, and are
///   durable (committed) when it returns.
public struct PostgresRunRecords: Sendable {
    public let database: StateDatabase

    public init(_ database: StateDatabase) { self.database = database }

    /// A write the database refused, and why.
    public enum Refused: Error, CustomStringConvertible, Equatable {
        /// The lease was taken over (or released): the writer lost it and must stop.
        case staleToken(lease: String, token: Int64)
        /// Not the run's next sequence number (a record is missing or was already written).
        case outOfOrder(run: String, seq: Int)

        public var description: String {
            switch self {
            case let .staleToken(lease, token):
                return "the lease \(lease) is no longer held with token \(token): another Medic took it over; this one stops writing"
            case let .outOfOrder(run, seq):
                return "record \(seq) of run \(run) is not the run's next record"
            }
        }
    }

    /// Appends `records` (their `seq` set, the next ones of `run`) under `lease`.
    public func append(_ records: [JournalRecord], run: String, under lease: Lease) async throws {
        guard !records.isEmpty else { return }
        let logger = database.logger
        do {
            try await database.client.withConnection { connection in
                try await Self.insert(records, run: run, under: lease, on: connection, logger: logger)
            }
        } catch {
            throw Self.refusal(error, run: run, lease: lease, firstSeq: records[0].seq, location: database.location)
        }
    }

    /// The one insert of records, on `connection` (in the caller's transaction, if any): the
    /// database's trigger checks each against its lease and the run's sequence.
    static func insert(_ records: [JournalRecord], run: String, under lease: Lease, on connection: StateConnection,
                       logger: Logger) async throws {
        let seqs = records.map(\.seq)
        let lines = try records.map { String(decoding: try JournalCodec.encode($0), as: UTF8.self) }
        try await connection.perform("""
            INSERT INTO medic_run_records (run_id, seq, record, lease, token)
            SELECT \(run), entry.seq, entry.record, \(lease.name), \(lease.token)
            FROM unnest(\(seqs)::integer[], \(lines)::text[]) WITH ORDINALITY AS entry(seq, record, position)
            ORDER BY entry.position
            """, logger: logger)
    }

    /// What an insert's failure means: the trigger's refusals as `Refused`, anything else as a
    /// `PostgresFailure`.
    static func refusal(_ error: any Error, run: String, lease: Lease, firstSeq: Int, location: PostgresLocation) -> any Error {
        let failure = PostgresFailure("writing records of run \(run)", error, location: location)
        switch failure.sqlState {
        case "MD001": return Refused.staleToken(lease: lease.name, token: lease.token)
        case "MD002", "23505": return Refused.outOfOrder(run: run, seq: firstSeq)
        default: return failure
        }
    }

    /// The run's records in order.
    public func records(of run: String) async throws -> [JournalRecord] {
        do {
            var records: [JournalRecord] = []
            let rows = try await database.client.query("SELECT record FROM medic_run_records WHERE run_id = \(run) ORDER BY seq",
                                                       logger: database.logger)
            for try await (line) in rows.decode(String.self) {
                records.append(try JournalCodec.decode(Substring(line)))
            }
            return records
        } catch let failure as PostgresFailure {
            throw failure
        } catch {
            throw PostgresFailure("reading the records of run \(run)", error, location: database.location)
        }
    }
}
