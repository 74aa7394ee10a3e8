import Foundation
import Logging
import PostgresNIO

/// The tables a database prune empties of what nothing needs any more, apart from the runs:
/// each sweep deletes one batch after a cursor (its table's key), so that batches of a dry run,
/// rolled back, still move forward; a row another transaction holds is skipped (`SKIP LOCKED`)
/// and left to the next prune.
struct PostgresPruneSweeps {
    struct Sweep {
        /// One batch after the cursor: rows deleted from the sweep's main table, the cursor of
        /// the last one (nil when none), and the rows deleted per table.
        let run: (_ after: String, _ connection: StateConnection) async throws -> (Int, String?, [String: Int])
    }

    let logger: Logger
    let batchSize: Int
    /// Published outbox events and resolved incidents older than this go (`runs.max_age`).
    let cutoff: Date
    /// The runs this prune removed (a dry run's, rolled back, still stored): gone, for the
    /// incidents' sweep.
    let prunedRuns: [String]
    /// Immune events received before this go; nil: kept (`knowledge.max_age` unset).
    let knowledgeCutoff: Date?

    var all: [Sweep] {
        [incidents, outbox, webSessions] + (knowledgeCutoff.map { [immuneEvents($0)] } ?? [])
    }

    private func rows(_ query: PostgresQuery, _ connection: StateConnection) async throws -> (Int, Int, String) {
        var result = (0, 0, "")
        for try await row in try await connection.query(query, logger: logger).decode((Int, Int, String).self) { result = row }
        return result
    }

    /// A resolved incident unchanged since the cutoff whose run is gone (pruned, or it never had
    /// one), with the escalation levels claimed for it. A firing incident stays whatever its age:
    /// the takeover pass starts the run of a firing incident that has none.
    private var incidents: Sweep {
        let (batch, cutoff, pruned) = (batchSize, cutoff, prunedRuns)
        return Sweep { after, connection in
            let (gone, claims, last) = try await rows("""
                WITH gone AS (
                    DELETE FROM medic_incidents WHERE key IN (
                        SELECT i.key FROM medic_incidents i
                        WHERE i.key > \(after) AND i.body::jsonb->>'status' = 'resolved' AND i.changed_at < \(cutoff)
                          AND NOT EXISTS (SELECT 1 FROM medic_runs r WHERE r.run_id = i.body::jsonb->>'run_id'
                                                                      AND NOT r.run_id = ANY(\(pruned)::text[]))
                        ORDER BY i.key LIMIT \(batch) FOR UPDATE SKIP LOCKED)
                    RETURNING key),
                claims AS (DELETE FROM medic_escalation_claims c USING gone WHERE c.incident = gone.key RETURNING 1)
                SELECT (SELECT count(*) FROM gone)::bigint, (SELECT count(*) FROM claims)::bigint, coalesce((SELECT max(key) FROM gone), '')
                """, connection)
            return (gone, gone > 0 ? last : nil, ["medic_incidents": gone, "medic_escalation_claims": claims])
        }
    }

    /// An event published before the cutoff. One not yet published stays, whatever its age.
    private var outbox: Sweep {
        let (batch, cutoff) = (batchSize, cutoff)
        return Sweep { after, connection in
            let (gone, _, last) = try await rows("""
                WITH gone AS (
                    DELETE FROM medic_outbox WHERE id IN (
                        SELECT id FROM medic_outbox
                        WHERE id > \(Int64(after) ?? 0) AND dispatched_at IS NOT NULL AND dispatched_at < \(cutoff)
                        ORDER BY id LIMIT \(batch) FOR UPDATE SKIP LOCKED)
                    RETURNING id)
                SELECT count(*)::bigint, 0::bigint, coalesce(max(id), 0)::text FROM gone
                """, connection)
            return (gone, gone > 0 ? last : nil, ["medic_outbox": gone])
        }
    }

    /// A web login past its expiry (the page refuses it already).
    private var webSessions: Sweep {
        let batch = batchSize
        return Sweep { after, connection in
            let (gone, _, last) = try await rows("""
                WITH gone AS (
                    DELETE FROM medic_web_sessions WHERE digest IN (
                        SELECT digest FROM medic_web_sessions WHERE digest > \(after) AND expires < clock_timestamp()
                        ORDER BY digest LIMIT \(batch) FOR UPDATE SKIP LOCKED)
                    RETURNING digest)
                SELECT count(*)::bigint, 0::bigint, coalesce(max(digest), '') FROM gone
                """, connection)
            return (gone, gone > 0 ? last : nil, ["medic_web_sessions": gone])
        }
    }

    /// An immune event received before `knowledge.max_age` ago.
    private func immuneEvents(_ before: Date) -> Sweep {
        let batch = batchSize
        return Sweep { after, connection in
            let (gone, _, last) = try await rows("""
                WITH gone AS (
                    DELETE FROM medic_immune_events WHERE seq IN (
                        SELECT seq FROM medic_immune_events WHERE seq > \(Int64(after) ?? 0) AND received_at < \(before)
                        ORDER BY seq LIMIT \(batch) FOR UPDATE SKIP LOCKED)
                    RETURNING seq)
                SELECT count(*)::bigint, 0::bigint, coalesce(max(seq), 0)::text FROM gone
                """, connection)
            return (gone, gone > 0 ? last : nil, ["medic_immune_events": gone])
        }
    }
}
