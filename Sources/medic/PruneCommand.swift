import ArgumentParser
import Foundation
import MedicEngine
import MedicLoader
import MedicModel

struct PruneCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prune",
        abstract: "Archive (or delete) finished runs' journals and old incident records (docs/running.md, Retention).",
        discussion: """
            Applies the retention policy (`retention:` in the policy files under --library; \
            defaults: finished runs older than 90d beyond the newest 100, incident records kept \
            for ever). Moves what goes under <state-dir>/archive/ (runs/ and knowledge/), or \
            removes it with `disposal: delete`. Never touches a run that has not finished \
            (running, interrupted, pending approval, damaged), one whose incident record is not \
            written yet, or one the breaker, the rate limits or safe mode still count. A prune \
            killed part-way is finished by the next one. --dry-run prints the same lines and \
            changes nothing.

            Exit status: 0 done, 1 something could not be pruned (each said on standard error), \
            2 usage or a library with errors.

            Examples:
              medic prune --dry-run
              medic prune --library /etc/medic --state-dir /var/lib/medic --json
            """
    )

    @Flag(help: "Print what would be pruned; change nothing.")
    var dryRun = false

    @Flag(help: "Print one JSON object: {\"dry_run\", \"actions\", \"kept_runs\", \"kept_incidents\", \"failures\", \"problems\"}.")
    var json = false

    @Option(name: .customLong("state-dir"), help: "The state directory. Default: $MEDIC_HOME, else .medic")
    var stateDirectory: String?

    @Option(help: "The library whose policies (retention, rate limits) apply. Default: the current directory.")
    var library: String = "."

    @Option(help: "Prune the database medic serve shares (postgres://...) instead of a state directory. Default: $MEDIC_STORE unless --state-dir is given.")
    var store: String?

    mutating func run() async throws {
        let catalog: Catalog
        do {
            catalog = try CatalogStage().run(root: library)
        } catch let failure as CatalogStage.Failure {
            throw CommandFailure.catalog(failure, "the catalog under '\(library)' has errors; fix them (medic validate) first: nothing was pruned", exitCode: 2)
        }
        if let text = store ?? (stateDirectory == nil ? ProcessInfo.processInfo.environment["MEDIC_STORE"] : nil), !text.isEmpty {
            return try await pruneDatabase(text, policies: catalog.policies)
        }
        let state = stateDirectory ?? RunStore.defaultDirectory()
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: state, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw ValidationError("the state directory '\(state)' does not exist: nothing to prune")
        }
        let policies = catalog.policies
        let pruner = StatePruner(stateDirectory: state,
                                 policy: policies.retention ?? .defaults, rateLimitWindow: Self.longestWindow(policies), now: SystemClock().now)
        let json = json
        let report = pruner.prune(dryRun: dryRun) { action in
            if !json { printLine(action.line) }
        }
        for problem in report.problems { MedicLog.log.warning("medic: warning: \(problem)") }
        for failure in report.failures { MedicLog.log.error("medic: error: \(failure)") }
        if json {
            printLine(try Self.jsonLine(Output(report, dryRun: dryRun)))
        } else {
            let runs = report.actions.filter { $0.action == .archiveRun || $0.action == .deleteRun }.count
            let records = report.actions.compactMap { $0.action == .archiveIncidents || $0.action == .deleteIncidents ? $0.records : nil }.reduce(0, +)
            printLine(Self.summary(dryRun: dryRun, pruned: "\(runs) run(s) and \(records) incident record(s)",
                                   kept: Dictionary(uniqueKeysWithValues: report.kept.map { ($0.key.rawValue, $0.value) })))
        }
        if !report.failures.isEmpty { throw ExitCode(1) }
    }

    private struct Output: Encodable {
        var dryRun: Bool
        var actions: [PruneAction]
        var keptRuns: [String: Int]
        var keptIncidents: Int
        var failures: [String]
        var problems: [String]

        init(_ report: PruneReport, dryRun: Bool) {
            self.dryRun = dryRun
            actions = report.actions
            keptRuns = Dictionary(uniqueKeysWithValues: report.kept.map { ($0.key.rawValue, $0.value) })
            keptIncidents = report.keptIncidents
            failures = report.failures
            problems = report.problems
        }

        enum CodingKeys: String, CodingKey {
            case dryRun = "dry_run", actions, keptRuns = "kept_runs", keptIncidents = "kept_incidents", failures, problems
        }
    }
}

extension PruneCommand {
    /// The longest rate-limit window of `policies`: runs within it are still counted.
    static func longestWindow(_ policies: Policies) -> Interval? {
        policies.rateLimits.map(\.window).max { $0.seconds < $1.seconds }
    }

    /// `value` as one line of JSON, keys sorted.
    static func jsonLine<T: Encodable>(_ value: T) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    /// The last line of a prune's text: what went (`pruned`), the runs kept by reason.
    static func summary(dryRun: Bool, pruned: String, kept: [String: Int]) -> String {
        let kept = kept.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }
        return (dryRun ? "Would prune" : "Pruned") + " \(pruned); kept " + (kept.isEmpty ? "no run" : "runs: " + kept.joined(separator: ", ")) + "."
            + (dryRun ? " Dry run: nothing was changed." : "")
    }
}
