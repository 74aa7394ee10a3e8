import ArgumentParser
import Foundation
import MedicEngine
import MedicKnowledge
import MedicModel

struct KnowledgeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kb",
        abstract: "The knowledge base: what every run taught (docs/knowledge.md).",
        discussion: """
            Every finished run appends its incident record to \
            <state-dir>/knowledge/incident-history.jsonl. See docs/knowledge.md.

            Examples:
              medic kb stats
              medic kb stats --since 7d --json
              medic kb advise --since 30d
              medic kb update
            """,
        subcommands: [KnowledgeStatsCommand.self, KnowledgeAdviseCommand.self, KnowledgeUpdateCommand.self]
    )
}

struct KnowledgeStatsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stats",
        abstract: "Per-playbook outcome statistics and the KPIs (docs/knowledge.md) from the incident history.",
        discussion: """
            Per playbook: runs (attempted: every outcome but refused), refused, successes, success \
            rate, rollback rate, false-positive rate, average and p95 execution time, each step's \
            success rate. KPIs: MTTD, MTTR, auto-remediation success rate, remediation accuracy, \
            rollback rate, automation rate, manual intervention rate, false-positive rate. A rate \
            with nothing to count is shown as - (null in JSON). The formulas are in docs/knowledge.md.
            """
    )

    @Option(help: "Only incidents whose run started within this long before now: \(Lookback.acceptedForms). Default: all.",
            transform: Lookback.argument)
    var since: Lookback = .all

    @Option(name: .customLong("state-dir"), help: "The state directory. Default: $MEDIC_HOME, else .medic")
    var stateDirectory: String?

    @Flag(help: "Print one JSON object: {\"since\", \"kpis\", \"playbooks\": [{\"playbook_id\", \"runs\", \"successes\", \"success_rate\", ...}]}.")
    var json = false

    mutating func run() async throws {
        let from = since.start(before: SystemClock().now)
        let directory = KnowledgeBase.defaultDirectory(inState: stateDirectory ?? RunStore.defaultDirectory())
        let statistics: OutcomeStatistics
        if FileManager.default.fileExists(atPath: directory) {
            let (result, problems) = try KnowledgeBase(directory: directory, create: false).incidentStatistics(since: from)
            for problem in problems { MedicLog.log.warning("medic: warning: \(problem)") }
            statistics = result
        } else {
            statistics = OutcomeStatisticsBuilder(since: from).result()
        }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            printLine(String(decoding: try encoder.encode(statistics), as: UTF8.self))
        } else {
            writeOut(KnowledgeStatsRenderer.text(statistics))
        }
    }
}

/// `medic kb stats` as text: the KPIs, then one line per playbook and its steps.
enum KnowledgeStatsRenderer {
    static func text(_ s: OutcomeStatistics) -> String {
        let k = s.kpis
        var out = "Incidents\(s.since.map { " since \($0)" } ?? ""): \(k.incidents) (\(k.attempted) attempted)"
        if k.chaosRuns > 0 { out += "; and \(k.chaosRuns) chaos experiment run(s), in the playbooks' figures only" }
        out += "\n\n"
        let kpis: [(String, String)] = [
            ("MTTD (mean time to detect)", seconds(k.mttd)),
            ("MTTR (mean time to remediate)", seconds(k.mttr)),
            ("auto-remediation success rate", percent(k.autoRemediationSuccessRate)),
            ("remediation accuracy", percent(k.remediationAccuracy)),
            ("rollback rate", percent(k.rollbackRate)),
            ("automation rate", percent(k.automationRate)),
            ("manual intervention rate", percent(k.manualInterventionRate)),
            ("false-positive rate", percent(k.falsePositiveRate)),
        ]
        for (name, value) in kpis { out += "  " + name.padding(toLength: 32, withPad: " ", startingAt: 0) + value + "\n" }
        guard !s.playbooks.isEmpty else { return out + "\nNo incidents recorded.\n" }
        let header = ["PLAYBOOK", "RUNS", "REFUSED", "OK", "SUCCESS", "ROLLBACK", "FALSE+", "AVG", "P95"]
        var rows = [header]
        for p in s.playbooks {
            rows.append([p.playbookID, "\(p.runs)", "\(p.refused)", "\(p.successes)", percent(p.successRate), percent(p.rollbackRate),
                         percent(p.falsePositiveRate), seconds(p.averageExecutionTime), seconds(p.p95ExecutionTime)])
            for step in p.steps {
                rows.append(["  step \(step.step) \(step.name)", "\(step.executions)", "", "\(step.successes)",
                             percent(step.successRate), "", "", "", ""])
            }
        }
        let widths = header.indices.map { i in rows.map { $0[i].count }.max() ?? 0 }
        out += "\n"
        for row in rows {
            let cells = row.indices.map { i in
                i == 0 ? row[i].padding(toLength: widths[i], withPad: " ", startingAt: 0)
                    : String(repeating: " ", count: widths[i] - row[i].count) + row[i]
            }
            var line = cells.joined(separator: "  ")
            while line.last == " " { line.removeLast() }
            out += line + "\n"
        }
        return out
    }

    static func percent(_ value: Double?) -> String {
        value.map { String(format: "%.1f%%", $0 * 100) } ?? "-"
    }

    static func seconds(_ value: Double?) -> String {
        value.map { String(format: "%.3fs", $0) } ?? "-"
    }
}
