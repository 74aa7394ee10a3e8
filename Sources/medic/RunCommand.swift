import ArgumentParser
import Foundation
import MedicEngine
import MedicKnowledge
import MedicModel

struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Carry out a playbook: its steps, verification, rollback and escalation, journaled.",
        discussion: """
            The plan (see `medic plan`) is carried out step by step through the shell, bus and http \
            executors. Every transition is written to the run's journal, <state-dir>/runs/RUN.jsonl, \
            and fsync'ed before the side effect it announces; if Medic is killed, `medic runs` shows \
            the run as interrupted and `medic resume RUN` continues it without running a finished \
            step twice. --dry-run prints the plan and runs nothing.

            --chaos-experiment ID marks a run that remediates a fault a chaos experiment injected: \
            its incident record has mode chaos (counted in the playbook's figures, not as an \
            incident in the KPIs), and with --fault-type and --pattern (and --component ...) its \
            outcome teaches the immune memory that fault's cure, as `medic memory learn` would.

            Exit status: 0 the run succeeded (verification SUCCESS), 1 it did not (failed, rolled \
            back, partially succeeded, escalated) or the catalog has errors, 2 usage.

            Examples:
              medic run disk-space-cleanup-001 --dry-run
              medic run pod-restart-001 --param namespace=shop
              medic run ./my-playbook.yaml --json --bus webhook:https://hooks.example/m
              medic run restart-service-001 --param service_name=api \\
                --chaos-experiment exp-42 --fault-type process-kill \\
                --component api --pattern process-kill:api:1-instance
            """
    )

    @OptionGroup var playbook: PlaybookOptions
    @OptionGroup var engine: EngineOptions

    @Flag(name: .customLong("dry-run"), help: "Print the plan (as `medic plan` does) and run nothing.")
    var dryRun = false

    @Flag(help: "Print the run's report as JSON at the end instead of progress lines.")
    var json = false

    @Option(help: "Seed for retry jitter (recorded in the journal). Default: random.")
    var seed: UInt64?

    @OptionGroup var gateOptions: GateOptions

    @Option(name: .customLong("approval-ttl"), help: "Seconds a request for approval waits before it expires (default 3600).")
    var approvalTTL: Double = 3600

    @Option(name: .customLong("chaos-experiment"), help: ArgumentHelp("The run remediates a chaos experiment's fault: its id.", valueName: "id"))
    var chaosExperiment: String?

    @Option(name: .customLong("fault-type"), help: "With --chaos-experiment: the type of the fault injected (network-partition ...).")
    var faultType: String?

    @Option(name: .customLong("component"), help: "With --chaos-experiment: a component the fault affected (repeatable).")
    var components: [String] = []

    @Option(help: "With --chaos-experiment: the fault's pattern, such as network-partition:storage:3-nodes.")
    var pattern: String?

    func validate() throws {
        guard approvalTTL > 0 else { throw ValidationError("--approval-ttl must be more than 0 seconds") }
        if chaosExperiment == nil, faultType != nil || pattern != nil || !components.isEmpty {
            throw ValidationError("--fault-type, --component and --pattern describe a chaos experiment's fault: give --chaos-experiment ID too")
        }
        if (faultType == nil) != (pattern == nil) {
            throw ValidationError("give --fault-type and --pattern together: they make the fault's signature")
        }
        for (name, value) in [("--chaos-experiment", chaosExperiment), ("--fault-type", faultType), ("--pattern", pattern)]
        where value?.trimmingCharacters(in: .whitespaces).isEmpty == true {
            throw ValidationError("\(name) must not be empty")
        }
    }

    /// The chaos experiment the run belongs to, with its fault when given.
    private var chaos: ChaosRun? {
        guard let chaosExperiment else { return nil }
        let fault = faultType.flatMap { type in
            pattern.map { IncidentFault(FaultSignature(faultType: type, components: components, pattern: $0)) }
        }
        return ChaosRun(experimentID: chaosExperiment, fault: fault)
    }

    mutating func run() async throws {
        let (ungated, catalog) = try await playbook.plan()
        let interpreter = try engine.interpreter(root: playbook.root, openingState: !dryRun)
        let gates = engine.gates(catalog, for: interpreter)
        let plan = GateOptions.logged(await gates.run(ungated, try gateOptions.request(), now: interpreter.clock.now), mode: gateOptions.mode)
        if dryRun {
            writeOut(json ? PlanRenderer.json(plan)
                     : PlanRenderer.text(plan) + "\nDry run: nothing ran and nothing was journaled. Without --dry-run, medic run carries this plan out.\n")
            return
        }
        let execution = ExecutionStage(interpreter: interpreter, stores: try engine.stores(of: interpreter))
        let request = RunRequest(mode: gateOptions.mode, seed: seed, approvedBy: gateOptions.approvedBy, lockWait: gateOptions.lockWait,
                                 approvalTTL: approvalTTL, chaos: chaos)
        let report = try await RunOutput.carryOut(json: json, stopping: interpreter.environment) { observe in
            try await execution.run(plan, request, observe: observe)
        }
        if report.status == .pendingApproval, !json {
            printLine("Waiting for approval: medic approve \(report.runID) --by NAME (or medic deny \(report.runID) --by NAME)")
        }
        throw ExitCode(report.outcome?.exitCode ?? 1)
    }
}
