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
    /// Where the value comes from; its JSON key stays `source`.
    public var source: ParameterOrigin

    public init(name: String, value: String, source: ParameterOrigin) {
        self.name = name
        self.value = value
        self.source = source
    }
}

/// Where a rendered parameter's value comes from. Its JSON spelling, which journals and
/// `medic plan --json` have always held and `medic plan` prints in parentheses, is `default`,
/// `given`, `step` or `output of step N`.
///
/// Any other spelling is refused with a decoding error naming it: this Medic never wrote one,
/// and a journal line that holds one is reported as damaged, like any line that cannot be read,
/// rather than guessed at.
public enum ParameterOrigin: Sendable, Hashable, Codable, CustomStringConvertible {
    /// The declaration's default (the playbook's or the action's).
    case `default`
    /// Given for the run: `--param`, or the values a rule or an alert passes.
    case given
    /// The step's own argument, after `${name}` references were filled in.
    case step
    /// Written to `$MEDIC_OUTPUT` by step N: the value is known only once that step has run.
    case outputOfStep(Int)

    private static let outputPrefix = "output of step "

    /// The origin `spelling` names, nil for any other text. A step number must be spelled as
    /// `description` spells it (no sign, no leading zeros), so that it encodes back unchanged.
    public init?(spelling: String) {
        switch spelling {
        case "default": self = .default
        case "given": self = .given
        case "step": self = .step
        default:
            guard spelling.hasPrefix(Self.outputPrefix) else { return nil }
            let digits = String(spelling.dropFirst(Self.outputPrefix.count))
            guard let number = Int(digits), String(number) == digits else { return nil }
            self = .outputOfStep(number)
        }
    }

    /// The JSON and text spelling.
    public var description: String {
        switch self {
        case .default: return "default"
        case .given: return "given"
        case .step: return "step"
        case .outputOfStep(let number): return Self.outputPrefix + String(number)
        }
    }

    /// The value is an earlier step's output, known only at run time (the plan holds it empty).
    public var isStepOutput: Bool {
        if case .outputOfStep = self { return true }
        return false
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let spelling = try container.decode(String.self)
        guard let origin = ParameterOrigin(spelling: spelling) else {
            throw DecodingError.dataCorruptedError(
                in: container, debugDescription: "parameter source '\(spelling)' is none of default, given, step, output of step N")
        }
        self = origin
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
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
