import ArgumentParser
import Foundation
import MedicEngine
import MedicModel
import MedicPostgres

extension PruneCommand {
    /// `medic prune --store postgres://...`: the retention policy applied to the database
    /// several `medic serve` share (`PostgresStatePruner`). The same output as a state
    /// directory's prune, with `removed` (rows per table) and `store` added to `--json`.
    func pruneDatabase(_ text: String, policies: Policies) async throws {
        let database = try await ServeStore.current(text, connectTimeout: 5)
        let pruner = PostgresStatePruner(database, policy: policies.retention ?? .defaults, rateLimitWindow: Self.longestWindow(policies),
                                         now: SystemClock().now)
        let json = json
        let report = await pruner.prune(dryRun: dryRun) { run in
            if !json { printLine("delete run \(run.run): \(run.reason)") }
        }
        await database.shutdown()
        for failure in report.failures { MedicLog.log.error("medic: error: \(failure)") }
        if json {
            printLine(try Self.jsonLine(DatabaseOutput(report, store: "\(database.location)")))
        } else {
            report.tableLines.forEach { printLine($0) }
            printLine(Self.summary(dryRun: dryRun, pruned: "\(report.runs.count) run(s) from \(database.location)", kept: report.kept))
        }
        if !report.failures.isEmpty { throw ExitCode(1) }
    }

    /// `schemas/output/prune.schema.json`: a run's action is `delete_run` (the database keeps no
    /// archive: a backup is its archive), its path the database.
    private struct DatabaseOutput: Encodable {
        var dryRun: Bool
        var store: String
        var actions: [RunAction]
        var keptRuns: [String: Int]
        var keptIncidents = 0
        var removed: [String: Int]
        var failures: [String]
        var problems: [String] = []

        init(_ report: PostgresPruneReport, store: String) {
            dryRun = report.dryRun
            self.store = store
            actions = report.runs.map { RunAction(run: $0.run, path: store, reason: $0.reason) }
            keptRuns = report.kept
            removed = report.removed
            failures = report.failures
        }

        struct RunAction: Encodable {
            var action = PruneAction.Kind.deleteRun
            var run: String
            var path: String
            var reason: String
        }

        enum CodingKeys: String, CodingKey {
            case dryRun = "dry_run", store, actions, keptRuns = "kept_runs", keptIncidents = "kept_incidents", removed, failures, problems
        }
    }
}
