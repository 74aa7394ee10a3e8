import ArgumentParser
import Foundation
import MedicDetect
import MedicEngine
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
            failure policy and the rollback that would follow a failure, then each safety gate's \
            verdict (kill switch, severity policy, approval, target locks) as a run now would meet \
            them. Values that earlier \
            steps write to $MEDIC_OUTPUT are shown as such: they exist only at run time. \
            `medic run --dry-run` prints the same plan.

            --incident RULE plans what `medic watch` would do when that rule fires on a series \
            with the --label values: the candidates (the rule's `playbook:` list and the cure the \
            immune memory remembers for the fault) ranked by the knowledge base — success rate, \
            average execution time, blast radius match, recency, weighted as docs/knowledge.md (Ranking) says, or \
            the policies' playbook_selection — each score with its parts, then the plan of the \
            first. An incident no playbook can take would be escalated to people: exit 1.

            Exit status: 0 planned, 1 the catalog has errors or the incident has no applicable \
            playbook, 2 usage (unknown playbook or rule, a missing or mistyped --param).

            Examples:
              medic plan disk-space-cleanup-001
              medic plan pod-restart-001 --param namespace=shop --json
              medic plan --incident disk-filling --label host=web-1 --label mountpoint=/var
            """
    )

    @OptionGroup var options: PlaybookOptions
    @OptionGroup var gateOptions: GateOptions

    @Option(name: .customLong("state-dir"), help: "The state directory the gates read (pause, locks). Default: $MEDIC_HOME, else .medic")
    var stateDirectory: String?

    @Option(help: "A metric sources file, for conditions in preconditions. Default: metrics.yaml under --root when present.")
    var metrics: String?

    @Option(help: ArgumentHelp("Plan for an incident of this anomaly rule (under --root) instead of a named playbook.",
                               valueName: "rule"))
    var incident: String?

    @Option(name: .customLong("label"), help: ArgumentHelp("A label of the incident's series, NAME=VALUE (repeatable; with --incident).",
                                                           valueName: "name=value"),
            transform: NamedValue.argument)
    var labels: [NamedValue] = []

    @Option(help: "The value of the sample that fired (with --incident). Default: 0")
    var value: Double = 0

    @Flag(help: "Print the plan as JSON.")
    var json = false

    mutating func run() async throws {
        // One reading of the clock: the simulated incident, its selection and the gates agree on "now".
        let now = SystemClock().now
        if let incident { return try await planIncident(incident, now: now) }
        guard labels.isEmpty else { throw ValidationError("--label describes an incident's series: give --incident RULE too") }
        let (ungated, catalog) = try await options.plan()
        let plan = try await gated(ungated, catalog: catalog, stores: readStores(), mode: nil, now: now)
        writeOut(json ? PlanRenderer.json(plan) : PlanRenderer.text(plan))
    }

    private var statePath: String { stateDirectory ?? RunStore.defaultDirectory() }

    /// The state is only read: the stores of a state directory that holds runs, else none (the
    /// gates then see no runs, and nothing is created). Opened once the command line is checked.
    private func readStores() -> StateStores? { StateStores.existing(in: statePath) }

    /// The gate stage over `plan` at `now` with the gate options (`mode` replacing --mode when given).
    private func gated(_ plan: Plan, catalog: Catalog, stores: StateStores?, mode: RunMode?, now: Date) async throws -> Plan {
        let evaluator = ConditionEvaluator(metrics: try metricRegistry(file: metrics, root: options.root))
        let request = try gateOptions.request(mode: mode)
        var stage = GateStage(catalog: catalog, stateDirectory: statePath, evaluator: evaluator)
        stage.stores = stores
        return GateOptions.logged(await stage.run(plan, request, now: now), mode: request.mode)
    }

    /// `--incident RULE`: the candidates ranked as `medic watch` would rank them, then the plan
    /// of the first through the gates (as an automated run); the immune memory is only read.
    private func planIncident(_ name: String, now: Date) async throws {
        guard options.playbook == nil else {
            throw ValidationError("give a playbook or --incident RULE, not both: --incident ranks the rule's playbooks")
        }
        guard options.parameters.isEmpty else {
            throw ValidationError("--param is not taken with --incident: the rule's parameters and parameters_from_labels give them")
        }
        let seriesLabels = NamedValue.dictionary(labels)
        let catalog = try options.loadCatalog()
        guard let rule = catalog.rules.first(where: { $0.name == name }) else {
            let hint = Spelling.suggestion(for: name, among: catalog.rules.map(\.name)).map { " (did you mean '\($0)'?)" } ?? ""
            throw ValidationError("no anomaly rule '\(name)' under '\(options.root)'\(hint)")
        }
        guard let simulated = Incident.simulated(rule: rule, labels: seriesLabels, value: value, at: now.timeIntervalSince1970) else {
            throw ValidationError("rule '\(name)' cannot be evaluated: its metric selector is invalid (medic validate says why)")
        }
        let stores = readStores()
        var selector = PlaybookSelector(catalog: catalog, knowledge: stores?.knowledge ?? StateStores.knowledge(in: statePath))
        selector.persistMemory = false
        let (outcome, _, problems) = selector.select(simulated, targets: try await options.commandLineTargets(), now: now)
        for problem in problems { MedicLog.log.warning("medic: warning: \(problem)") }
        switch outcome {
        case .unmatched(let selection, let reason):
            if json {
                let object = UnmatchedOutput(unmatched: true, reason: reason, selection: selection)
                writeOut(PlanRenderer.encodeJSON(object))
            } else {
                printLine(PlanRenderer.selectionText(selection) + "No applicable remediation playbook: \(reason).\n"
                      + "medic watch would escalate this incident to people (dev.medic.incident.escalated).")
            }
            throw ExitCode(1)
        case .chosen(let ungated):
            // The gates as `medic watch` would meet them: an automated run (the other gate options apply).
            let plan = try await gated(ungated, catalog: catalog, stores: stores, mode: .automated, now: now)
            writeOut(json ? PlanRenderer.json(plan) : PlanRenderer.text(plan))
        }
    }

    private struct UnmatchedOutput: Encodable {
        var unmatched: Bool
        var reason: String
        var selection: PlaybookSelection
    }
}
