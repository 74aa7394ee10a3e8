import ArgumentParser
import MedicEngine

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

            Exit status: 0 planned, 1 the catalog has errors, 2 usage (unknown playbook, a missing \
            or mistyped --param).

            Examples:
              medic plan disk-space-cleanup-001
              medic plan pod-restart-001 --param namespace=shop --param pod_selector=app=cart --json
            """
    )

    @OptionGroup var options: PlaybookOptions
    @OptionGroup var gateOptions: GateOptions

    @Option(name: .customLong("state-dir"), help: "The state directory the gates read (pause, locks). Default: $MEDIC_HOME, else .medic")
    var stateDirectory: String?

    @Option(help: "A metric sources file, for conditions in preconditions. Default: metrics.yaml under --root when present.")
    var metrics: String?

    @Flag(help: "Print the plan as JSON.")
    var json = false

    mutating func run() async throws {
        let (ungated, catalog) = try await options.plan()
        let evaluator = ConditionEvaluator(metrics: try metricRegistry(file: metrics, root: options.root))
        let plan = try await gateOptions.gated(ungated, catalog: catalog, stateDirectory: stateDirectory ?? RunStore.defaultDirectory(),
                                               evaluator: evaluator)
        print(json ? PlanRenderer.json(plan) : PlanRenderer.text(plan), terminator: "")
    }
}
