import ArgumentParser
import Foundation
import MedicEngine
import MedicLoader
import MedicModel

/// The options that name a playbook and its inputs, shared by `plan` and `run`.
struct PlaybookOptions: ParsableArguments {
    @Argument(help: "A playbook file, or a playbook_id under --root.")
    var playbook: String?

    @Option(name: .customLong("param"), help: "A playbook parameter, NAME=VALUE (repeatable).", transform: NamedValue.argument)
    var parameters: [NamedValue] = []

    @Option(name: .customLong("target"), help: ArgumentHelp(
        "A target to remediate, NAME[,LABEL=VALUE...] (repeatable); replaces the playbook's targets.",
        discussion: "For example --target web-1,service=web,region=eu-west-1. The steps see the name as ${target} and each label as ${target_LABEL}."),
            transform: TargetArgument.argument)
    var targets: [TargetArgument] = []

    @Option(help: ArgumentHelp("An inventory file (YAML or JSON: hosts with labels and groups) whose hosts are the targets.",
                               valueName: "file"))
    var inventory: String?

    @Option(name: .customLong("group"), help: "Only the inventory's hosts in this group (repeatable).")
    var groups: [String] = []

    @Option(help: ArgumentHelp("A command that prints the targets: one per line (NAME [LABEL=VALUE ...]) or a JSON array.",
                               valueName: "command"))
    var targetsCommand: String?

    @Option(help: "The directory holding playbooks/ actions/ rules/ policies/.")
    var root: String = "."

    /// Loads the library under --root (and the playbook file, when one is named), checks it and
    /// plans the playbook (the catalog and plan stages). A catalog with errors exits 1; a bad
    /// name or parameter is a usage error.
    func plan() async throws -> (Plan, Catalog) {
        guard let playbook else {
            throw ValidationError("name a playbook: a playbook file or a playbook_id under --root (medic list shows them)")
        }
        let given = NamedValue.dictionary(parameters)
        let reference = PlaybookReference(playbook)
        let catalog = try loadCatalog(extra: reference.extraFiles)
        let stage = PlanStage(catalog: catalog)
        do {
            let chosen = try stage.playbook(reference)
            let chosenTargets = try await commandLineTargets()
            return (try stage.run(PlanRequest(playbook: chosen, parameters: given, targets: chosenTargets)), catalog)
        } catch let failure as PlanStage.Failure {
            switch failure {
            case .noSuchFile(let name):
                throw ValidationError("\(name): no such file")
            case .unknownPlaybook(let name, let known):
                let hint = NameHint.hint(for: name, among: known, listedBy: "medic list --root \(root)")
                throw ValidationError("no playbook '\(name)' under '\(root)'\(hint)")
            case .invalid(let error):
                throw ValidationError(error.description)
            }
        }
    }

    /// The library under --root (and `extra` files), checked: a catalog with errors exits 1.
    func loadCatalog(extra: [String] = []) throws -> Catalog {
        do {
            let catalog = try CatalogStage().run(root: root, extraFiles: extra)
            MedicLog.log.debug("medic: debug: catalog loaded", metadata: [
                "root": "\(root)", "playbooks": "\(catalog.playbooks.count)", "actions": "\(catalog.actions.count)",
                "rules": "\(catalog.rules.count)",
            ])
            return catalog
        } catch let failure as CatalogStage.Failure {
            throw CommandFailure.catalog(failure)
        }
    }

    /// The targets given on the command line, or nil when none (the playbooks' own apply).
    func commandLineTargets() async throws -> [TargetSpec]? {
        do {
            let targets = try await givenTargets()
            return targets.isEmpty ? nil : targets
        } catch let error as PlanError {
            throw ValidationError(error.description)
        }
    }

    /// The targets of --target, --inventory (with --group) and --targets-command, in that order;
    /// empty when none is given (the playbook's own targets, if any, apply).
    private func givenTargets() async throws -> [TargetSpec] {
        var result = targets.map(\.target)
        if let inventory {
            let (loaded, diagnostics) = InventoryLoader.load(path: inventory)
            guard let loaded else {
                throw CommandFailure.diagnostics(diagnostics.filter { $0.severity == .error }, "the inventory has errors; nothing was planned")
            }
            let known = Set(loaded.hosts.flatMap(\.groups))
            if let unknown = groups.first(where: { !known.contains($0) }) {
                let hint = Spelling.suggestion(for: unknown, among: known).map { " (did you mean '\($0)'?)" } ?? ""
                throw PlanError("--group '\(unknown)': no host of \(inventory) is in that group\(hint)")
            }
            let chosen = loaded.targets(inGroups: groups)
            guard !chosen.isEmpty else { throw PlanError("\(inventory) lists no host") }
            result += chosen
        } else if !groups.isEmpty {
            throw ValidationError("--group selects hosts of an inventory: give --inventory FILE too")
        }
        if let targetsCommand {
            result += try await TargetSources.fromCommand(targetsCommand, workingDirectory: root)
        }
        return result
    }
}
