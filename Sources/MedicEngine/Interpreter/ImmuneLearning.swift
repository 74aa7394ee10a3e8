import Foundation
import MedicKnowledge
import MedicModel

/// What a finished run teaches the immune memory (seed-systems §1): a run that
/// was started for an incident (its `run_started.detection` carries the fault's signature), or
/// run in a chaos experiment that names the fault it injected (`run_started.chaos.fault`),
/// remembers the steps it ran as the cure when it succeeded, and lowers the remembered success
/// rate when it did not (a failure of an unknown fault teaches nothing). A refused run never
/// acted and teaches nothing; neither does a run a person started without an incident.
///
/// Done by the `LearningStage` right after the incident record, as one update of the memory
/// (`ImmuneMemoryStore`); every change is published on the bus (`chaos.immune-memory.changed`) so
/// other nodes can sync. Like the incident record, a failure here never changes the run: it is
/// one of the stage's warnings.
enum ImmuneLearning {
    /// The lesson of a finished run; nil when it teaches nothing.
    static func outcome(of records: [JournalRecord]) -> RemediationOutcome? {
        guard let started = records.first(where: { $0.event == .runStarted }), let plan = started.plan,
              let signature = (started.detection?.signature ?? started.chaos?.fault)?.signature,
              let outcome = records.last(where: { $0.event == .runFinished && $0.target == nil })?.outcome,
              outcome != .refused else { return nil }
        var seen = Set<Int>()
        var actions: [RemediationAction] = []
        for record in records where record.event == .stepFinished && record.phase == .step {
            guard let number = record.step, seen.insert(number).inserted,
                  let step = plan.steps.first(where: { $0.number == number }) else { continue }
            actions.append(RemediationAction(playbookID: plan.playbookID, action: step.name, priority: step.number,
                                             timeout: step.timeout.seconds, type: RemediationActionType.carriedOut(by: step)))
        }
        if let chaos = started.chaos {
            return RemediationOutcome(signature: signature, actions: actions, succeeded: outcome == .succeeded,
                                      origin: .chaosExperiment, originID: chaos.experimentID)
        }
        return RemediationOutcome(signature: signature, actions: actions, succeeded: outcome == .succeeded,
                                  origin: .run, originID: started.run)
    }

    /// Teaches `memory` the `lesson`: the memory's changes (to publish), or why it did not learn.
    static func learn(_ lesson: RemediationOutcome, into memory: any ImmuneMemoryStore, now: Date)
        -> (changes: [ImmuneMemoryChange], failure: String?) {
        do {
            let (_, changes) = try memory.update(capacity: ImmuneMemory.defaultCapacity, at: now) { memory in
                ((), memory.learn(lesson, at: now))
            }
            return (changes, nil)
        } catch {
            return ([], "the immune memory did not learn from run \(lesson.originID ?? "?") in \(memory.location): \(error)")
        }
    }

    /// Publishes memory changes; a bus failure is told to `failed`, the change stands.
    static func publish(_ changes: [ImmuneMemoryChange], through bus: any StepExecutor,
                        failed: @Sendable (String) -> Void) async {
        for failure in await publishingFailures(changes, through: bus) { failed(failure) }
    }

    /// Publishes memory changes: why each one that was not published was not (the change stands).
    static func publishingFailures(_ changes: [ImmuneMemoryChange], through bus: any StepExecutor) async -> [String] {
        await ImmuneMemoryEvents.publish(changes, through: bus).compactMap { change, _, failure in
            failure.map { "the immune-memory change of \(change.signatureID) was not published: \($0)" }
        }
    }
}

/// The immune memory's changes on the bus (seed-systems §1: "every change is published on the
/// bus so other nodes can sync"): one CloudEvent `chaos.immune-memory.changed` per change,
/// source `medic/runs/immune-memory`, data `{kind, signature_id, success_rate?}`. Used by the
/// watch and the interpreter (learning, decay) and by `medic memory learn|forget`.
public enum ImmuneMemoryEvents {
    /// Publishes each change in order; for each, the event id, or why it was not published.
    public static func publish(_ changes: [ImmuneMemoryChange], through bus: any StepExecutor) async
        -> [(change: ImmuneMemoryChange, eventID: String?, failure: String?)] {
        var results: [(ImmuneMemoryChange, String?, String?)] = []
        for change in changes {
            let request = ExecutionRequest(
                runID: "immune-memory", stepNumber: 0, stepName: change.kind.rawValue, action: "immune-memory",
                purpose: .step, executor: .bus, topic: change.type, parameters: change.data, timeout: 30)
            do {
                let result = try await bus.execute(request)
                results.append(result.succeeded ? (change, result.outputs["event_id"], nil) : (change, nil, result.summary))
            } catch {
                results.append((change, nil, "\(error)"))
            }
        }
        return results
    }
}
