import Foundation
import MedicEngine
import MedicModel
import MedicPostgres
import MedicServer

/// `retention.every` for servers sharing a database: each server tries every period, and the
/// one that takes the period's lease (`prune:schedule`, held 0.9 period) prunes, so the servers
/// prune about once per period between them; the prune's own advisory lock keeps any two
/// prunes (a server's, an operator's `medic prune --store`) from running at once.
enum ServePrune {
    static let leaseName = "prune:schedule"

    static func job(_ database: StateDatabase, policies: Policies, owner: String, clock: any EngineClock) -> PeriodicJob? {
        guard let policy = policies.retention, let every = policy.every else { return nil }
        let window = policies.rateLimits.map(\.window).max { $0.seconds < $1.seconds }
        let leases = PostgresLeases(database)
        return PeriodicJob(every: every.seconds) {
            guard (try? await leases.acquire(leaseName, owner: owner, seconds: every.seconds * 0.9)) != nil else { return }
            let report = await PostgresStatePruner(database, policy: policy, rateLimitWindow: window, now: clock.now).prune(dryRun: false)
            // Another prune holds the lock (an operator's, or a server's that outlasted its period): it does the work.
            if report.busy { return }
            let rows = report.removed.filter { $0.value > 0 }.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }
            if !rows.isEmpty {
                MedicLog.log.notice("medic serve: pruned the database: \(report.runs.count) run(s); rows deleted: \(rows.joined(separator: ", "))")
            }
            for failure in report.failures { MedicLog.log.warning("medic serve: prune: \(failure)") }
        }
    }
}
