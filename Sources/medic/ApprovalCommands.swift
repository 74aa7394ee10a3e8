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
        let library = CatalogLoader().load(paths: CatalogLoader.libraryPaths(under: root))
        if library.hasErrors {
            printError(DiagnosticRenderer.text(library.diagnostics.filter { $0.severity == .error }))
            printError("the catalog has errors; fix them (medic validate) first")
            throw ExitCode(1)
        }
        let catalog = library.catalog
        let store = try engine.store()
        let interpreter = try engine.interpreter(root: root)
        let evaluator = interpreter.verifier.evaluator
        let directory = store.directory
        let (runID, by, role, reason) = (runID, by, role, reason)
        let report = try await RunOutput.carryOut(json: json) { observe in
            try await interpreter.approve(runID, in: store, by: by, role: role, reason: reason, locks: TargetLocks(stateDirectory: directory),
                                          regate: { plan, mode, approvals in
                                              var context = GateContext(plan: plan, catalog: catalog, mode: mode, stateDirectory: directory,
                                                                        now: Date(), approvedBy: approvals.approvedBy, evaluator: evaluator)
                                              context.signOffs = approvals.signOffs
                                              return await GatePipeline.standard.evaluate(context)
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
        let store = try engine.store()
        let interpreter = try engine.interpreter(root: ".")
        let (runID, by, reason) = (runID, by, reason)
        let report = try await RunOutput.carryOut(json: json) { observe in
            try await interpreter.deny(runID, in: store, by: by, reason: reason, observe: observe)
        }
        _ = report
    }
}
