import Foundation
import MedicModel

/// What a safety gate says about a run before its first step.
public struct GateVerdict: Sendable, Hashable, Codable {
    public enum Decision: String, Sendable, Hashable, Codable {
        case pass
        /// The run may go on once the approvals in `needs` are given.
        case needsApproval = "needs_approval"
        case refuse
        /// Not now: the run may go on at `until`.
        case deferred = "defer"
    }

    /// The gate's name: `kill_switch`, `severity_policy`, `approval`, `target_lock` ...
    public var gate: GateID
    public var decision: Decision
    /// Why, in a sentence an operator can act on.
    public var reason: String
    /// For `needs_approval`: who or what must approve.
    public var needs: [String]?
    /// For `defer`: when the run may go on (RFC 3339).
    public var until: String?

    public init(gate: GateID, decision: Decision, reason: String, needs: [String]? = nil, until: String? = nil) {
        self.gate = gate
        self.decision = decision
        self.reason = reason
        self.needs = needs
        self.until = until
    }

    public static func pass(_ gate: GateID, _ reason: String) -> GateVerdict { GateVerdict(gate: gate, decision: .pass, reason: reason) }
    public static func refuse(_ gate: GateID, _ reason: String) -> GateVerdict { GateVerdict(gate: gate, decision: .refuse, reason: reason) }
}

/// Who started a run. Gates are stricter with automation than with a person at the CLI: the
/// severity policy's `auto_remediation` governs automated runs only (§5.1), and a paused Medic
/// refuses automated runs while a person may `--force` one.
public enum RunMode: String, Sendable, Hashable, Codable, CaseIterable {
    case manual, automated
}

/// Everything a gate may look at.
public struct GateContext: Sendable {
    public var plan: Plan
    public var catalog: Catalog
    public var mode: RunMode
    public var stateDirectory: String
    public var now: Date
    /// The operator asked to go through a paused Medic (`--force`).
    public var force: Bool
    /// Who approved the run (`--approved-by`), if anyone.
    public var approvedBy: String?
    /// Seconds the run will wait for a target another run holds (`--lock-wait`).
    public var lockWait: Double
    /// Evaluates precondition conditions against the run's metric sources.
    public var evaluator: ConditionEvaluator?
    /// Sign-offs given (`--sign-off ROLE=NAME`): role -> who.
    public var signOffs: [String: String] = [:]
    /// The state's stores, which every gate asks (the switches, the target locks, the runs the
    /// breaker, rate limits and safe mode count); nil: the file-backed ones of `stateDirectory`,
    /// opened once per evaluation by `GatePipeline.evaluate`. A long-lived front end (a watch)
    /// passes its own, whose run index it keeps following.
    public var stores: StateStores?
    /// Set in a replay: rate limits count on the feed's clock (nil: `now` and the stores' runs).
    public var rateLimitClock: RateLimitClock?

    public init(plan: Plan, catalog: Catalog, mode: RunMode, stateDirectory: String, now: Date, force: Bool = false,
                approvedBy: String? = nil, lockWait: Double = 0, evaluator: ConditionEvaluator? = nil) {
        self.plan = plan
        self.catalog = catalog
        self.mode = mode
        self.stateDirectory = stateDirectory
        self.now = now
        self.force = force
        self.approvedBy = approvedBy
        self.lockWait = lockWait
        self.evaluator = evaluator
    }
}

/// One safety gate: a pure look at the context and the state directory, no side effects.
public protocol Gate: Sendable {
    var name: GateID { get }
    func evaluate(_ context: GateContext) async -> GateVerdict
}

/// The gates, in their fixed order, that of `GateID`'s cases (docs/running.md, "Safety gates"):
/// the kill switch first (it overrides everything), then what the playbook may do at its
/// severity, at its blast radius (§7.1) and in safe mode (§7.3), then its remediation circuit
/// breaker (`RemediationBreaker`: a playbook that keeps failing is stopped), then its rate limits
/// and maintenance windows, then who must approve, then whether its preconditions hold, then
/// whether its targets are free.
public struct GatePipeline: Sendable {
    public var gates: [any Gate]

    public static let standard = GatePipeline(gates: GateID.allCases.map(\.standardGate))

    public init(gates: [any Gate]) { self.gates = gates }

    public func evaluate(_ context: GateContext) async -> [GateVerdict] {
        var context = context
        if context.stores == nil { context.stores = StateStores.existing(in: context.stateDirectory) }
        await context.runHistory.refresh()
        var verdicts: [GateVerdict] = []
        for gate in gates { verdicts.append(await gate.evaluate(context)) }
        return verdicts
    }

    /// The verdict that stops a run, if any: the first refusal, else the first deferral, else the
    /// first need for approval (approval is asked for only when nothing else stands in the way).
    public static func blocking(_ verdicts: [GateVerdict]) -> GateVerdict? {
        verdicts.first { $0.decision == .refuse } ?? verdicts.first { $0.decision == .deferred }
            ?? verdicts.first { $0.decision == .needsApproval }
    }
}
