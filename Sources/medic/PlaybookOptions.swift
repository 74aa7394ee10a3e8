import ArgumentParser
import Foundation
import MedicEngine
import MedicLoader
import MedicModel

/// The options that name a playbook and its inputs, shared by `plan` and `run`.
struct PlaybookOptions: ParsableArguments {
    @Argument(help: "A playbook file, or a playbook_id under --root.")
    var playbook: String

    @Option(name: .customLong("param"), help: "A playbook parameter, NAME=VALUE (repeatable).")
    var parameters: [String] = []

    @Option(name: .customLong("target"), help: "A target to remediate (repeatable); replaces the playbook's targets.")
    var targets: [String] = []

    @Option(help: "The directory holding playbooks/ actions/ rules/ policies/.")
    var root: String = "."

    /// Loads the library under --root (and the playbook file, when one is named), checks it and
    /// plans the playbook. A catalog with errors exits 1; a bad name or parameter is a usage error.
    func plan() throws -> (Plan, Catalog) {
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
            printError("the catalog has errors; fix them (medic validate) first")
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
        do {
            let plan = try Planner(catalog: catalog).plan(
                chosen, given: given, targets: targets.isEmpty ? nil : targets.map { TargetSpec(name: $0) })
            return (plan, catalog)
        } catch let error as PlanError {
            throw ValidationError(error.description)
        }
    }
}
