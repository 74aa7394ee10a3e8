import ArgumentParser
import Foundation
import MedicEngine
import MedicLoader
import MedicModel

struct PlanCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plan",
        abstract: "Show what a run of a playbook would do, step by step, without doing any of it.",
        discussion: """
            PLAYBOOK is a playbook file or a playbook_id found under --root. The library folders \
            under --root (playbooks/ actions/ rules/ policies/) are loaded and checked first: a \
            catalog with errors is never planned. Each step is shown with its executor, its \
            environment (values shell-quoted, exactly as the step will see them), timeout, retry, \
            failure policy and the rollback that would follow a failure. Values that earlier \
            steps write to $MEDIC_OUTPUT are shown as such: they exist only at run time.

            Exit status: 0 planned, 1 the catalog has errors, 2 usage (unknown playbook, a missing \
            or mistyped --param).

            Examples:
              medic plan disk-space-cleanup-001
              medic plan pod-restart-001 --param namespace=shop --param pod_selector=app=cart --json
            """
    )

    @Argument(help: "A playbook file, or a playbook_id under --root.")
    var playbook: String

    @Option(name: .customLong("param"), help: "A playbook parameter, NAME=VALUE (repeatable).")
    var parameters: [String] = []

    @Option(name: .customLong("target"), help: "A target to remediate (repeatable); replaces the playbook's targets.")
    var targets: [String] = []

    @Option(help: "The directory holding playbooks/ actions/ rules/ policies/.")
    var root: String = "."

    @Flag(help: "Print the plan as JSON.")
    var json = false

    mutating func run() async throws {
        var given: [String: String] = [:]
        for parameter in parameters {
            guard let eq = parameter.firstIndex(of: "="), eq != parameter.startIndex else {
                throw ValidationError("--param '\(parameter)' is not NAME=VALUE")
            }
            given[String(parameter[..<eq])] = String(parameter[parameter.index(after: eq)...])
        }
        let library = CatalogLoader.libraryPaths(under: root)
        let isFile = FileManager.default.fileExists(atPath: playbook)
        let result = CatalogLoader().load(paths: isFile ? [playbook] + library : library)
        if result.hasErrors {
            printError(DiagnosticRenderer.text(result.diagnostics.filter { $0.severity == .error }))
            printError("the catalog has errors; fix them (medic validate) before planning")
            throw ExitCode(1)
        }
        let catalog = result.catalog
        let chosen = isFile
            ? catalog.playbooks.first { $0.location.file == playbook }
            : catalog.playbook(id: playbook)
        guard let chosen else {
            let hint = Spelling.suggestion(for: playbook, among: catalog.playbooks.map(\.id)).map { " (did you mean '\($0)'?)" } ?? ""
            throw ValidationError("no playbook '\(playbook)' under '\(root)'\(hint)")
        }
        let plan: Plan
        do {
            plan = try Planner(catalog: catalog).plan(chosen, given: given,
                                                      targets: targets.isEmpty ? nil : targets.map { TargetSpec(name: $0) })
        } catch let error as PlanError {
            throw ValidationError(error.description)
        }
        print(json ? PlanRenderer.json(plan) : PlanRenderer.text(plan), terminator: "")
    }
}
