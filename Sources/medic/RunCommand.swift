import ArgumentParser
import Foundation
import MedicEngine
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

            Exit status: 0 the run succeeded (verification SUCCESS), 1 it did not (failed, rolled \
            back, partially succeeded, escalated) or the catalog has errors, 2 usage.

            Examples:
              medic run disk-space-cleanup-001 --dry-run
              medic run pod-restart-001 --param namespace=shop --param pod_selector=app=cart
              medic run ./my-playbook.yaml --json --bus webhook:https://events.internal/medic
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

    mutating func run() async throws {
        let (ungated, catalog) = try await playbook.plan()
        guard approvalTTL > 0 else { throw ValidationError("--approval-ttl must be more than 0 seconds") }
        let interpreter = try engine.interpreter(root: playbook.root)
        let plan = try await gateOptions.gated(ungated, catalog: catalog, stateDirectory: engine.stateDirectoryPath,
                                               evaluator: interpreter.verifier.evaluator)
        if dryRun {
            print(json ? PlanRenderer.json(plan) : PlanRenderer.text(plan), terminator: "")
            return
        }
        let store = try engine.store()
        let locks = TargetLocks(stateDirectory: store.directory)
        let (seed, mode, approvedBy, lockWait, ttl) = (seed, gateOptions.mode, gateOptions.approvedBy, gateOptions.lockWait, approvalTTL)
        let report = try await RunOutput.carryOut(json: json) { observe in
            try await interpreter.start(plan, in: store, seed: seed, mode: mode, approvedBy: approvedBy, locks: locks,
                                        lockWait: lockWait, approvalTTL: ttl, observe: observe)
        }
        if report.status == .pendingApproval, !json {
            print("Waiting for approval: medic approve \(report.runID) --by NAME (or medic deny \(report.runID) --by NAME)")
        }
        throw ExitCode(report.outcome?.exitCode ?? 1)
    }
}
