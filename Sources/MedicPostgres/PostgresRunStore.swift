import Foundation
import Logging
import MedicEngine
import PostgresNIO

/// Runs in the database: each run id claimed once, its journal's records written under the
/// run's lease (`run:<id>`) and fenced by its token, and the run's summary (what `medic runs`
/// lists) kept in the same transaction as the records that change it.
///
/// Guarantees:
/// - **Atomic claim of a run id** (`create`): of any number of instances creating one id,
///   exactly one succeeds; an id once used is never given again.
/// - **Exclusive owner**: a run is written only by the holder of its lease; `reopen` takes a run
///   over only once its lease expired (its instance died or stopped renewing), with a new token,
///   so the old holder's late writes are rejected by the database.
/// - **Records and summary together**: an append and the summary it changes commit together.
/// - A run with no outcome whose lease expired reads `interrupted` (`list`, `inspect`).
public struct PostgresRunStore: Sendable {
    public let database: StateDatabase
    /// This instance, as lease owner.
    public let owner: String
    /// How long a run's lease lasts without renewal.
    public let leaseSeconds: Double

    /// The time of records appended without one, and of new run ids.
    public let clock: any EngineClock
    /// What this store has read and decided, shared by its copies (history, stopping).
    let state = PostgresRunStoreState()

    public init(_ database: StateDatabase, owner: String, leaseSeconds: Double = 30, clock: any EngineClock = SystemClock()) {
        self.database = database
        self.owner = owner
        self.leaseSeconds = leaseSeconds
        self.clock = clock
    }

    public static func leaseName(_ runID: String) -> String { "run:" + runID }

    /// Claims `runID` and takes its lease, in one transaction (a crash in between leaves neither):
    /// the journal to append to, beginning with `run_started`. A run id claimed before whose
    /// first record never landed (its claimer died or lost the database right after the claim)
    /// is not a run: once its lease has expired it is claimed again, or its incident would never
    /// get a run.
    public func claim(runID: String) async throws -> PostgresRunJournal {
        guard RunStore.isValidRunID(runID) else { throw JournalError("cannot create run '\(runID)': not a valid name") }
        guard !state.isStopping else { throw JournalError("cannot create run '\(runID)': Medic is stopping") }
        let logger = database.logger, owner = owner, seconds = leaseSeconds, name = Self.leaseName(runID)
        struct Taken: Error {}
        do {
            let lease: Lease = try await database.client.withTransaction(logger: logger) { connection in
                var claimed = false
                for try await _ in try await connection.query(
                    """
                    INSERT INTO medic_runs (run_id, created_by) VALUES (\(runID), \(owner))
                    ON CONFLICT (run_id) DO UPDATE SET created_by = excluded.created_by, created_at = clock_timestamp()
                        WHERE NOT EXISTS (SELECT 1 FROM medic_run_records r WHERE r.run_id = excluded.run_id)
                    RETURNING run_id
                    """,
                    logger: logger).decode(String.self) { claimed = true }
                guard claimed else { throw Taken() }
                var lease: Lease?
                for try await (name, owner, token, expires) in try await connection.query("""
                    INSERT INTO medic_leases AS held (name, owner, token, acquired_at, expires_at)
                    VALUES (\(name), \(owner), nextval('medic_fencing_tokens'), clock_timestamp(), clock_timestamp() + make_interval(secs => \(seconds)))
                    ON CONFLICT (name) DO UPDATE
                        SET owner = excluded.owner, token = nextval('medic_fencing_tokens'), acquired_at = clock_timestamp(), expires_at = clock_timestamp() + make_interval(secs => \(seconds))
                        WHERE held.expires_at <= clock_timestamp()
                    RETURNING name, owner, token, expires_at
                    """, logger: logger).decode((String, String, Int64, Date).self) {
                    lease = Lease(name: name, owner: owner, token: token, expiresAt: expires)
                }
                guard let lease else { throw Taken() }
                return lease
            }
            return PostgresRunJournal(store: self, runID: runID, lease: lease, lastSeq: 0, summary: nil)
        } catch {
            if error is Taken { throw JournalError("cannot create run '\(runID)': the id is taken") }
            throw PostgresFailure("claiming run \(runID)", error, location: database.location)
        }
    }

    /// Takes over a run whose lease expired (or was released): its journal, appending after the
    /// records returned. nil while another instance holds the lease.
    public func takeOver(runID: String) async throws -> (PostgresRunJournal, [JournalRecord])? {
        guard let lease = try await PostgresLeases(database).acquire(Self.leaseName(runID), owner: owner, seconds: leaseSeconds) else {
            return nil
        }
        state.claimed(runID)
        let records = try await PostgresRunRecords(database).records(of: runID)
        guard !records.isEmpty else { throw JournalError("run \(runID) has no records in \(database.location)") }
        let summary = RunStore.summary(id: runID, records: records, status: RunStore.status(of: records), path: "")
        return (PostgresRunJournal(store: self, runID: runID, lease: lease, lastSeq: records.last?.seq ?? 0, summary: summary), records)
    }

    public func records(of runID: String) async throws -> [JournalRecord] {
        try await PostgresRunRecords(database).records(of: runID)
    }

    /// Every run with records, oldest first; a run without an outcome whose lease expired is
    /// `interrupted`.
    public func summaries() async throws -> [RunSummary] {
        do {
            var runs: [RunSummary] = []
            let rows = try await database.client.query("""
                SELECT r.summary, (l.name IS NOT NULL AND l.expires_at > clock_timestamp()) AS held
                FROM medic_runs r LEFT JOIN medic_leases l ON l.name = 'run:' || r.run_id
                WHERE r.summary IS NOT NULL ORDER BY r.started_at, r.run_id
                """, logger: database.logger)
            for try await (text, held) in rows.decode((String, Bool).self) {
                var summary = try JSONDecoder().decode(RunSummary.self, from: Data(text.utf8))
                if summary.status == .running && !held { summary.status = .interrupted }
                runs.append(summary)
            }
            return runs
        } catch {
            throw PostgresFailure("listing the runs", error, location: database.location)
        }
    }
}

/// One run's journal in the database, written by the holder of its lease.
public actor PostgresRunJournal {
    public nonisolated let runID: String
    nonisolated let store: PostgresRunStore
    nonisolated let observers = JournalObservers()
    public private(set) var lease: Lease
    private var nextSeq: Int
    private var summary: RunSummary?

    init(store: PostgresRunStore, runID: String, lease: Lease, lastSeq: Int, summary: RunSummary?) {
        self.store = store
        self.runID = runID
        self.lease = lease
        nextSeq = lastSeq + 1
        self.summary = summary
    }

    /// Appends `records` (their `seq` and `at` filled in here) with the summary they make, in one
    /// transaction; committed when it returns. Throws `PostgresRunRecords.Refused.staleToken`
    /// when the lease was taken over: this instance must stop the run.
    @discardableResult
    public func append(_ records: [JournalRecord], now: Date) async throws -> [JournalRecord] {
        // Nothing to write writes nothing: no summary goes in without a record the fencing check saw.
        guard !records.isEmpty else { return [] }
        let at = JournalRecord.timestamp(now)
        var stamped: [JournalRecord] = []
        var next = summary
        for (offset, var record) in records.enumerated() {
            record.seq = nextSeq + offset
            record.at = at
            if let changed = RunStore.indexedSummary(after: record, from: next, runID: runID) { next = changed }
            stamped.append(record)
        }
        let database = store.database, lease = lease, runID = runID, written = stamped
        let summaryText = try next.map { String(decoding: try JSONEncoder().encode($0), as: UTF8.self) }
        let logger = database.logger
        do {
            try await database.client.withTransaction(logger: logger) { connection in
                try await PostgresRunRecords.insert(written, run: runID, under: lease, on: connection, logger: logger)
                if let summaryText, let next {
                    try await connection.perform("""
                        UPDATE medic_runs SET summary = \(summaryText), status = \(next.status.rawValue), playbook = \(next.playbookID),
                            started_at = \(next.startedAt)
                        WHERE run_id = \(runID)
                        """, logger: logger)
                }
            }
        } catch {
            throw PostgresRunRecords.refusal(error, run: runID, lease: lease, firstSeq: stamped[0].seq, location: database.location)
        }
        nextSeq += stamped.count
        summary = next
        return stamped
    }

    /// Extends the run's lease; false when it was lost (taken over): stop the run.
    public func renew() async throws -> Bool {
        guard let renewed = try await PostgresLeases(store.database).renew(lease, seconds: store.leaseSeconds) else { return false }
        lease = renewed
        return true
    }

    /// Gives the lease up (the run finished, or this instance stops).
    public func release() async throws {
        try await PostgresLeases(store.database).release(lease)
    }
}
