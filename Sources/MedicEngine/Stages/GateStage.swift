import Foundation
import MedicModel

/// Who asks for a run and with what: everything the gates read besides the plan, the catalog
/// and the state directory.
public struct GateRequest: Sendable {
    public var mode: RunMode
    /// Go through a paused Medic (manual runs only).
    public var force = false
    public var approvedBy: String?
    /// Sign-offs given: role -> who.
    public var signOffs: [String: String] = [:]
    /// Seconds the run will wait for a target another run holds.
    public var lockWait: Double = 0
    /// A replay: rate limits count on the feed's clock, over these runs.
    public var rateLimitClock: RateLimitClock?

    public init(mode: RunMode, force: Bool = false, approvedBy: String? = nil, signOffs: [String: String] = [:],
                lockWait: Double = 0) {
        self.mode = mode
        self.force = force
        self.approvedBy = approvedBy
        self.signOffs = signOffs
        self.lockWait = lockWait
    }
}

/// Puts a plan through the safety gates, against the state directory as it is now: the same
/// plan with `gates` filled, one verdict per gate in their order. `medic plan` shows it, `medic
/// run` and `medic watch` carry it out (the interpreter refuses or waits as the verdicts say).
public struct GateStage: Sendable {
    public let catalog: Catalog
    public let stateDirectory: String
    /// Evaluates preconditions against the run's metric sources.
    public let evaluator: ConditionEvaluator?
    public var pipeline: GatePipeline = .standard
    /// The stores the gates ask (`GateContext.stores`); nil: the file-backed ones of
    /// `stateDirectory`, opened afresh. A long-lived front end (a watch) passes its own, whose
    /// run index it keeps following.
    public var stores: StateStores?

    public init(catalog: Catalog, stateDirectory: String, evaluator: ConditionEvaluator?) {
        self.catalog = catalog
        self.stateDirectory = stateDirectory
        self.evaluator = evaluator
    }

    /// `plan` with each gate's verdict at `now`.
    public func run(_ plan: Plan, _ request: GateRequest, now: Date) async -> Plan {
        var context = GateContext(plan: plan, catalog: catalog, mode: request.mode, stateDirectory: stateDirectory, now: now,
                                  force: request.force, approvedBy: request.approvedBy, lockWait: request.lockWait,
                                  evaluator: evaluator)
        context.signOffs = request.signOffs
        context.rateLimitClock = request.rateLimitClock
        context.stores = stores
        var gated = plan
        gated.gates = await pipeline.evaluate(context)
        return gated
    }
}
