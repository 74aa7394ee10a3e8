import Foundation
import Logging
import PostgresNIO

/// The database's schema, in versions applied in order by `medic migrate`.
///
/// Guarantees:
/// - **All or nothing**: the pending migrations are applied in one transaction; a failure leaves
///   the schema as it was.
/// - **One at a time**: concurrent `migrate` calls (several servers starting at once) are
///   serialised by a transaction-scoped advisory lock; each migration is applied once.
/// - **Never downwards**: a database whose schema is newer than this Medic knows is refused,
///   by `migrate` and by `requireCurrent`, before anything is read or written.
public enum SchemaMigrations {
    public struct Migration: Sendable, Equatable {
        public let version: Int
        public let name: String
        /// Run in order, each one statement.
        public let statements: [String]
    }

    /// Every migration, oldest first; versions are 1, 2, ... without gaps.
    public static let all: [Migration] = [leasesAndRunRecords, incidentsFlagsAuditOutbox, targetsBreakersEscalation, runs, groupLeads,
                                          severityLevelClaims, webSessions, knowledge, immuneEvents, guardStates, pruning]

    public static var latest: Int { all.last?.version ?? 0 }

    /// The schema a database has and what `migrate` would apply to it.
    public struct Status: Sendable, Equatable {
        public var version: Int
        public var pending: [Migration]
    }

    /// A database this Medic must not use as it is.
    public enum Refusal: Error, CustomStringConvertible, Equatable {
        case newer(found: Int, known: Int)
        case older(found: Int, needed: Int)

        public var description: String {
            switch self {
            case let .newer(found, known):
                return "the database's schema is version \(found), newer than this Medic knows (\(known)); run a Medic at least as new as the one that migrated it"
            case let .older(found, needed):
                return "the database's schema is version \(found); this Medic needs \(needed): run `medic migrate --store ...` first"
            }
        }
    }

    /// One number for every Medic's advisory lock on migrations ("medic" in ASCII).
    static let lockKey: Int64 = 0x6D_65_64_69_63

    public static func status(of database: StateDatabase) async throws -> Status {
        let version = try await current(database.client.pool, logger: database.logger, location: database.location)
        return Status(version: version, pending: all.filter { $0.version > version })
    }

    /// Applies the pending migrations (none with `dryRun`): the version before, and what was
    /// (or would be) applied.
    @discardableResult
    ///
    /// `lockTimeout`: seconds to wait for another migrator (or any lock a statement needs) before
    /// giving up; the transaction then rolls back, so "not changed" is always true of a failure.
    public static func migrate(_ database: StateDatabase, dryRun: Bool = false, lockTimeout: Double = 60) async throws -> (from: Int, applied: [Migration]) {
        if dryRun {
            let status = try await status(of: database)
            if status.version > latest { throw Refusal.newer(found: status.version, known: latest) }
            return (status.version, status.pending)
        }
        let logger = database.logger
        let location = database.location
        do {
            // A schema change on a large table may take long: only a connection that closes, or
            // six hours without an answer, ends a statement here (lock waits end at `lockTimeout`).
            return try await database.client.withTransaction(logger: logger, statementDeadline: 6 * 3600) { connection in
                let milliseconds = String(Int(max(lockTimeout, 0.001) * 1000))
                try await connection.perform(PostgresQuery(unsafeSQL: "SET LOCAL lock_timeout = '\(milliseconds)ms'"), logger: logger)
                try await connection.perform("SELECT pg_advisory_xact_lock(\(lockKey))", logger: logger)
                try await connection.perform(PostgresQuery(unsafeSQL: """
                    CREATE TABLE IF NOT EXISTS medic_schema (
                        version    integer PRIMARY KEY,
                        name       text NOT NULL,
                        applied_at timestamptz NOT NULL DEFAULT clock_timestamp()
                    )
                    """), logger: logger)
                var version = 0
                for try await (found) in try await connection.query("SELECT coalesce(max(version), 0) FROM medic_schema", logger: logger)
                    .decode(Int.self) { version = found }
                if version > latest { throw Refusal.newer(found: version, known: latest) }
                let pending = all.filter { $0.version > version }
                for migration in pending {
                    for statement in migration.statements {
                        try await connection.perform(PostgresQuery(unsafeSQL: statement), logger: logger)
                    }
                    try await connection.perform("INSERT INTO medic_schema (version, name) VALUES (\(migration.version), \(migration.name))",
                                               logger: logger)
                }
                return (version, pending)
            }
        } catch {
            if let refusal = error as? Refusal { throw refusal }
            throw PostgresFailure("migrating the schema", error, location: location)
        }
    }

    /// Throws `Refusal` unless the database's schema is the one this Medic knows.
    public static func requireCurrent(_ database: StateDatabase) async throws {
        let version = try await current(database.client.pool, logger: database.logger, location: database.location)
        if version > latest { throw Refusal.newer(found: version, known: latest) }
        if version < latest { throw Refusal.older(found: version, needed: latest) }
    }

    static func current(_ client: PostgresClient, logger: Logger, location: PostgresLocation) async throws -> Int {
        do {
            var exists = false
            for try await (found) in try await client.query("SELECT to_regclass('medic_schema') IS NOT NULL", logger: logger).decode(Bool.self) {
                exists = found
            }
            guard exists else { return 0 }
            var version = 0
            for try await (found) in try await client.query("SELECT coalesce(max(version), 0) FROM medic_schema", logger: logger).decode(Int.self) {
                version = found
            }
            return version
        } catch {
            throw PostgresFailure("reading the schema's version", error, location: location)
        }
    }

    // MARK: - The migrations

    /// Target leases with fencing tokens, and run records every write of which carries its
    /// lease's token: the database rejects a write whose token is no longer the lease's.
    static let leasesAndRunRecords = Migration(version: 1, name: "leases and fenced run records", statements: [
        "CREATE SEQUENCE medic_fencing_tokens AS bigint",
        """
        CREATE TABLE medic_leases (
            name        text PRIMARY KEY,
            owner       text NOT NULL,
            token       bigint NOT NULL,
            acquired_at timestamptz NOT NULL,
            expires_at  timestamptz NOT NULL
        )
        """,
        """
        CREATE TABLE medic_run_records (
            run_id     text NOT NULL,
            seq        integer NOT NULL CHECK (seq > 0),
            record     text NOT NULL,
            lease      text NOT NULL,
            token      bigint NOT NULL,
            written_at timestamptz NOT NULL DEFAULT clock_timestamp(),
            PRIMARY KEY (run_id, seq)
        )
        """,
        // The fencing check, in the database: a record is written only under the lease's current
        // token while it has not expired, and only as the run's next record. The lease row is
        // locked FOR SHARE until the writer commits, so a takeover (which updates the row) waits
        // for a write in progress and every write after it sees the new token.
        """
        CREATE FUNCTION medic_run_record_check() RETURNS trigger LANGUAGE plpgsql VOLATILE AS $$
        BEGIN
            IF TG_OP <> 'INSERT' THEN
                RAISE EXCEPTION 'run records are append-only (run %, seq %)', OLD.run_id, OLD.seq
                    USING ERRCODE = 'MD003';
            END IF;
            PERFORM 1 FROM medic_leases WHERE name = NEW.lease AND token = NEW.token AND expires_at > clock_timestamp() FOR SHARE;
            IF NOT FOUND THEN
                RAISE EXCEPTION 'fencing token % for lease % is stale or expired', NEW.token, NEW.lease
                    USING ERRCODE = 'MD001', HINT = 'the lease expired or another Medic holds it now: this one stops writing';
            END IF;
            IF NEW.seq <> (SELECT coalesce(max(seq), 0) + 1 FROM medic_run_records WHERE run_id = NEW.run_id) THEN
                RAISE EXCEPTION 'run % record % is out of order', NEW.run_id, NEW.seq USING ERRCODE = 'MD002';
            END IF;
            RETURN NEW;
        END
        $$
        """,
        """
        CREATE TRIGGER medic_run_records_checked BEFORE INSERT OR UPDATE OR DELETE ON medic_run_records
            FOR EACH ROW EXECUTE FUNCTION medic_run_record_check()
        """,
        """
        CREATE FUNCTION medic_no_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION '% is append-only: it is never truncated', TG_TABLE_NAME USING ERRCODE = 'MD003';
        END
        $$
        """,
        """
        CREATE TRIGGER medic_run_records_kept BEFORE TRUNCATE ON medic_run_records
            FOR EACH STATEMENT EXECUTE FUNCTION medic_no_truncate()
        """,
    ])

    /// Incidents claimed by key, the operators' switches, the audit log and the event outbox.
    static let incidentsFlagsAuditOutbox = Migration(version: 2, name: "incidents, switches, audit log and outbox", statements: [
        """
        CREATE TABLE medic_incidents (
            key        text PRIMARY KEY,
            body       text NOT NULL,
            version    integer NOT NULL DEFAULT 1,
            opened_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
            changed_at timestamptz NOT NULL DEFAULT clock_timestamp()
        )
        """,
        """
        CREATE TABLE medic_switches (
            name   text PRIMARY KEY,
            set_by text NOT NULL,
            reason text,
            set_at text NOT NULL
        )
        """,
        """
        CREATE TABLE medic_audit (
            id     bigserial PRIMARY KEY,
            at     timestamptz NOT NULL DEFAULT clock_timestamp(),
            fields jsonb NOT NULL
        )
        """,
        """
        CREATE FUNCTION medic_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'the audit log is append-only' USING ERRCODE = 'MD003';
        END
        $$
        """,
        """
        CREATE TRIGGER medic_audit_kept BEFORE UPDATE OR DELETE ON medic_audit
            FOR EACH ROW EXECUTE FUNCTION medic_audit_append_only()
        """,
        """
        CREATE TRIGGER medic_audit_not_truncated BEFORE TRUNCATE ON medic_audit
            FOR EACH STATEMENT EXECUTE FUNCTION medic_no_truncate()
        """,
        """
        CREATE TABLE medic_outbox (
            id            bigserial PRIMARY KEY,
            event_id      text NOT NULL UNIQUE,
            event         text NOT NULL,
            created_at    timestamptz NOT NULL DEFAULT clock_timestamp(),
            dispatched_at timestamptz,
            attempts      integer NOT NULL DEFAULT 0
        )
        """,
        "CREATE INDEX medic_outbox_waiting ON medic_outbox (id) WHERE dispatched_at IS NULL",
    ])

    /// Who holds a target lease (run, process, host), the breakers' manual resets, and the
    /// escalation levels claimed by one instance each.
    static let targetsBreakersEscalation = Migration(version: 3, name: "target holders, breaker resets, escalation claims", statements: [
        "ALTER TABLE medic_leases ADD COLUMN holder text",
        """
        CREATE TABLE medic_breaker_resets (
            playbook text PRIMARY KEY,
            set_by   text NOT NULL,
            reason   text,
            set_at   text NOT NULL
        )
        """,
        """
        CREATE TABLE medic_escalation_claims (
            incident      text NOT NULL,
            level         integer NOT NULL CHECK (level > 0),
            claimed_by    text NOT NULL,
            claimed_until timestamptz NOT NULL,
            sent_at       timestamptz,
            PRIMARY KEY (incident, level)
        )
        """,
    ])

    /// The runs: each id claimed once, with the summary its journal's records make (the index).
    static let runs = Migration(version: 4, name: "runs", statements: [
        """
        CREATE TABLE medic_runs (
            run_id     text PRIMARY KEY,
            created_by text NOT NULL,
            created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
            status     text,
            playbook   text,
            started_at text,
            summary    text
        )
        """,
        "CREATE INDEX medic_runs_playbook ON medic_runs (playbook, started_at)",
    ])

    /// Level 0 of an escalation, a severity level's notifications (§5.1), is claimed like the
    /// policy's levels.
    static let severityLevelClaims = Migration(version: 6, name: "escalation claims of level 0", statements: [
        "ALTER TABLE medic_escalation_claims DROP CONSTRAINT medic_escalation_claims_level_check",
        "ALTER TABLE medic_escalation_claims ADD CONSTRAINT medic_escalation_claims_level_check CHECK (level >= 0)",
    ])

    /// The web page's logins (`PostgresWebSessions`), by the SHA-256 of their cookie's id.
    static let webSessions = Migration(version: 7, name: "web sessions", statements: [
        """
        CREATE TABLE medic_web_sessions (
            digest        text PRIMARY KEY,
            identity      text NOT NULL,
            roles         text NOT NULL,
            csrf          text NOT NULL,
            expires       timestamptz NOT NULL,
            flash_ok      boolean,
            flash_message text
        )
        """,
        "CREATE INDEX medic_web_sessions_identity ON medic_web_sessions (identity, expires)",
    ])

    /// The lead incident of each Alertmanager group (`PostgresAlertGroupLeads`).
    static let groupLeads = Migration(version: 5, name: "alert group leads", statements: [
        """
        CREATE TABLE medic_group_leads (
            group_id   text PRIMARY KEY,
            lead_key   text NOT NULL,
            run_id     text NOT NULL,
            folded     boolean NOT NULL,
            claimed_at timestamptz NOT NULL DEFAULT clock_timestamp()
        )
        """,
    ])

    /// The knowledge base (`PostgresKnowledgeStore`): the record files' records, in the order
    /// they committed, each at most once per key (an incident record's run id); its documents;
    /// the immune memory; who requested each run over the API (`PostgresRunRequesters`).
    static let knowledge = Migration(version: 8, name: "knowledge base, immune memory, run requesters", statements: [
        """
        CREATE TABLE medic_knowledge_records (
            seq        bigserial PRIMARY KEY,
            file       text NOT NULL,
            record_key text,
            record     text NOT NULL,
            written_at timestamptz NOT NULL DEFAULT clock_timestamp(),
            UNIQUE (file, record_key)
        )
        """,
        "CREATE INDEX medic_knowledge_records_by_file ON medic_knowledge_records (file, seq)",
        """
        CREATE TABLE medic_knowledge_documents (
            file        text PRIMARY KEY,
            document    text NOT NULL,
            replaced_at timestamptz NOT NULL DEFAULT clock_timestamp()
        )
        """,
        """
        CREATE TABLE medic_immune_memory (
            name       text PRIMARY KEY,
            document   text NOT NULL,
            version    bigint NOT NULL,
            updated_at timestamptz NOT NULL DEFAULT clock_timestamp()
        )
        """,
        """
        CREATE TABLE medic_run_requesters (
            run_id       text PRIMARY KEY,
            requester    text NOT NULL,
            requested_at timestamptz NOT NULL DEFAULT clock_timestamp()
        )
        """,
    ])

    static let immuneEvents = Migration(version: 9, name: "immune events", statements: [
        """
        CREATE TABLE medic_immune_events (
            id          text PRIMARY KEY,
            event       text NOT NULL,
            created_at  text NOT NULL,
            seq         bigserial UNIQUE,
            received_at timestamptz NOT NULL DEFAULT clock_timestamp()
        )
        """,
        "CREATE INDEX medic_immune_events_received ON medic_immune_events (received_at)",
    ])

    /// The resilience guards' breaker states shared by the servers (`PostgresGuardStates`): each
    /// key's last change, whoever made it.
    static let guardStates = Migration(version: 10, name: "guard breaker states", statements: [
        """
        CREATE TABLE medic_guard_states (
            key        text PRIMARY KEY,
            state      text NOT NULL CHECK (state IN ('open', 'half_open', 'closed')),
            reason     text NOT NULL,
            instance   text NOT NULL,
            version    bigint NOT NULL,
            retry_at   timestamptz,
            changed_at timestamptz NOT NULL DEFAULT clock_timestamp()
        )
        """,
    ])
}
