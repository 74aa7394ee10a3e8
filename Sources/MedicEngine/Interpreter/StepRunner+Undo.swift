import Foundation
import MedicModel

extension StepRunner {
    // MARK: - Rollback

    /// Journals what a rollback will undo — the `rollback` scripts of the steps that ran, newest
    /// first, then the playbook's `rollback.steps` — and undoes it. Returns the rollback's outcome.
    mutating func startRollback(because reason: String) async throws -> RunOutcome {
        var items: [RollbackItem] = []
        for number in state.ranOrder.reversed() {
            if let step = plan.steps.first(where: { $0.number == number }), step.rollbackScript != nil {
                items.append(RollbackItem(kind: .actionRollback, step: number, name: step.name))
            }
        }
        items += plan.rollback.steps.map { RollbackItem(kind: .playbookStep, step: $0.number, name: $0.name) }
        try await append(.rollbackStarted(rollback: items, message: reason))
        return try await rollBack()
    }

    /// Undoes the journaled rollback items not yet done and journals the rollback's end (`rolled_back`
    /// or `rollback_failed`), which it returns.
    mutating func rollBack() async throws -> RunOutcome {
        let items = state.rollbackItems ?? []
        for (index, item) in items.enumerated() where state.rollbackResults[index] == nil {
            switch item.kind {
            case .actionRollback:
                guard let step = plan.steps.first(where: { $0.number == item.step }) else { continue }
                _ = try await execute(step, purpose: .rollback, attempt: 1, idempotent: true, item: index, executor: .shell,
                                      script: step.rollbackScript)
            case .playbookStep:
                guard let step = plan.rollback.steps.first(where: { $0.number == item.step }) else { continue }
                _ = try await execute(step, purpose: .rollback, attempt: 1, idempotent: step.idempotent, item: index,
                                      executor: step.executor, script: step.script)
            }
        }
        let failedItems = items.indices.filter { state.rollbackResults[$0] != true }
        let finished: JournalRecord
        if failedItems.isEmpty {
            finished = .rollbackFinished(outcome: .rolledBack, message: items.isEmpty ? "nothing to undo" : "undid \(items.count) item(s)")
        } else {
            finished = .rollbackFinished(outcome: .rollbackFailed, message: "rollback failed: " + failedItems.map { "\(items[$0].kind == .actionRollback ? "undo of step" : "rollback step") \(items[$0].step) (\(items[$0].name))" }.joined(separator: ", "))
        }
        try await append(finished)
        return finished.outcome!
    }

    /// Why a rollback that ended `outcome` ends its scope, for the escalation or the end record.
    func afterRollbackReason(_ outcome: RunOutcome) -> String {
        outcome == .rolledBack
            ? "\(state.rollbackReason); rolled back"
            : "\(state.rollbackReason); AND the rollback failed: see the rollback records"
    }

    // MARK: - Resume

    /// Decides what to do with the step that was running when the process died; may run the
    /// action's verification script to find out (journaled like any other).
    mutating func decide(_ flight: RunState.InFlight, yes: Bool,
                         confirm: (@Sendable (String) async -> Bool)?) async throws -> Interpreter.InFlightDecision {
        guard flight.phase == .step || (flight.phase == .rollback && !flight.idempotent), !flight.idempotent else { return .rerun }
        let step = (flight.phase == .step ? plan.steps : plan.rollback.steps).first { $0.number == flight.step }
        if flight.phase == .step, let step, step.verificationScript != nil {
            let check = try await execute(step, purpose: .verification, attempt: flight.attempt, idempotent: true)
            if check.succeeded { return .verified }
        }
        if yes { return .rerun }
        let question = "Step \(flight.step) (\(step?.name ?? "?")) is not idempotent and had started when Medic stopped; "
            + "its outcome is unknown. Run it again?"
        if let confirm, await confirm(question) { return .rerun }
        return .unknown
    }

    func describe(_ decision: Interpreter.InFlightDecision, _ flight: RunState.InFlight) -> String {
        let what = "\(flight.phase == .step ? "step" : flight.phase.rawValue) \(flight.step) was running when the process died"
        switch decision {
        case .rerun: return flight.idempotent ? "\(what); it is idempotent, so it runs again" : "\(what); it runs again (confirmed)"
        case .verified: return "\(what); its action's verification passed, so it counts as done and is not run again"
        case .unknown: return "\(what); it is not idempotent and its outcome is unknown, so it is not run again"
        }
    }

    /// Why a step whose outcome is unknown stops its scope (`.unknown` decision).
    func unknownOutcomeReason(_ flight: RunState.InFlight) -> String {
        let rollback = flight.phase == .rollback
        let step = (rollback ? plan.rollback.steps : plan.steps).first { $0.number == flight.step }
        return "outcome unknown: \(rollback ? "rollback step" : "step") \(flight.step) (\(step?.name ?? "?")) "
            + "is not idempotent, had started when Medic stopped, and has no verification that passed; it was not run again. "
            + "Check it by hand."
    }
}
