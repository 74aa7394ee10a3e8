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

    @Option(name: .customLong("sign-off"), help: "A sign-off a blast radius level requires, ROLE=NAME (repeatable).",
            transform: SignOff.argument)
    var signOffs: [SignOff] = []

    @Option(name: .customLong("lock-wait"), help: "Seconds to wait for a target another run holds (default 0: refuse at once).")
    var lockWait: Double = 0

    /// Refuses a bad --lock-wait or --force before the command loads or plans anything.
    func validate() throws {
        _ = try request()
    }

    /// What these options ask of the gates; `mode` replaces --mode when given (an incident is
    /// gated as the automated run `medic watch` would start).
    func request(mode: RunMode? = nil) throws -> GateRequest {
        let mode = mode ?? self.mode
        if force && mode == .automated { throw ValidationError("--force is for manual runs; an automated run never goes through a pause") }
        guard lockWait >= 0 else { throw ValidationError("--lock-wait must be 0 or more seconds") }
        return GateRequest(mode: mode, force: force, approvedBy: approvedBy, signOffs: SignOff.dictionary(signOffs), lockWait: lockWait)
    }

    /// `plan`, after a debug line saying which gate, if any, stops it.
    static func logged(_ plan: Plan, mode: RunMode) -> Plan {
        MedicLog.log.debug("medic: debug: gates evaluated", metadata: [
            "playbook": "\(plan.playbookID)", "mode": "\(mode.rawValue)",
            "blocking": "\(GatePipeline.blocking(plan.gates)?.gate.rawValue ?? "none")",
        ])
        return plan
    }
}

extension RunMode: ExpressibleByArgument {}
