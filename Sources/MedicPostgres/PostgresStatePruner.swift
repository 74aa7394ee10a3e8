import Foundation
import Logging
import MedicEngine
import MedicModel
import PostgresNIO

/// What a prune of the database did (or, in a dry run, would do).
public struct PostgresPruneReport: Sendable {
    /// A run whose rows went, and why.
    public struct PrunedRun: Sendable, Hashable, Codable {
        public var run: String
        public var reason: String
    }

    public var dryRun: Bool
    /// The runs pruned, oldest first.
    public var runs: [PrunedRun] = []
    /// Rows deleted (or that a dry run would delete), by table; every table the prune looks at
    /// is named, with 0 when nothing went.
    public var removed: [String: Int] = [:]
    /// Runs left, by why they stay (`RunRetention.KeepReason`, and `firing_incident`).
    public var kept: [String: Int] = [:]
    /// What could not be done, each with its reason: the exit status is 1.
    public var failures: [String] = []
    /// Nothing was done: another prune holds the lock (said in `failures` too).
    public var busy = false

    /// The line a person reads for each table, in a stable order.
    public var tableLines: [String] {
        removed.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value) row(s) " + (dryRun ? "would be deleted" : "deleted") }
    }
}

/// `medic prune --store`: applies a `RetentionPolicy` to the shared database, with the
/// guarantees of the file store's prune.
///
/// - **Never a run that is needed**: the runs are chosen by `RunRetention.decide` (unfinished,
///   pending approval, counted by a rate limit's window or a breaker, a playbook's newest
///   success: kept), and a run still referenced by a firing incident is kept too (the takeover
///   pass would start a firing incident's missing run again). Each batch locks its runs' rows and
///   takes only those still finished, unleased and not referenced by a firing incident; the
///   database itself refuses to delete the records of a run whose lease is held.
/// - **One transaction per batch** (`batchSize` runs, or rows of another table): a prune
///   stopped part-way leaves whole batches done and the rest as it was; the next prune goes on.
/// - **One prune at a time** per database: a session advisory lock, held for the whole prune
///   (a second prune, or a server's scheduled one, fails at once instead of waiting); it is
///   released when the prune ends or its connection dies.
/// - **Dry run**: the same statements in one transaction rolled back at its end (each batch a
///   savepoint): the counts are the prune's, and nothing changes. It holds the rows it would
///   delete until it ends.
/// - An outbox event goes only once published (`dispatched_at` set) and published before the
///   runs' cutoff; an immune event only when `knowledge.max_age` is set; a web login once expired;
///   a resolved incident once unchanged since the runs' cutoff and its run gone (with its
///   escalation claims). The audit log is append-only and never pruned.
public struct PostgresStatePruner: Sendable {
    public let database: StateDatabase
    public let policy: RetentionPolicy
    public let rateLimitWindow: Interval?
    public let now: Date
    public let batchSize: Int
    /// A finished run counts as learned by every server's knowledge base (the file prune's
    /// `.recorded`) once it finished this long ago: the servers learn a run within a few
    /// leases of its end.
    public let learnedAfter: TimeInterval

    /// One number for every Medic's prune lock ("medicp" in ASCII), apart from the migrations'.
    static let lockKey: Int64 = 0x6D_65_64_69_63_70

    public init(_ database: StateDatabase, policy: RetentionPolicy, rateLimitWindow: Interval?, now: Date,
                batchSize: Int = 100, learnedAfter: TimeInterval = 3600) {
        self.database = database
        self.policy = policy
        self.rateLimitWindow = rateLimitWindow
        self.now = now
        self.batchSize = max(batchSize, 1)
        self.learnedAfter = learnedAfter
    }

    /// Prunes (or, with `dryRun`, counts what it would prune), telling `progress` of each run.
    public func prune(dryRun: Bool, progress: @Sendable (PostgresPruneReport.PrunedRun) -> Void = { _ in }) async -> PostgresPruneReport {
        var report = PostgresPruneReport(dryRun: dryRun)
        do {
            // A batch scans the incidents (firing ones keep their runs): longer than a call's
            // usual 30 s on a large database, and it holds only the rows it prunes.
            report = try await database.client.withConnection(statementDeadline: 600) { connection in
                try await locked(connection) {
                    guard dryRun else { return try await prune(on: connection, dryRun: false, progress: progress) }
                    // A dry run is one transaction (begun once the runs are chosen) rolled back at
                    // its end, each batch a savepoint in it rolled back at once: it holds no row
                    // another server may want while it goes on (a session, an incident). A later
                    // sweep is told which runs an earlier batch would have pruned.
                    do {
                        let report = try await prune(on: connection, dryRun: true, progress: progress)
                        try await connection.perform("ROLLBACK", logger: database.logger)
                        return report
                    } catch {
                        try? await connection.perform("ROLLBACK", logger: database.logger)
                        throw error
                    }
                }
            }
        } catch {
            report.busy = error is Busy
            report.failures.append("\(error)")
        }
        return report
    }

    /// Another prune holds the lock.
    struct Busy: Error, CustomStringConvertible {
        let location: PostgresLocation
        var description: String { "another medic prune is running against \(location) (it holds the prune's advisory lock)" }
    }

    private func locked<T: Sendable>(_ connection: StateConnection, _ body: () async throws -> T) async throws -> T {
        var taken = false
        for try await (got) in try await connection.query("SELECT pg_try_advisory_lock(\(Self.lockKey))", logger: database.logger)
            .decode(Bool.self) { taken = got }
        guard taken else { throw Busy(location: database.location) }
        do {
            let result = try await body()
            try await connection.perform("SELECT pg_advisory_unlock(\(Self.lockKey))", logger: database.logger)
            return result
        } catch {
            try? await connection.perform("SELECT pg_advisory_unlock(\(Self.lockKey))", logger: database.logger)
            throw error
        }
    }

    private func prune(on connection: StateConnection, dryRun: Bool,
                       progress: @Sendable (PostgresPruneReport.PrunedRun) -> Void) async throws -> PostgresPruneReport {
        var report = PostgresPruneReport(dryRun: dryRun)
        for table in ["medic_run_records", "medic_runs", "medic_run_requesters", "medic_group_leads", "medic_leases",
                      "medic_incidents", "medic_escalation_claims", "medic_outbox", "medic_web_sessions", "medic_immune_events"] {
            report.removed[table] = 0
        }
        func add(_ counts: [String: Int]) { for (table, rows) in counts { report.removed[table, default: 0] += rows } }

        // 1. Runs.
        let summaries = try await PostgresRunStore(database, owner: "medic-prune").summaries()
        let learned = now.addingTimeInterval(-learnedAfter)
        let retained = summaries.map { summary in
            RetainedRun(summary: summary, recorded: summary.status == .finished && (JournalRecord.date(summary.updatedAt) ?? now) <= learned)
        }
        let resets = try await PostgresBreakerResets(database).resets()
        let decision = RunRetention.decide(retained, policy: policy, rateLimitWindow: rateLimitWindow, breakerResets: resets, now: now)
        for reason in decision.kept.values { report.kept[reason.rawValue, default: 0] += 1 }
        let firing = try await firingIncidentRuns(connection)
        var candidates: [RetainedRun] = []
        for run in decision.prune {
            if firing.contains(run.id) { report.kept["firing_incident", default: 0] += 1 } else { candidates.append(run) }
        }
        // Begun here, not before the runs were read on another connection: the server ends a
        // session idle in a transaction after 10 s.
        if dryRun { try await connection.perform("BEGIN", logger: database.logger) }
        var start = 0
        var pruned: [String] = []
        while start < candidates.count {
            let batch = Array(candidates[start..<min(start + batchSize, candidates.count)])
            start += batch.count
            let (taken, counts) = try await transaction(connection, dryRun: dryRun) { try await deleteRuns(batch.map(\.id), on: connection) }
            add(counts)
            pruned += batch.map(\.id).filter { taken.contains($0) }
            for run in batch {
                guard taken.contains(run.id) else {
                    report.failures.append("run \(run.id) was not pruned: it is leased, no longer finished, or a firing incident refers to it now")
                    continue
                }
                let pruned = PostgresPruneReport.PrunedRun(run: run.id, reason: "\(run.summary.playbookID) \(run.summary.outcome?.rawValue ?? "finished") at "
                    + "\(run.summary.updatedAt), older than \(policy.runsMaxAge)" + (policy.runsKeepAtMost.map { " or beyond the newest \($0)" } ?? ""))
                report.runs.append(pruned)
                progress(pruned)
            }
        }

        // 2. The other tables, each by a cursor so that a dry run (rolled back) moves on too.
        let cutoff = now.addingTimeInterval(-policy.runsMaxAge.seconds)
        let sweeps = PostgresPruneSweeps(logger: database.logger, batchSize: batchSize, cutoff: cutoff, prunedRuns: pruned,
                                         knowledgeCutoff: policy.knowledgeMaxAge.map { now.addingTimeInterval(-$0.seconds) })
        for sweep in sweeps.all {
            var after = ""
            while true {
                let (rows, last, counts) = try await transaction(connection, dryRun: dryRun) { try await sweep.run(after, connection) }
                add(counts)
                guard rows > 0, let last else { break }
                after = last
            }
        }
        return report
    }

    /// The run ids that firing incidents refer to.
    private func firingIncidentRuns(_ connection: StateConnection) async throws -> Set<String> {
        var ids = Set<String>()
        for try await (id) in try await connection.query(
            "SELECT body::jsonb->>'run_id' FROM medic_incidents WHERE body::jsonb->>'status' = 'firing' AND body::jsonb->>'run_id' IS NOT NULL",
            logger: database.logger).decode(String.self) { ids.insert(id) }
        return ids
    }

    /// Deletes the rows of the runs of `ids` still finished, unleased and not referenced by a
    /// firing incident (their rows locked first, in id order): those runs, and the rows per table.
    private func deleteRuns(_ ids: [String], on connection: StateConnection) async throws -> (Set<String>, [String: Int]) {
        let logger = database.logger
        try await connection.perform("SET LOCAL medic.pruning = 'on'", logger: logger)
        var taken: [String] = []
        for try await (id) in try await connection.query("""
            SELECT r.run_id FROM medic_runs r
            WHERE r.run_id = ANY(\(ids)::text[]) AND r.status = 'finished'
              AND NOT EXISTS (SELECT 1 FROM medic_leases l WHERE l.name = 'run:' || r.run_id AND l.expires_at > clock_timestamp())
              AND NOT EXISTS (SELECT 1 FROM medic_incidents i WHERE i.body::jsonb->>'status' = 'firing' AND i.body::jsonb->>'run_id' = r.run_id)
            ORDER BY r.run_id FOR UPDATE OF r
            """, logger: logger).decode(String.self) { taken.append(id) }
        guard !taken.isEmpty else { return ([], [:]) }
        let leases = taken.map(PostgresRunStore.leaseName)
        var counts: [String: Int] = [:]
        func count(_ table: String, _ query: PostgresQuery) async throws {
            for try await (rows) in try await connection.query(query, logger: logger).decode(Int.self) { counts[table] = rows }
        }
        try await count("medic_run_records", "WITH gone AS (DELETE FROM medic_run_records WHERE run_id = ANY(\(taken)::text[]) RETURNING 1) SELECT count(*)::bigint FROM gone")
        try await count("medic_run_requesters", "WITH gone AS (DELETE FROM medic_run_requesters WHERE run_id = ANY(\(taken)::text[]) RETURNING 1) SELECT count(*)::bigint FROM gone")
        try await count("medic_group_leads", "WITH gone AS (DELETE FROM medic_group_leads WHERE run_id = ANY(\(taken)::text[]) RETURNING 1) SELECT count(*)::bigint FROM gone")
        try await count("medic_leases", "WITH gone AS (DELETE FROM medic_leases WHERE name = ANY(\(leases)::text[]) AND expires_at <= clock_timestamp() RETURNING 1) SELECT count(*)::bigint FROM gone")
        try await count("medic_runs", "WITH gone AS (DELETE FROM medic_runs WHERE run_id = ANY(\(taken)::text[]) RETURNING 1) SELECT count(*)::bigint FROM gone")
        return (Set(taken), counts)
    }

    /// Runs `body` in a transaction of its own on `connection`, committed; in a dry run, in a
    /// savepoint of the dry run's transaction.
    private func transaction<T: Sendable>(_ connection: StateConnection, dryRun: Bool, _ body: () async throws -> T) async throws -> T {
        let logger = database.logger
        let (begin, commit, rollback) = dryRun ? ("SAVEPOINT batch", "ROLLBACK TO SAVEPOINT batch", "ROLLBACK TO SAVEPOINT batch")
                                               : ("BEGIN", "COMMIT", "ROLLBACK")
        try await connection.perform(PostgresQuery(unsafeSQL: begin), logger: logger)
        do {
            let result = try await body()
            try await connection.perform(PostgresQuery(unsafeSQL: commit), logger: logger)
            return result
        } catch {
            try? await connection.perform(PostgresQuery(unsafeSQL: rollback), logger: logger)
            throw PostgresFailure("pruning", error, location: database.location)
        }
    }
}
