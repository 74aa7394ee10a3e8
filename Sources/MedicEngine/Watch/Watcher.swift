import Foundation
import MedicDetect
import MedicKnowledge
import MedicModel

/// What `medic watch` reports, in the order it happens.
public enum WatchEvent: Sendable {
    /// A series became anomalous; its rule's `for` has not passed yet.
    case pending(PendingAnomaly)
    /// A rule fired: a new incident, handed to the gates and the interpreter.
    case incident(Incident)
    /// A firing folded into an incident that is active, or a key cooling down.
    case suppressed(Suppression)
    /// A firing whose incident key already has a run going, or whose plan another run going
    /// remediates (`Options.claimRun`): it joins that run (none is started).
    case folded(Incident, runID: String)
    /// No playbook can remediate the incident (the rule names none the library can plan for it,
    /// and the immune memory knows no cure): it is for people. `escalated`: the escalation was
    /// published on the bus (`dev.medic.incident.escalated`; not in a dry run).
    case unhandled(Incident, reason: String, escalated: Bool)
    /// `--dry-run`: the plan a run would follow, with the gates' verdicts.
    case planned(Incident, Plan)
    /// A run of `plan` started for the incident (its journal is `runs/<runID>.jsonl`); the plan
    /// says which playbook was chosen and why (`plan.selection`).
    case runStarted(Incident, runID: String, plan: Plan)
    /// The run ended (or stopped at a gate, or waits for approval).
    case runFinished(Incident, RunReport)
    /// A run that waited for approval was decided by a person, from any process (`medic
    /// approve` runs it in that process; `medic deny` ends it), and has ended there or was
    /// interrupted there. `approvedBy` / `deniedBy`: the decision journaled last.
    case runDecided(Incident, RunReport, approvedBy: String?, deniedBy: String?)
    /// The run could not be carried on (its journal could not be written).
    case runFailed(Incident, runID: String, error: String)
    case resolved(Incident)
}

/// Rule-triggered remediation: samples in, incidents out, one run per incident through the
/// gates (as an automated run) and the interpreter. One run at a time per incident key: a
/// firing while that run is going is folded into it, never a second run. Time is the samples'
/// (the rule engine's `for`, cooldowns); the runs themselves use the interpreter's clock.
public actor Watcher {
    public struct Options: Sendable {
        /// Plan (with the gates' verdicts) instead of running.
        public var dryRun = false
        public var lockWait: Double = 0
        public var approvalTTL: Double = 3600
        /// A replay of recorded samples: rate limits count on the samples' clock, as the live
        /// watch would have (see `RateLimitClock`), over the runs this watch started; otherwise
        /// on the clock now, over the state directory's runs.
        public var replay = false
        /// Seconds between two looks at a run that waits for approval.
        public var approvalPoll: Double = 1
        /// Asked before a run starts, with its plan and run id: the id of a run going elsewhere
        /// that remediates the same fault (the firing then folds into it and starts nothing),
        /// or nil, which claims the plan for the run until `releaseRun` is told its id.
        public var claimRun: (@Sendable (Plan, String) -> String?)?
        public var releaseRun: (@Sendable (String) -> Void)?
        /// Made for each run started, with its plan: sees that run's journal records only (the
        /// init's `observeRun` sees every run's, interleaved).
        public var observeEachRun: (@Sendable (Plan) -> @Sendable (JournalRecord) -> Void)?

        public init(dryRun: Bool = false, replay: Bool = false) {
            self.dryRun = dryRun
            self.replay = replay
        }
    }

    private var engine: RuleEngine
    private let catalog: Catalog
    private let interpreter: Interpreter
    private let stores: StateStores
    /// The state directory of the knowledge base the selection reads and the gates' context.
    private let stateDirectory: String
    private let options: Options
    private let report: @Sendable (WatchEvent) -> Void
    private let observeRun: (@Sendable (JournalRecord) -> Void)?
    private let selector: PlaybookSelector
    /// Playbook and incident key -> the run going for it (two rules on one series that start
    /// the same playbook share it; different playbooks do not).
    private var active: [String: String] = [:]
    private var runs: [String: Task<RunReport?, Never>] = [:]
    private var outcomes: [String: RunOutcome?] = [:]
    /// Runs that wait for approval, followed until a person decides them (not waited for by
    /// `drain`: a decision may take hours).
    private var followers: [String: Task<Void, Never>] = [:]
    /// The outcomes of runs that waited for approval and were decided since.
    private var decided: [String: RunOutcome] = [:]
    /// A replay's runs past the gates, each at the sample time of its firing (rate limits).
    private var replayRuns: [RunSummary] = []

    /// `stores`: where the watch's runs go and what its gates ask; `stateDirectory`: where its
    /// knowledge base is (the selection's history and immune memory).
    public init(engine: RuleEngine, catalog: Catalog, interpreter: Interpreter, stores: StateStores, stateDirectory: String,
                options: Options = Options(),
                observeRun: (@Sendable (JournalRecord) -> Void)? = nil, report: @escaping @Sendable (WatchEvent) -> Void) {
        self.engine = engine
        self.catalog = catalog
        self.interpreter = interpreter
        self.stores = stores
        self.stateDirectory = stateDirectory
        self.options = options
        self.observeRun = observeRun
        self.report = report
        // A watch starts runs as incidents come: a journal file made ahead takes the file's
        // creation and two of the three syncs off the path to the first step.
        if !options.dryRun, let files = stores.runs as? RunStore { files.keepSpareJournal() }
        var selector = PlaybookSelector(catalog: catalog, knowledge: interpreter.knowledgeStores(stateDirectory: stateDirectory))
        selector.persistMemory = !options.dryRun
        // Read the knowledge base's history now, once: incidents then read only what was
        // appended since (ranking stays cheap however long the history).
        selector.history.refresh()
        self.selector = selector
    }

    /// Feeds one sample to the rules and acts on what they say.
    public func ingest(_ sample: Sample) async {
        for event in engine.ingest(sample) { await handle(event) }
    }

    /// Lets time pass with no sample (incidents resolve on quiet series).
    public func advance(to time: Double) async {
        for event in engine.advance(to: time) { await handle(event) }
    }

    /// Waits for every run started so far to end; returns each run's outcome (nil: none, or
    /// it waits for approval: that is not waited for).
    public func drain() async -> [String: RunOutcome?] {
        while let (id, task) = runs.first {
            let report = await task.value
            runs[id] = nil
            outcomes[id] = report?.outcome
        }
        return outcomes.merging(decided.mapValues { Optional($0) }) { $1 }
    }

    private func handle(_ event: RuleEvent) async {
        switch event {
        case .pending(let pending): report(.pending(pending))
        case .suppressed(let suppression): report(.suppressed(suppression))
        case .resolved(let incident): report(.resolved(incident))
        case .firing(let incident): await act(on: incident)
        }
    }

    private func act(on incident: Incident) async {
        let detectedAt = interpreter.clock.now
        report(.incident(incident))
        let key = (incident.playbook ?? "") + "\u{1F}" + incident.incidentKey
        if let runID = active[key] {
            return report(.folded(incident, runID: runID))
        }
        // Candidates: the rule's playbooks and the immune memory's cure, ranked (§6.2).
        // No suspension point from the check of `active` above to the claim below: the actor
        // must not take another firing of this key in between (it would start a second run).
        let (outcome, memoryChanges, problems) = selector.select(incident, now: detectedAt)
        for problem in problems { interpreter.incidentRecordFailed(problem) }
        var plan: Plan
        switch outcome {
        case .chosen(let chosen):
            plan = chosen
        case .unmatched(_, let reason):
            await publish(memoryChanges)
            if options.dryRun { return report(.unhandled(incident, reason: reason, escalated: false)) }
            return report(.unhandled(incident, reason: reason, escalated: await escalate(incident, reason: reason)))
        }
        let runID = RunStore.newRunID(at: detectedAt)
        if !options.dryRun, let claim = options.claimRun, let going = claim(plan, runID) {
            await publish(memoryChanges)
            return report(.folded(incident, runID: going))
        }
        // Claimed before the gates are asked, so a firing meanwhile is folded into this run.
        active[key] = runID
        await publish(memoryChanges)
        var gateRequest = GateRequest(mode: .automated, lockWait: options.lockWait)
        let firedAt = Date(timeIntervalSince1970: incident.firedAt)
        if options.replay { gateRequest.rateLimitClock = RateLimitClock(now: firedAt, runs: replayRuns) }
        var gates = GateStage(catalog: catalog, stateDirectory: stateDirectory, evaluator: interpreter.verifier.evaluator)
        // The watch's own stores: the run index is read once and then followed, not read again per incident.
        gates.stores = stores
        plan = await gates
            .run(plan, gateRequest, now: detectedAt)
        let blocking = GatePipeline.blocking(plan.gates)?.decision
        if options.replay, blocking != .refuse, blocking != .deferred {
            replayRuns.append(RunSummary(
                id: runID, playbookID: plan.playbookID, playbookVersion: plan.playbookVersion, startedAt: JournalRecord.timestamp(firedAt),
                updatedAt: JournalRecord.timestamp(firedAt), status: .running, outcome: nil, journal: stores.runs.journalPath(runID),
                targets: TargetLocks.names(for: plan), actions: Array(Set(plan.steps.map(\.action))).sorted()))
        }
        if options.dryRun {
            active[key] = nil
            return report(.planned(incident, plan))
        }
        var detection = Detection(
            rule: incident.rule, incidentKey: incident.incidentKey, series: incident.seriesKey, value: incident.value,
            severity: incident.severity, firstSeen: Date(timeIntervalSince1970: incident.firstSeen),
            firedAt: Date(timeIntervalSince1970: incident.firedAt), detectedAt: detectedAt)
        detection.signature = plan.selection?.signature
        let execution = ExecutionStage(interpreter: interpreter, stores: stores)
        let request = RunRequest(mode: .automated, runID: runID, lockWait: options.lockWait, approvalTTL: options.approvalTTL,
                                 detection: detection)
        let report = report
        var observe = observeRun
        if let thisRun = options.observeEachRun?(plan) {
            observe = observeRun.map { everyRun in { @Sendable record in everyRun(record); thisRun(record) } } ?? thisRun
        }
        report(.runStarted(incident, runID: runID, plan: plan))
        runs[runID] = Task.detached {
            let result: RunReport?
            do {
                result = try await execution.run(plan, request, observe: observe)
                report(.runFinished(incident, result!))
            } catch {
                report(.runFailed(incident, runID: runID, error: "\(error)"))
                result = nil
            }
            if let result, result.status == .pendingApproval {
                // Still this incident's run: later firings fold into it until it is decided.
                await self.follow(result, key: key, incident: incident)
            } else {
                await self.release(key, runID: runID)
            }
            return result
        }
    }

    /// Follows a run that waits for approval: whoever decides it (`medic approve` runs it in
    /// that process), the watch reports how it ended. Stops when the request expires undecided.
    private func follow(_ pending: RunReport, key: String, incident: Incident) async {
        let (store, report, poll, clock) = (stores.runs, report, max(0.01, options.approvalPoll), interpreter.clock)
        let runID = pending.runID
        let until = (try? await store.read(runID: runID))?.records.last { $0.event == .approvalRequested }?.until
        followers[runID] = Task.detached {
            while !Task.isCancelled {
                if let (_, contents, status) = try? await store.inspect(runID), status == .finished || status == .interrupted {
                    let final = RunReport(records: contents.records, journal: store.journalPath(runID), status: status)
                    await self.settle(runID, final.outcome)
                    report(.runDecided(incident, final, approvedBy: contents.records.last { $0.event == .approvalGiven }?.by,
                                       deniedBy: contents.records.last { $0.event == .approvalDenied }?.by))
                    break
                }
                if let until, let deadline = JournalRecord.date(until), clock.now > deadline {
                    report(.runFailed(incident, runID: runID, error: "nobody approved or denied it before its request expired at \(until)"))
                    break
                }
                try? await Task.sleep(nanoseconds: UInt64(poll * 1e9))
            }
            await self.release(key, runID: runID)
        }
    }

    /// The immune memory's changes that consulting it made (decay), on the bus.
    private func publish(_ changes: [ImmuneMemoryChange]) async {
        guard !changes.isEmpty else { return }
        await ImmuneLearning.publish(changes, through: interpreter.executors.bus, failed: interpreter.incidentRecordFailed)
    }

    /// Hands an incident no playbook can remediate to people (§6.2 "No applicable remediation
    /// playbook found"): a CloudEvent `dev.medic.incident.escalated` on the bus naming the rule,
    /// the incident, why, and who to notify (the severity level's `notifications`, §5.1).
    private func escalate(_ incident: Incident, reason: String) async -> Bool {
        let notify = catalog.policies.severityLevels.first { $0.severity == incident.severity }?.notifications.map(\.recipient) ?? []
        let notice = BusNotice.incidentEscalated(incident, reason: reason, notify: notify)
        do {
            let result = try await interpreter.executors.bus.execute(notice.request)
            if !result.succeeded { interpreter.incidentRecordFailed("the escalation of \(incident.incidentKey) was not published: \(result.summary)") }
            return result.succeeded
        } catch {
            interpreter.incidentRecordFailed("the escalation of \(incident.incidentKey) was not published: \(error)")
            return false
        }
    }

    private func settle(_ runID: String, _ outcome: RunOutcome?) {
        if let outcome { decided[runID] = outcome }
    }

    private func release(_ key: String, runID: String) {
        options.releaseRun?(runID)
        if active[key] == runID { active[key] = nil }
        followers[runID] = nil
    }
}
