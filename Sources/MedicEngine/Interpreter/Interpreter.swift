import Foundation
import MedicKnowledge
import MedicModel

#if canImport(Glibc)
import Glibc
#endif

/// Carries out a `Plan`: steps in order through the executors, retries, verification, rollback
/// and escalation, every transition journaled (and fsync'ed) before the side effect it announces.
/// `resume` continues an interrupted run from its journal.
public struct Interpreter: Sendable {
    public var executors: ExecutorSet
    public var verifier: Verifier
    /// The engine this interpreter is part of: its clock, its immune memory cache, where its
    /// warnings go (and what its executors were built with).
    public var environment: EngineEnvironment
    /// Whether a finished run goes through the `LearningStage` (its incident record, the immune memory).
    public var recordsIncidents = true
    /// The knowledge base and immune memory runs learn into and a watch's selection reads; nil:
    /// the file-backed ones of the run store's state directory (`StateStores.knowledge(in:)`).
    public var knowledge: KnowledgeStores?

    /// `executors` and `verifier` should be built from the same `environment` (its HTTP client,
    /// blocking pool and running steps, its clock).
    public init(executors: ExecutorSet, verifier: Verifier, environment: EngineEnvironment) {
        self.executors = executors
        self.verifier = verifier
        self.environment = environment
    }

    /// An interpreter with an environment of its own on `clock` (tests, embedding).
    public init(executors: ExecutorSet, verifier: Verifier, clock: any EngineClock = SystemClock()) {
        self.init(executors: executors, verifier: verifier, environment: EngineEnvironment(clock: clock))
    }

    /// The environment's clock.
    public var clock: any EngineClock {
        get { environment.clock }
        set { environment.clock = newValue }
    }

    /// Told why a finished run's incident record could not be written; the run's outcome stands
    /// (the environment's `warn`).
    public var incidentRecordFailed: @Sendable (String) -> Void {
        get { environment.warn }
        set { environment.warn = newValue }
    }

    /// The environment's immune memory cache.
    public var immuneMemoryCache: ImmuneMemoryCache { environment.immuneMemory }

    /// `knowledge`, else the environment's (`stores.knowledge`), else the file-backed knowledge
    /// stores of `stateDirectory` with the
    /// environment's immune memory cache.
    public func knowledgeStores(stateDirectory: String) -> KnowledgeStores {
        knowledge ?? environment.stores?.knowledge ?? StateStores.knowledge(in: stateDirectory, immuneMemoryCache: environment.immuneMemory)
    }

    /// Starts a new run of `plan` in `store`. `observe` sees each record once it is on disk.
    /// Throws `JournalError` when the journal cannot be written: the run stops there, before
    /// the side effect the record would have announced.
    ///
    /// The plan's gate verdicts (`plan.gates`) are journaled before anything else happens; a
    /// verdict other than pass ends the run `refused` before its first step. With `locks`, the
    /// run takes its targets' locks first (waiting up to `lockWait` seconds) and holds them to
    /// its end; a target another run holds refuses the run the same way. When the only thing
    /// missing is approval, the run waits as `pending_approval` for `approve` or `deny`; the
    /// request expires after `approvalTTL` seconds.
    public func start(_ plan: Plan, in store: any RunStoring, runID: String? = nil, seed: UInt64? = nil, mode: RunMode = .manual,
                      approvedBy: String? = nil,
                      locks: (any TargetLocking)? = nil, lockWait: Double = 0, approvalTTL: Double = 3600, detection: Detection? = nil,
                      chaos: ChaosRun? = nil, observe: (@Sendable (JournalRecord) -> Void)? = nil) async throws -> RunReport {
        let id = runID ?? RunStore.newRunID(at: clock.now)
        let (journal, lock) = try await store.create(runID: id)
        if let observe { journal.observe(observe) }
        let started = JournalRecord.runStarted(run: id, plan: plan, mode: mode, pid: getpid(), host: ProcessInfo.processInfo.hostName,
                                               seed: seed ?? UInt64.random(in: 0...UInt64.max),
                                               message: approvedBy.map { "approved by \($0)" }, detection: detection, chaos: chaos)
        var execution = RunExecution(interpreter: self, journal: journal)
        try await execution.append(started)
        try await execution.admit(plan.gates, locks: locks, lockWait: lockWait, approvalTTL: approvalTTL)
        withExtendedLifetime(lock) {}
        return RunReport(records: execution.records, journal: journal.path)
    }

    /// What `resume` does with a step that was running when the run's process died.
    public enum InFlightDecision: Sendable, Equatable {
        /// Run it again (idempotent, or confirmed).
        case rerun
        /// Its action's verification passed: count it as done.
        case verified
        /// Neither: the run is escalated with "outcome unknown".
        case unknown
    }

    /// Continues an interrupted run; `observe` first sees the run's `run_started` record again,
    /// then each new record once it is on disk. A step that was running when the process died is run again
    /// when it is idempotent; a non-idempotent one is first checked with its action's
    /// verification (passed: counted as done), then run again only when `yes` or `confirm`
    /// agrees; otherwise the run is escalated as "outcome unknown". Never re-runs a settled step.
    /// With `locks`, the run's target locks are taken again first; a target another run holds
    /// throws `JournalError` and leaves the run as it was.
    public func resume(_ runID: String, in store: any RunStoring, yes: Bool = false,
                       confirm: (@Sendable (String) async -> Bool)? = nil, locks: (any TargetLocking)? = nil,
                       observe: (@Sendable (JournalRecord) -> Void)? = nil) async throws -> RunReport {
        let id = try await store.resolve(runID)
        // A Medic killed while starting a step leaves a copy of its descriptors, the run's lock
        // among them, in the child for the instant before that child's exec: a resume started
        // right then would find the run locked. Such a lock is gone within milliseconds; a run
        // really running elsewhere holds it on.
        var reopened = try await store.reopen(runID: id)
        for _ in 0..<40 where reopened == nil {
            try await Task.sleep(nanoseconds: 50_000_000)
            reopened = try await store.reopen(runID: id)
        }
        guard let (journal, lock, contents) = reopened else {
            throw JournalError("run \(id) is running in another process; it can be resumed only once that process is gone")
        }
        let state = RunState(replaying: contents.records)
        guard state.plan != nil else { throw JournalError("\(journal.path) has no run_started record; not a run journal") }
        if let outcome = state.finished {
            throw JournalError("run \(id) already finished (\(outcome.rawValue)); there is nothing to resume")
        }
        if RunStore.status(of: contents.records) == .pendingApproval {
            throw JournalError("run \(id) is waiting for approval: `medic approve \(id) --by NAME` or `medic deny \(id) --by NAME`")
        }
        var lease: TargetLease?
        if let locks { lease = try await locks.acquire(TargetLocks.names(for: state.plan!), run: id, wait: 0, now: clock.now) }
        if let observe {
            // The run's opening record, again, so an observer knows the plan it continues.
            if let started = contents.records.first(where: { $0.event == .runStarted }) { observe(started) }
            journal.observe(observe)
        }
        var execution = RunExecution(interpreter: self, journal: journal, records: contents.records)
        execution.answers = .init(yes: yes, confirm: confirm)
        execution.targetLease = lease
        if RunStore.status(of: contents.records) != .interrupted {
            try await execution.append(.runInterrupted(pid: getpid(), message: "the process that ran this run is gone and left no outcome"))
        }
        // Never two copies of one step: whatever the killed Medic's steps left running ends first.
        try await execution.settleLeftovers()
        if let flight = state.inFlight {
            let decision = try await execution.decide(flight, yes: yes, confirm: confirm)
            try await execution.append(.runResumed(pid: getpid(), step: flight.step, phase: flight.phase,
                                                   message: execution.describe(decision, flight)))
            try await execution.settle(flight, decision)
        } else {
            try await execution.append(.runResumed(pid: getpid(), step: nil, phase: nil, message: "resumed"))
        }
        try await execution.proceed()
        withExtendedLifetime(lock) {}
        lease?.release()
        return RunReport(records: execution.records, journal: journal.path)
    }
}
