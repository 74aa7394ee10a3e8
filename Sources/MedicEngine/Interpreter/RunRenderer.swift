import Foundation
import MedicModel

/// `medic run --json`, `medic runs` and `medic show`: runs as JSON (snake_case keys, like the
/// files and the plan) or as readable text.
public enum RunRenderer {
    /// In the shapes of schemas/output/ (`OutputJSON`), dates as ISO 8601.
    public static func json<T: Encodable>(_ value: T) -> String { OutputJSON.render(value, isoDates: true) }

    /// `medic runs`: one line a run, newest last.
    public static func list(_ runs: [RunSummary]) -> String {
        guard !runs.isEmpty else { return "No runs yet.\n" }
        return printableTable(runs) ?? paddedTable(runs)
    }

    /// The table padded by characters (`NSString` padding): for any text.
    static func paddedTable(_ runs: [RunSummary]) -> String {
        let rows = runs.map { run in
            [run.id, run.outcome?.rawValue ?? run.status.rawValue, "\(run.playbookID) \(run.playbookVersion)", run.startedAt]
        }
        let header = ["RUN", "STATUS", "PLAYBOOK", "STARTED"]
        let widths = header.indices.map { column in ([header] + rows).map { $0[column].count }.max() ?? 0 }
        return ([header] + rows).map { row in
            row.enumerated().map { column, cell in
                column == row.count - 1 ? cell : cell.padding(toLength: widths[column], withPad: " ", startingAt: 0)
            }.joined(separator: "  ")
        }.joined(separator: "\n") + "\n"
    }

    /// `medic show`: the run's summary, then its journal as a timeline.
    public static func timeline(_ report: RunReport, records: [JournalRecord]) -> String {
        var out = "Run \(report.runID): \(report.playbookID) \(report.playbookVersion)\n"
        out += "Status: \(report.outcome?.rawValue ?? report.status.rawValue)"
        if let message = report.message { out += " — \(message)" }
        out += "\nJournal: \(report.journal)\n"
        if let started = records.first(where: { $0.event == .runStarted }) {
            if let d = started.detection {
                out += "Incident: \(d.incidentKey) (rule \(d.rule), \(d.series)=\(MetricValue.number(d.value)), \(d.severity)), "
                    + "anomalous since \(d.firstSeen), fired \(d.firedAt)\n"
            }
            if let chaos = started.chaos {
                out += "Chaos experiment: \(chaos.experimentID)" + (chaos.fault.map { " (fault \($0.faultType), pattern \($0.pattern))" } ?? "") + "\n"
            }
            if let selection = started.plan?.selection { out += PlanRenderer.selectionText(selection) }
        }
        out += "\nSteps:\n"
        for step in report.steps {
            out += "  \(step.number). \(step.name) [\(step.action)]: \(step.status.rawValue)"
            if step.attempts > 1 { out += " after \(step.attempts) attempts" }
            if step.status != .notRun { out += " (\(step.summary), \(String(format: "%.2f", step.seconds))s)" }
            out += "\n"
            for (name, value) in step.outputs.sorted(by: { $0.key < $1.key }) { out += "     \(name)=\(PlanRenderer.shellQuoted(value))\n" }
        }
        for report in report.verification { out += "Verification: \(report.state.rawValue): \(report.summary)\n" }
        if !report.rollback.isEmpty {
            out += "Rollback:\n"
            for item in report.rollback {
                let state = item.succeeded.map { $0 ? "ok" : "FAILED" } ?? "not run"
                out += "  undo \(item.item.kind == .actionRollback ? "step" : "with rollback step") \(item.item.step) (\(item.item.name)): \(state) (\(item.summary))\n"
            }
        }
        if let rollout = report.rollout { out += rolloutTable(rollout) }
        if let escalation = report.escalation { out += "Escalated: \(escalation)\n" }
        out += "\nTimeline:\n"
        for record in records { out += "  \(record.at)  \(line(record))\n" }
        return out
    }

    /// A rollout's stages and the targets that did not simply succeed (all of them up to 30
    /// targets): the summary `medic run` prints at the end and `medic show` prints.
    public static func rolloutTable(_ rollout: RunReport.RolloutReport) -> String {
        var out = "Rollout:\n  stage  size                targets  ok    failed  checks\n"
        for stage in rollout.stages {
            let checks = stage.checksPassed.map { $0 ? "passed" : "FAILED" } ?? "-"
            out += "  " + [pad("\(stage.number)", 6), pad(stage.size, 19), pad("\(stage.targets)", 8), pad("\(stage.succeeded)", 5),
                           pad("\(stage.failed)", 7), checks].joined(separator: " ") + "\n"
        }
        var counts: [String: Int] = [:]
        for target in rollout.targets { counts[target.status, default: 0] += 1 }
        out += "  targets: " + counts.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }.joined(separator: ", ") + "\n"
        let shown = rollout.targets.count <= 30 ? rollout.targets : rollout.targets.filter { $0.status != "succeeded" && $0.status != "not_started" }
        if !shown.isEmpty {
            out += "  target                          stage  status         time    message\n"
            for target in shown.prefix(200) {
                out += "  " + [pad(target.name, 31), pad("\(target.stage)", 6), pad(target.status, 14),
                               pad(String(format: "%.2fs", target.seconds), 7), target.message].joined(separator: " ") + "\n"
            }
            if shown.count > 200 { out += "  … \(shown.count - 200) more (medic show RUN --json has them all)\n" }
        }
        if let aborted = rollout.aborted { out += "  aborted: \(aborted)\n" }
        return out
    }

    private static func pad(_ text: String, _ width: Int) -> String {
        text.count >= width ? text : text + String(repeating: " ", count: width - text.count)
    }

    private static func line(_ r: JournalRecord) -> String {
        var parts = [r.event.rawValue]
        if let target = r.target { parts.append("[\(target)]") }
        if let stage = r.stage { parts.append("stage \(stage)") }
        if let step = r.step { parts.append("step \(step)") }
        if let phase = r.phase, phase != .step { parts.append(phase.rawValue) }
        if let attempt = r.attempt, attempt > 1 { parts.append("attempt \(attempt)") }
        if let result = r.result { parts.append("\(result.succeeded ? "ok" : "failed"): \(result.summary), \(String(format: "%.2f", result.seconds))s") }
        if let delay = r.delay { parts.append("in \(Interval.trim(delay))s") }
        if let v = r.verification { parts.append("\(v.state.rawValue): \(v.summary)") }
        if let outcome = r.outcome { parts.append(outcome.rawValue) }
        if let items = r.rollback { parts.append("\(items.count) item(s)") }
        if r.event == .stepProcess, let shell = r.processes?.first { parts.append("pid \(shell.pid)") }
        if let message = r.message { parts.append(message) }
        return parts.joined(separator: "  ")
    }
}
