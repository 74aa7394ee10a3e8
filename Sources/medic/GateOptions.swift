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

    /// The plan with each gate's verdict, against the state directory as it is now.
    func gated(_ plan: Plan, catalog: Catalog, stateDirectory: String) throws -> Plan {
        if force && mode == .automated { throw ValidationError("--force is for manual runs; an automated run never goes through a pause") }
        var plan = plan
        plan.gates = GatePipeline.standard.evaluate(GateContext(
            plan: plan, catalog: catalog, mode: mode, stateDirectory: stateDirectory, force: force, approvedBy: approvedBy))
        return plan
    }
}

extension RunMode: ExpressibleByArgument {}
