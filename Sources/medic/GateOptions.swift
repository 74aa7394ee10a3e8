import ArgumentParser
import Foundation
import MedicEngine
import MedicModel

/// The options the safety gates read, shared by `plan` and `run`.
struct GateOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Who starts the run: manual (a person) or automated (a rule or an alert).",
                               discussion: "The severity policy's auto_remediation and a pause apply to automated runs."))
    var mode: RunMode = .manual

    @Flag(help: "Run although Medic is paused (`medic pause`); manual runs only.")
    var force = false

    @Option(name: .customLong("approved-by"), help: "Who approved this run, for steps and playbooks that need approval.")
    var approvedBy: String?

    @Option(name: .customLong("sign-off"), help: "A sign-off a blast radius level requires, ROLE=NAME (repeatable).")
    var signOffs: [String] = []

    @Option(name: .customLong("lock-wait"), help: "Seconds to wait for a target another run holds (default 0: refuse at once).")
    var lockWait: Double = 0

    /// The plan with each gate's verdict, against the state directory as it is now.
    func gated(_ plan: Plan, catalog: Catalog, stateDirectory: String, evaluator: ConditionEvaluator) async throws -> Plan {
        if force && mode == .automated { throw ValidationError("--force is for manual runs; an automated run never goes through a pause") }
        guard lockWait >= 0 else { throw ValidationError("--lock-wait must be 0 or more seconds") }
        var given: [String: String] = [:]
        for signOff in signOffs {
            guard let eq = signOff.firstIndex(of: "="), eq != signOff.startIndex, signOff.index(after: eq) != signOff.endIndex else {
                throw ValidationError("--sign-off '\(signOff)' is not ROLE=NAME")
            }
            given[String(signOff[..<eq])] = String(signOff[signOff.index(after: eq)...])
        }
        var context = GateContext(
            plan: plan, catalog: catalog, mode: mode, stateDirectory: stateDirectory, now: Date(), force: force, approvedBy: approvedBy,
            lockWait: lockWait, evaluator: evaluator)
        context.signOffs = given
        var plan = plan
        plan.gates = await GatePipeline.standard.evaluate(context)
        return plan
    }
}

extension RunMode: ExpressibleByArgument {}
