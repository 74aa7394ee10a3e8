import Foundation
import MedicModel

/// `medic plan` output: a readable listing, or the `Plan` as JSON.
public enum PlanRenderer {
    /// Single-quoted for POSIX sh: what the step's environment holds, unambiguously.
    public static func shellQuoted(_ value: String) -> String {
        "'" + value.replacingOccurrences(of: "'", with: #"'\''"#) + "'"
    }

    public static func json(_ plan: Plan) -> String { encodeJSON(plan) }

    /// Pretty, sorted, snake_case JSON: the spelling of the files and of validate --format json,
    /// in the shapes of schemas/output/ (`OutputJSON`).
    public static func encodeJSON(_ value: some Encodable) -> String { OutputJSON.render(value) }

    /// A rate as a percentage with one decimal.
    public static func percent(_ rate: Double) -> String { String(format: "%.1f%%", rate * 100) }

    /// Why this playbook: the ranking of the candidates with each score's parts (§6.2).
    public static func selectionText(_ selection: PlaybookSelection) -> String {
        let w = selection.weights
        var out = "Chosen for incident \(selection.incidentKey) (rule \(selection.rule)), reach \(selection.incidentRadius.rawValue), "
            + "among \(selection.ranking.count) candidate(s) ranked by success_rate \(number(w.successRate)), "
            + "avg_execution_time \(number(w.avgExecutionTime)), blast_radius_match \(number(w.blastRadiusMatch)), "
            + "recency \(number(w.recency)):\n"
        if let memory = selection.remembered {
            out += "  Immune memory: \(memory.match) match of \(memory.signatureID.prefix(12)), success rate \(percent(memory.successRate)) "
                + "over \(memory.observations) observation(s): proposes \(memory.playbooks.joined(separator: ", ")) first\n"
        }
        for entry in selection.ranking {
            out += "  \(entry.rank). \(entry.playbookID)  score \(String(format: "%.3f", entry.score))"
                + (entry.remembered ? "  (remembered cure)" : "") + "\n"
            for part in entry.parts {
                let name = part.criterion.padding(toLength: 18, withPad: " ", startingAt: 0)
                out += "       \(name) \(number(part.weight)) x \(String(format: "%.3f", part.score)) = "
                    + "\(String(format: "%.3f", part.contribution))  \(part.basis)\n"
            }
        }
        for skipped in selection.skipped { out += "  not ranked: \(skipped.playbookID) \(skipped.reason)\n" }
        return out
    }

    private static func number(_ value: Double) -> String { String(format: "%g", value) }

    public static func text(_ plan: Plan) -> String {
        var out = "Plan for \(plan.playbookID) \(plan.playbookVersion): \(plan.playbookName)\n"
        if let selection = plan.selection { out += selectionText(selection) }
        if !plan.parameters.isEmpty {
            out += "Parameters:\n"
            for p in plan.parameters { out += "  \(p.name)=\(shellQuoted(p.value))  (\(p.source))\n" }
        }
        if let rollout = plan.rollout {
            out += rolloutText(rollout)
        } else {
            out += "Targets: this host\n"
        }
        if let radius = plan.safety.blastRadius { out += "Blast radius: \(radius.rawValue)\n" }
        if plan.safety.requireApproval { out += "Requires approval before the first step.\n" }
        if !plan.gates.isEmpty {
            out += "Gates:\n"
            for verdict in plan.gates {
                out += "  \(verdict.gate): \(verdict.decision.rawValue) — \(verdict.reason)"
                if let needs = verdict.needs { out += " (needs \(needs.joined(separator: ", ")))" }
                if let until = verdict.until { out += " (until \(until))" }
                out += "\n"
            }
            if let blocking = GatePipeline.blocking(plan.gates) {
                out += "A run now would stop at the \(blocking.gate) gate, before any step.\n"
            }
        }
        out += plan.rollout == nil ? "Steps:\n" : "Steps (for each target, with ${target} and ${target_LABEL}):\n"
        for step in plan.steps { out += describe(step) }
        if let v = plan.verification {
            out += "Verification: \(v.check.source)"
            if let wait = v.waitTime { out += ", after \(wait)" }
            if let retry = v.retry { out += ", \(retry) retries" }
            if let window = v.window { out += ", window \(window)" }
            if let checks = v.consecutiveChecks { out += ", \(checks) consecutive checks" }
            out += "\n"
        }
        let undoable = plan.steps.filter { $0.rollbackScript != nil }.map { String($0.number) }
        if plan.rollback.available {
            out += "On failure: roll back"
            out += undoable.isEmpty ? "" : " steps \(undoable.joined(separator: ", ")) (action rollbacks, newest first)"
            if !plan.rollback.steps.isEmpty { out += ", then the playbook's \(plan.rollback.steps.count) rollback step(s)" }
            out += "\n"
            for step in plan.rollback.steps { out += describe(step) }
        } else {
            out += "On failure: no rollback" + (plan.rollback.reason.map { " (\($0))" } ?? "") + "\n"
        }
        if let escalation = plan.escalation, escalation.onFailure {
            out += "Escalation on failure: notify \(escalation.notify.joined(separator: ", "))"
            if escalation.createIncident { out += ", create an incident" }
            out += "\n"
        }
        return out
    }

    /// The stages with their targets (at most 20 names per stage; `--json` has them all).
    static func rolloutText(_ rollout: PlannedRollout) -> String {
        let count = rollout.targets.count
        var out = "Targets: \(count), in \(rollout.stages.count) stage(s) (rollout from \(rollout.source); order \(rollout.order)"
        if let seed = rollout.seed { out += ", seed \(seed)" }
        out += "; at most \(rollout.maxConcurrency) at a time; "
        let budget = rollout.failureBudget(total: count)
        out += budget == 0 ? "any failed target aborts" : "aborts when more than \(budget) target(s) fail (max_fail_percentage \(Interval.trim(rollout.maxFailPercentage))%)"
        out += ")\n"
        var covered = 0
        for stage in rollout.stages {
            covered += stage.targets.count
            let names = stage.targets.prefix(20).joined(separator: ", ") + (stage.targets.count > 20 ? ", … (\(stage.targets.count - 20) more)" : "")
            out += "  stage \(stage.number) (\(stage.size), \(covered) of \(count)): \(names)\n"
            if let wait = stage.wait { out += "    then wait \(wait)\n" }
            if let verify = stage.verify { out += "    then verify: \(verify.source)\n" }
            if let abortOn = rollout.abortOn { out += "    abort if: \(abortOn.source)\n" }
        }
        if !rollout.baselines.isEmpty {
            out += "  Baseline before stage 1: \(rollout.baselines.map(\.description).joined(separator: ", ")) (for the _increase checks)\n"
        }
        out += "  On abort: no further target starts, running ones finish, the remediated targets are undone newest first, the run is escalated.\n"
        return out
    }

    private static func describe(_ step: PlannedStep) -> String {
        var out = "  \(step.number). \(step.name) [\(step.action), \(step.executor.rawValue), risk \(step.riskLevel.rawValue)]\n"
        var policy = "timeout \(step.timeout), on failure \(step.onFailure.rawValue)"
        if let retry = step.retry { policy += ", retry \(retry.attempts)x \(retry.backoff.rawValue) from \(retry.initial)" }
        if !step.idempotent { policy += ", not idempotent" }
        if step.maintenanceOnly { policy += ", maintenance window only" }
        out += "     \(policy)\n"
        for p in step.environment {
            switch p.source {
            case .outputOfStep: out += "     \(p.name) = <\(p.source)>\n"
            case .default, .given, .step: out += "     \(p.name)=\(shellQuoted(p.value))\n"
            }
        }
        if !step.outputs.isEmpty { out += "     writes to $MEDIC_OUTPUT: \(step.outputs.joined(separator: ", "))\n" }
        if let topic = step.topic { out += "     publishes \(topic)\n" }
        if let request = step.request { out += "     \(request.method) \(request.url)\n" }
        if step.rollbackScript != nil { out += "     has a rollback\n" }
        return out
    }
}
