import ArgumentParser
import Foundation
import MedicEngine
import MedicLoader
import MedicModel

struct ApproveCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "approve",
        abstract: "Approve a run that waits for approval; once every approval it needs is in, it runs.",
        discussion: """
            A run whose gates ask for approval (high-risk steps, require_approval, a blast radius \
            level) is journaled as pending_approval and waits, for an hour by default. Each \
            `medic approve` records who approved, as which role for a required sign-off, and why, \
            in the run's journal and in <state-dir>/audit.jsonl. Then the gates are evaluated again \
            with every approval so far: when all pass, the run starts here and now; when a sign-off \
            is still missing, it keeps waiting; when a gate now refuses (a pause, a held target), \
            it ends refused.

            Examples:
              medic approve 20261123-1015 --by alice --reason "checked the dashboards"
              medic approve 20261123-1015 --by bob --role engineering_manager
              medic deny 20261123-1015 --by carol --reason "not during the sale"
            """
    )

    @Argument(help: "A run id, or the start of one.")
    var runID: String

    @Option(help: "Who approves (recorded).")
    var by: String

    @Option(help: "The role this approval signs off for (require_sign_off), if any.")
    var role: String?

    @Option(help: "Why (recorded).")
    var reason: String?

    @OptionGroup var engine: EngineOptions

    @Option(help: "The directory holding the library (its policies are the gates' policies). Default: .")
    var root: String = "."

    @Flag(help: "Print the run's report as JSON at the end instead of progress lines.")
    var json = false

    mutating func run() async throws {
        let catalog: Catalog
        do {
            catalog = try CatalogStage().run(root: root)
        } catch let failure as CatalogStage.Failure {
            throw CommandFailure.catalog(failure)
        }
        let interpreter = try engine.interpreter(root: root)  // first: a bad engine option creates no state directory
        let gates = engine.gates(catalog, for: interpreter)
        let (runID, by, role, reason) = (runID, by, role, reason)
        let execution = ExecutionStage(interpreter: interpreter, stores: try engine.stores(of: interpreter))
        let report = try await RunOutput.carryOut(json: json, stopping: interpreter.environment) { observe in
            try await execution.approve(runID, by: by, role: role, reason: reason,
                                        regate: { plan, mode, approvals in
                                            let request = GateRequest(mode: mode, approvedBy: approvals.approvedBy,
                                                                      signOffs: approvals.signOffs)
                                            return await gates.run(plan, request, now: interpreter.clock.now).gates
                                        }, observe: observe)
        }
        if report.status == .pendingApproval, !json {
            printLine("Still waiting for approval: medic show \(report.runID) says what is missing.")
        }
        throw ExitCode(report.status == .pendingApproval ? 0 : report.outcome?.exitCode ?? 1)
    }
}

struct DenyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "deny",
        abstract: "Refuse a run that waits for approval; it ends refused, and the decision is audited."
    )

    @Argument(help: "A run id, or the start of one.")
    var runID: String

    @Option(help: "Who refuses (recorded).")
    var by: String

    @Option(help: "Why (recorded).")
    var reason: String?

    @OptionGroup var engine: EngineOptions

    @Flag(help: "Print the run's report as JSON at the end.")
    var json = false

    mutating func run() async throws {
        let interpreter = try engine.interpreter(root: ".")  // first: a bad engine option creates no state directory
        let (runID, by, reason) = (runID, by, reason)
        let execution = ExecutionStage(interpreter: interpreter, stores: try engine.stores(of: interpreter))
        let report = try await RunOutput.carryOut(json: json, stopping: interpreter.environment) { observe in
            try await execution.deny(runID, by: by, reason: reason, observe: observe)
        }
        _ = report
    }
}
