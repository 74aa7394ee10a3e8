import ArgumentParser
import Foundation
import MedicEngine
import MedicLoader
import MedicModel

struct HealthCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "health",
        abstract: "Medic's own health (docs/running.md#self-monitoring): failing remediations, tripped breakers, a stale knowledge base.",
        discussion: """
            Four checks over the state directory, each ok or ALERT with what it saw:

            remediation_failure_spike (critical; notify sre_team, engineering_manager): under \
            70% of the attempted runs that ended in the last 30 minutes succeeded, judged from 3 \
            attempted runs (refused runs do not count).

            false_positive_surge (medium; notify sre_lead): over 20% of the incidents anomaly \
            rules raised that ended in the last hour were denied by a person, judged from 3.

            playbook_circuit_breaker_tripped (high; notify sre_team): a playbook's breaker is open \
            (medic breaker list); one alert per playbook.

            knowledge_base_stale (low; notify sre_lead): no incident record for 7 days. A state \
            directory with no record and no finished run is "not yet started", not stale.

            Each alert is published once on the bus as a CloudEvent dev.medic.health.alert (data: \
            alert, severity, notify, action, condition, observed, value; escalation_policy and \
            escalation_notify when an escalation policy under --root applies to the alert or its \
            severity), and once as dev.medic.health.resolved when it clears. Raised alerts are kept \
            in <state-dir>/health/alerts.json, so calling this every minute publishes a change once; \
            <state-dir>/health/alerts.jsonl keeps every raise and clear. See docs/running.md, \
            "Self-monitoring".

            Exit status: 0 healthy, 1 an alert is raised, 2 usage.

            Examples:
              medic health
              medic health --json --state-dir /var/lib/medic
              medic health --bus webhook:https://events.internal/medic --root /etc/medic
            """
    )

    @Option(name: .customLong("state-dir"), help: "The state directory. Default: $MEDIC_HOME, else .medic")
    var stateDirectory: String?

    @Option(help: ArgumentHelp("Where alerts are published: outbox:PATH, webhook:URL or stdout.",
                               discussion: "Default: outbox:<state-dir>/outbox.jsonl"),
            transform: BusTransport.argument)
    var bus: BusTransport?

    @Option(help: "The directory whose policies/ hold the escalation policies.")
    var root: String = "."

    @Flag(help: "Print one JSON object: {\"healthy\", \"checks\": [{\"name\", \"verdict\", \"observed\", \"value\", \"alerts\"}], \"published\", ...}.")
    var json = false

    mutating func run() async throws {
        let state = stateDirectory ?? RunStore.defaultDirectory()
        // The runs are read from the stores' run index; a state directory without runs has none.
        let stores = StateStores.existing(in: state)
        let monitor = SelfMonitor(stateDirectory: state, escalationPolicies: escalationPolicies(), runs: stores?.runs ?? ListedRuns([]))
        let publisher = bus.map { BusExecutor(transport: $0, standardOutput: busLine) }
            ?? BusExecutor(outbox: stores?.outbox ?? StateStores.outbox(at: StateStores.defaultOutboxPath(in: state)), environment: EngineEnvironment())
        let evaluation: HealthEvaluation
        do {
            evaluation = try await monitor.evaluateAndPublish(now: SystemClock().now, bus: publisher)
        } catch {
            throw CommandFailure("error: \(error)")
        }
        for problem in evaluation.report.problems { MedicLog.log.warning("medic: warning: \(problem)") }
        for failure in evaluation.failures { MedicLog.log.warning("medic: warning: not published (retried at the next check): \(failure)") }
        if evaluation.skippedBusy { MedicLog.log.warning("medic: warning: another health check of \(state) is publishing; this one published nothing") }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
            printLine(String(decoding: try encoder.encode(evaluation), as: UTF8.self))
        } else {
            writeOut(Self.text(evaluation))
        }
        if !evaluation.report.healthy { throw ExitCode(1) }
    }

    /// The escalation policies under --root/policies; none when there is no such folder. A policy
    /// file with errors is reported and ignored: self-monitoring still runs.
    private func escalationPolicies() -> [EscalationPolicy] {
        let folder = (root as NSString).appendingPathComponent("policies")
        guard FileManager.default.fileExists(atPath: folder) else { return [] }
        let result = CatalogLoader().load(paths: [folder])
        if result.hasErrors {
            MedicLog.log.warning("\(DiagnosticRenderer.text(result.diagnostics.filter { $0.severity == .error }))")
            MedicLog.log.warning("medic: warning: the policies under \(folder) have errors; alerts carry no escalation policy")
            return []
        }
        return result.catalog.policies.escalationPolicies
    }

    static func text(_ evaluation: HealthEvaluation) -> String {
        let width = evaluation.report.checks.map(\.name.count).max() ?? 0
        var out = ""
        for check in evaluation.report.checks {
            let verdict = check.verdict == .alert ? "ALERT" : check.verdict.rawValue
            out += check.name.padding(toLength: width + 2, withPad: " ", startingAt: 0)
                + verdict.padding(toLength: 9, withPad: " ", startingAt: 0) + check.observed + "\n"
            for alert in check.alerts where check.alerts.count > 1 {
                out += "    \(alert.observed)\n"
            }
        }
        let published = Dictionary(evaluation.published.map { ($0.key, $0) }, uniquingKeysWith: { first, _ in first })
        for alert in evaluation.report.alerts {
            var line = "\n\(alert.name) (\(alert.severity.word)): notify \(alert.notify.joined(separator: ", "))"
            if let policy = alert.escalationPolicy { line += "; escalation policy \(policy): \(alert.escalationNotify ?? "-")" }
            out += line + "\n  action: \(alert.action)\n"
            if let event = published[alert.key] {
                out += "  published \(event.type) (event \(event.eventID ?? "-"))\n"
            } else if evaluation.alreadyRaised.contains(alert.key) {
                out += "  already raised earlier: not published again\n"
            }
        }
        for event in evaluation.published where event.type == SelfMonitor.resolvedTopic {
            out += "\n\(event.key) cleared: published \(event.type) (event \(event.eventID ?? "-"))\n"
        }
        let count = evaluation.report.alerts.count
        out += count == 0 ? "\nhealthy\n" : "\n\(count) alert\(count == 1 ? "" : "s") raised\n"
        return out
    }
}
