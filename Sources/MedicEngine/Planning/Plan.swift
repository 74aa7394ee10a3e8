import MedicModel

/// What a run of a playbook will do, step by step, before it does any of it: the value that
/// `medic plan` and `--dry-run` print and that the interpreter walks (ARCHITECTURE.md, "Plan").
public struct Plan: Sendable, Hashable, Codable {
    public var playbookID: String
    public var playbookVersion: String
    public var playbookName: String
    /// The playbook's category (§3.2); nil in plans journaled before it was recorded.
    public var category: Category? = nil
    /// The playbook's severity, which the severity policy gate reads (§5.1).
    public var severity: Severity
    /// The playbook's inputs after defaults and `--param` values, rendered for the environment.
    public var parameters: [RenderedParameter]
    public var targets: [TargetSpec]
    /// With targets, how the steps are carried across them (stages, concurrency, checks); nil
    /// when the plan has no targets and its steps run once, on this host.
    public var rollout: PlannedRollout? = nil
    public var steps: [PlannedStep]
    public var verification: Verification?
    public var rollback: PlannedRollback
    public var escalation: Escalation?
    public var safety: Safety
    /// The playbook's `preconditions`, checked by the preconditions gate before the first step.
    public var preconditions: [Precondition] = []
    /// Each safety gate's verdict, in the pipeline's order (`GatePipeline`); empty until the
    /// gates have been evaluated against the state directory.
    public var gates: [GateVerdict] = []
    /// How this playbook was chosen for an incident, among which candidates (§6.2); nil when a
    /// person named the playbook.
    public var selection: PlaybookSelection? = nil
}

/// A name and the exact text the step's environment will hold.
public struct RenderedParameter: Sendable, Hashable, Codable {
    public var name: String
    public var value: String
    /// Where the value comes from: `default`, `given`, `step`, or `output of step N` (known at run time).
    public var source: String

    public init(name: String, value: String, source: String) {
        self.name = name
        self.value = value
        self.source = source
    }
}

public struct PlannedStep: Sendable, Hashable, Codable {
    public var number: Int
    public var name: String
    public var action: String
    public var executor: ExecutorKind
    public var riskLevel: RiskLevel
    /// The step's environment, in name order. Values from earlier steps' outputs are listed with
    /// their source and an empty value: they are known only when those steps have run.
    public var environment: [RenderedParameter]
    public var script: String?
    public var verificationScript: String?
    public var rollbackScript: String?
    public var topic: String?
    public var request: HTTPRequestSpec?
    public var timeout: Interval
    public var retry: RetryPolicy?
    public var onFailure: FailurePolicy
    public var idempotent: Bool
    public var maintenanceOnly: Bool
    public var outputs: [String]
    /// The action's `pre_conditions`, checked by the preconditions gate with this step's environment.
    public var preconditions: [Precondition] = []
}

public struct PlannedRollback: Sendable, Hashable, Codable {
    public var available: Bool
    public var reason: String?
    /// The playbook's own `rollback.steps`, run after the failed steps' action rollbacks.
    public var steps: [PlannedStep]
}
