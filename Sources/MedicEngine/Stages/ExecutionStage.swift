import Foundation
import MedicModel

/// How a gated plan is to be run: who started it and what it may wait for.
public struct RunRequest: Sendable {
    public var mode: RunMode
    /// The run's id; nil: a new one at the clock's now.
    public var runID: String?
    /// Seed of the retry jitter; nil: random.
    public var seed: UInt64?
    public var approvedBy: String?
    public var lockWait: Double = 0
    /// Seconds a request for approval waits before it expires.
    public var approvalTTL: Double = 3600
    /// The incident a rule detected, for a run `medic watch` started.
    public var detection: Detection?
    /// The chaos experiment whose fault the run remediates.
    public var chaos: ChaosRun?

    public init(mode: RunMode, runID: String? = nil, seed: UInt64? = nil, approvedBy: String? = nil, lockWait: Double = 0,
                approvalTTL: Double = 3600, detection: Detection? = nil, chaos: ChaosRun? = nil) {
        self.mode = mode
        self.runID = runID
        self.seed = seed
        self.approvedBy = approvedBy
        self.lockWait = lockWait
        self.approvalTTL = approvalTTL
        self.detection = detection
        self.chaos = chaos
    }
}

/// Carries a gated plan out through the interpreter, in the stores' runs, holding its targets'
/// locks of the stores, recording approvals in their audit log: the run's report. Learning
/// happens as the run ends (its incident record and the immune memory's update are the
/// interpreter's last writes).
public struct ExecutionStage: Sendable {
    public let interpreter: Interpreter
    public let stores: StateStores

    public init(interpreter: Interpreter, stores: StateStores) {
        self.interpreter = interpreter
        self.stores = stores
    }

    /// Runs `plan`; `observe` sees every journal record as it is written. Throws when the
    /// journal cannot be written.
    public func run(_ plan: Plan, _ request: RunRequest,
                    observe: (@Sendable (JournalRecord) -> Void)? = nil) async throws -> RunReport {
        try await interpreter.start(
            plan, in: stores.runs, runID: request.runID, seed: request.seed, mode: request.mode, approvedBy: request.approvedBy,
            locks: locks, lockWait: request.lockWait, approvalTTL: request.approvalTTL,
            detection: request.detection, chaos: request.chaos, observe: observe)
    }

    /// Continues an interrupted run (`Interpreter.resume`), taking its targets' locks again
    /// first: a step that finished never runs again; one in flight is decided by `yes`/`confirm`.
    public func resume(_ runID: String, yes: Bool = false, confirm: (@Sendable (String) async -> Bool)? = nil,
                       observe: (@Sendable (JournalRecord) -> Void)? = nil) async throws -> RunReport {
        try await interpreter.resume(runID, in: stores.runs, yes: yes, confirm: confirm, locks: locks, observe: observe)
    }

    /// Approves a run waiting for approval (`Interpreter.approve`): `regate` puts its plan
    /// through the gates again, and the run goes on holding its targets' locks.
    public func approve(_ runID: String, by: String, role: String? = nil, reason: String? = nil,
                        regate: @Sendable (Plan, RunMode, Approvals) async -> [GateVerdict],
                        observe: (@Sendable (JournalRecord) -> Void)? = nil) async throws -> RunReport {
        try await interpreter.approve(runID, in: stores.runs, audit: stores.audit, by: by, role: role, reason: reason, locks: locks, regate: regate, observe: observe)
    }

    /// Denies a run waiting for approval: it ends `denied`, nothing of it runs.
    public func deny(_ runID: String, by: String, reason: String? = nil,
                     observe: (@Sendable (JournalRecord) -> Void)? = nil) async throws -> RunReport {
        try await interpreter.deny(runID, in: stores.runs, audit: stores.audit, by: by, reason: reason, observe: observe)
    }

    /// The target locks every run of this stage holds.
    private var locks: any TargetLocking { stores.locks }
}
