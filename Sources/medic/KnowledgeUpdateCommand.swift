import ArgumentParser
import Foundation
import MedicEngine
import MedicKnowledge
import MedicModel

struct KnowledgeUpdateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "update",
        abstract: "Derive the other knowledge-base files from the incident history (daily; docs/knowledge.md).",
        discussion: """
            Reads <state-dir>/knowledge/incident-history.jsonl and appends: one snapshot per \
            playbook to playbook-performance.jsonl (success rate, execution time, false-positive \
            rate, per-step figures, failure modes, the kb advise findings), one line per (playbook, \
            category) to remediation-effectiveness.jsonl, one line per recurring issue (the same \
            rule or category on the same component at least 3 times in --window) to \
            incident-patterns.jsonl; and replaces root-causes.json atomically. The JSONL files are \
            only appended to: each update adds its snapshots, so they keep the history. When no \
            incident was recorded since the last update, nothing is written. Schemas in \
            docs/knowledge.md.

            Run it daily (cron, a systemd timer). Exit status 0; 2 for a usage error.

            Examples:
              medic kb update
              medic kb update --window 7d --json
            """
    )

    @Option(help: "How far back to look for recurring incidents: \(PositiveInterval.acceptedForms). Default: 30d.",
            transform: PositiveInterval.argument)
    var window = PositiveInterval(Interval(seconds: 30 * 86400))

    @Option(name: .customLong("state-dir"), help: "The state directory. Default: $MEDIC_HOME, else .medic")
    var stateDirectory: String?

    @Flag(help: "Print one JSON object: {\"updated\", \"incidents\", \"playbook_performance\", \"remediation_effectiveness\", \"incident_patterns\", \"root_causes\"}.")
    var json = false

    mutating func run() async throws {
        let now = SystemClock().now
        var configuration = KnowledgeUpdateConfiguration()
        configuration.patternWindow = window.interval.seconds
        let directory = KnowledgeBase.defaultDirectory(inState: stateDirectory ?? RunStore.defaultDirectory())
        guard FileManager.default.fileExists(atPath: directory) else {
            try output(KnowledgeUpdateSummary(updated: false, incidents: 0, derivation: nil, state: nil, problems: []), directory)
            return
        }
        let summary = try KnowledgeBase(directory: directory, create: false).update(at: now, configuration: configuration)
        for problem in summary.problems { MedicLog.log.warning("medic: warning: \(problem)") }
        try output(summary, directory)
    }

    private func output(_ summary: KnowledgeUpdateSummary, _ directory: String) throws {
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            printLine(String(decoding: try encoder.encode(Report(summary)), as: UTF8.self))
            return
        }
        guard let derivation = summary.derivation else {
            if summary.incidents == 0 {
                printLine("No incidents recorded in \(directory); nothing to update.")
            } else {
                let since = summary.state.map { " (\($0.updatedAt))" } ?? ""
                printLine("No new incidents since the last update\(since); nothing appended.")
            }
            return
        }
        printLine("""
            Updated \(directory) from \(summary.incidents) incident\(summary.incidents == 1 ? "" : "s"):
              playbook-performance.jsonl       +\(derivation.performance.count) snapshots
              remediation-effectiveness.jsonl  +\(derivation.effectiveness.count) lines
              incident-patterns.jsonl          +\(derivation.patterns.count) patterns
              root-causes.json                 \(derivation.rootCauses.rootCauses.count) categories
            """)
        for pattern in derivation.patterns { printLine("  pattern \(pattern.patternID) (\(pattern.patternType.rawValue)): \(pattern.description)") }
    }

    private struct Report: Encodable {
        var updated: Bool
        var incidents: Int
        var playbookPerformance: [PlaybookPerformance]
        var remediationEffectiveness: [RemediationEffectiveness]
        var incidentPatterns: [IncidentPattern]
        var rootCauses: RootCauseLibrary?

        init(_ summary: KnowledgeUpdateSummary) {
            updated = summary.updated
            incidents = summary.incidents
            playbookPerformance = summary.derivation?.performance ?? []
            remediationEffectiveness = summary.derivation?.effectiveness ?? []
            incidentPatterns = summary.derivation?.patterns ?? []
            rootCauses = summary.derivation?.rootCauses
        }

        enum CodingKeys: String, CodingKey {
            case updated, incidents
            case playbookPerformance = "playbook_performance"
            case remediationEffectiveness = "remediation_effectiveness"
            case incidentPatterns = "incident_patterns"
            case rootCauses = "root_causes"
        }
    }
}
