import Foundation
import Logging
import MedicEngine
import MedicKnowledge
import MedicModel
import MedicText
import ServiceLifecycle

/// Carries alert incidents out in the background, through the stages `watch` uses: plan, the
/// gates as an automated run, execution (which journals, verifies and learns). One run per
/// incident: the incident's run id is fixed when it is opened, and the run store's atomic claim
/// of a run id refuses a second start.
///
/// As a service of the server's `ServiceGroup`: when it starts it picks up the incidents left
/// durable without a run (a server stopped between its answer and the run's start); at a
/// graceful shutdown it starts nothing more, lets the runs in flight finish for `grace`
/// seconds, then stops the run store's journals and ends their steps, so they are left
/// interrupted (for `medic resume`).
public actor IncidentRunner: Service {
    let intake: AlertIntake
    let interpreter: Interpreter
    let stores: StateStores
    private let stateDirectory: String
    private let grace: Double
    let logger: Logger
    /// Sees the journal records of the runs started (nil: no metrics); the routes that carry a
    /// run out (`carryOut`) give it theirs too.
    let metrics: ServerMetrics?
    /// The runs going in this process, by run id.
    private var runs: [String: Task<Void, Never>] = [:]
    private var stopping = false
    /// Runs of incidents seen with a journal (a run once started keeps its journal): `recover`
    /// does not ask the run store about them again. Only those of incidents still stored.
    private var journaled: Set<String> = []

    public init(intake: AlertIntake, interpreter: Interpreter, stores: StateStores, stateDirectory: String, grace: Double,
                logger: Logger, metrics: ServerMetrics? = nil) {
        self.intake = intake
        self.interpreter = interpreter
        self.stores = stores
        self.stateDirectory = stateDirectory
        self.grace = grace
        self.logger = logger
        self.metrics = metrics
    }

    /// The number of runs going now.
    public var inFlight: Int { runs.count }

    /// Whether the run is going in this process.
    func isGoing(_ runID: String) -> Bool { runs[runID] != nil }

    /// Whether the server is stopping (nothing new starts).
    var isStopping: Bool { stopping }

    /// Starts the incident's run unless it has none, is resolved or acknowledged, is going here
    /// or has a journal already, or the server is stopping (then the next start picks it up).
    /// Returns at once. The incident is read again just before the run is journaled: a person
    /// who resolved or acknowledged it meanwhile has taken it on, so the run does not start, and
    /// the incident's `reason` says why (a decision after that moment finds the run going, and
    /// does not stop it).
    public func start(_ incident: AlertIncident) async {
        // A folded incident's run is another trigger's, already going.
        guard incident.handling != .rule, incident.foldedInto == nil, let runID = incident.runID, runs[runID] == nil else { return }
        guard !stopping, Self.withholding(incident) == nil, !(await Self.hasJournal(runID, in: stores.runs)) else {
            return intake.going.release(runID: runID)
        }
        // Reading the run store let another call in: it may have started this run meanwhile.
        guard runs[runID] == nil else { return }
        let (intake, interpreter, stores, stateDirectory, logger, metrics) = (intake, interpreter, stores, stateDirectory, logger, metrics)
        runs[runID] = Task.detached {
            do {
                // The catalog in force when the run starts, for the plan and the gates alike.
                let catalog = intake.library.current.catalog
                var plan = try intake.plan(incident, catalog: catalog)
                var gates = GateStage(catalog: catalog, stateDirectory: stateDirectory, evaluator: interpreter.verifier.evaluator)
                gates.stores = stores
                plan = await gates.run(plan, GateRequest(mode: .automated), now: interpreter.clock.now)
                if let why = try await Self.withheld(incident.key, runID: runID, store: intake.store) {
                    logger.notice("run not started: \(why)", metadata: ["incident": "\(incident.key)", "run": "\(runID)"])
                } else {
                    let request = RunRequest(mode: .automated, runID: runID,
                                             detection: Self.detection(incident, severity: incident.severity(in: catalog), now: interpreter.clock.now))
                    logger.info("run started", metadata: ["incident": "\(incident.key)", "run": "\(runID)", "playbook": "\(plan.playbookID)"])
                    let observe = Self.releasing(runID, going: intake.going, then: metrics?.runObserver(playbook: plan.playbookID))
                    let report = try await ExecutionStage(interpreter: interpreter, stores: stores).run(plan, request, observe: observe)
                    logger.info("run ended", metadata: ["incident": "\(incident.key)", "run": "\(runID)",
                                                         "outcome": "\(report.outcome?.rawValue ?? report.status.rawValue)"])
                }
            } catch {
                logger.error("run could not go on", metadata: ["incident": "\(incident.key)", "run": "\(runID)", "error": "\(error)"])
            }
            intake.going.release(runID: runID)
            await self.finished(runID)
        }
    }

    /// Observes a run's records (then hands them to `next`): the run's claim of its remedy ends
    /// as soon as its outcome is on record, not when its task ends (learning comes after), so an
    /// alert for the same fault a moment later gets a run of its own rather than folding into a
    /// run that has finished.
    static func releasing(_ runID: String, going: RemediationsGoing,
                          then next: (@Sendable (JournalRecord) -> Void)?) -> @Sendable (JournalRecord) -> Void {
        { record in
            if record.event == .runFinished { going.release(runID: runID) }
            next?(record)
        }
    }

    /// Why the incident's run is not to start now that people have decided about it (resolved
    /// by its alert or a person, or acknowledged: a person took it on), or nil.
    static func withholding(_ incident: AlertIncident) -> String? {
        if incident.status == .resolved {
            return "the incident was resolved" + (incident.resolution.map { " by \($0.by) at \($0.at)" } ?? " by its alert") + " before its run started"
        }
        if let ack = incident.acknowledgement { return "the incident was acknowledged by \(ack.by) at \(ack.at) before its run started" }
        return nil
    }

    /// Reads the incident again: why its run `runID` is withheld, recorded durably as the
    /// incident's `reason`, or nil when it is to start.
    static func withheld(_ key: String, runID: String, store: any IncidentStoring) async throws -> String? {
        guard let current = try await store.incident(key: key), let why = withholding(current) else { return nil }
        let reason = "run \(runID) not started: \(why)"
        _ = try await store.update(key: key) { incident in
            guard incident.reason != reason else { return "recorded already" }
            incident.reason = reason
            return nil
        }
        return reason
    }

    /// Whether the run store has a journal for `runID` (a run once started).
    static func hasJournal(_ runID: String, in runs: any RunStoring) async -> Bool {
        (try? await runs.read(runID: runID)) != nil
    }

    /// Carries out `work` on the run `runID` in the background as one of the runs going (an
    /// approved run goes on after the request that approved it; a shutdown treats it as any
    /// other run). False when the server is stopping or this run is being carried out already.
    public func carryOut(_ runID: String, _ work: @escaping @Sendable () async -> Void) -> Bool {
        guard !stopping, runs[runID] == nil else { return false }
        runs[runID] = Task.detached {
            await work()
            await self.finished(runID)
        }
        return true
    }

    /// Starts the run of every firing incident of `incidents` that has none yet: the number
    /// started. Each run started claims its playbook on its targets in `RemediationsGoing`, as
    /// an alert's run does, so an alert or a rule for the same fault folds into it. An incident
    /// whose fault a run picked up before it already remediates is folded into that run, durably.
    /// `settled`: only incidents opened at least that many seconds ago (servers sharing a
    /// database leave the server that opened an incident the time to start its run itself).
    @discardableResult
    public func recover(from incidents: any IncidentStoring, settled: Double = 0) async -> Int {
        let (found, problems) = await incidents.all()
        for problem in problems { logger.warning("medic: warning: \(problem)") }
        var started = 0
        let openedBefore = interpreter.clock.now.addingTimeInterval(-settled)
        if problems.isEmpty { journaled.formIntersection(found.compactMap(\.runID)) }
        for incident in found.sorted(by: { $0.openedAt < $1.openedAt })
        where settled <= 0 || (Timestamp(rfc3339: incident.openedAt)?.date ?? .distantPast) <= openedBefore {
            // A rule's incident has the watch's run: nothing to start from here.
            guard incident.handling != .rule, incident.foldedInto == nil, let runID = incident.runID, runs[runID] == nil, !stopping,
                  !journaled.contains(runID) else {
                continue
            }
            if await Self.hasJournal(runID, in: stores.runs) {
                journaled.insert(runID)
                // Started, here or by another server: a claim of it this server still holds (a
                // post answered 503 whose incident was opened after all) ends, or the remedy
                // would stay "going" here for ever.
                if runs[runID] == nil { intake.going.release(runID: runID) }
                continue
            }
            if Self.withholding(incident) != nil {
                await record(withheld: incident, runID: runID, store: incidents)
                continue
            }
            if let plan = try? intake.plan(incident), let going = intake.going.claim(plan, runID: runID, owner: incident.key) {
                await fold(incident, into: going, remedy: RemediationsGoing.remedy(of: plan), store: incidents)
                continue
            }
            let before = runs.count
            await start(incident)
            if runs.count > before { started += 1 }
        }
        if started > 0 { logger.notice("picked up \(started) incident(s) whose run had not started") }
        return started
    }

    /// Records why the run of `incident`, which people have decided about, never starts.
    private func record(withheld incident: AlertIncident, runID: String, store: any IncidentStoring) async {
        do {
            if let why = try await Self.withheld(incident.key, runID: runID, store: store) {
                logger.notice("run not started: \(why)", metadata: ["incident": "\(incident.key)", "run": "\(runID)"])
            }
        } catch {
            logger.warning("medic: warning: incident \(incident.key): why its run \(runID) did not start could not be recorded: \(error)")
        }
    }

    /// Records that `incident`'s fault is the run `going`'s: its run will never start.
    private func fold(_ incident: AlertIncident, into going: String, remedy: String, store: any IncidentStoring) async {
        do {
            _ = try await store.update(key: incident.key) { stored in
                guard stored.foldedInto == nil else { return "folded already" }
                stored.runID = going
                stored.foldedInto = going
                stored.reason = "one fault with run \(going), going for \(remedy): folded into it"
                return nil
            }
            logger.notice("incident \(incident.key) folded into run \(going), going for the same fault")
        } catch {
            logger.warning("medic: warning: incident \(incident.key) could not be folded into run \(going): \(error)")
        }
    }

    public nonisolated func run() async throws {
        // Suspends until the group shuts down gracefully (a signal); throws when it is cancelled.
        let cancelled = (try? await gracefulShutdown()) == nil
        await drain(waiting: cancelled ? 0 : grace)
    }

    /// Starts nothing more; waits up to `waiting` seconds for the runs going, then ends the rest.
    public func drain(waiting: Double) async {
        stopping = true
        let deadline = interpreter.clock.now.addingTimeInterval(waiting)
        while !runs.isEmpty, interpreter.clock.now < deadline, !Task.isCancelled {
            try? await Task.sleep(nanoseconds: 50_000_000)
        }
        guard !runs.isEmpty else { return }
        logger.notice("medic serve: \(runs.count) run(s) still going after the grace period; ending their steps, they are left interrupted (medic resume RUN continues one)")
        stores.runs.stopAppending()
        interpreter.environment.runningSteps.stop()
        for task in runs.values { await task.value }
    }

    private func finished(_ runID: String) {
        runs[runID] = nil
    }

    /// The alert as the journal's detection: the rule is `alertmanager:<alertname>`, the series
    /// the alert's labels, the severity the escalation uses too, times its start and Medic's
    /// opening of it, and the fault's signature (the one its ranking consulted the immune memory
    /// with), so that the memory learns from the run as it does from a rule's.
    static func detection(_ incident: AlertIncident, severity: Severity, now: Date) -> Detection {
        let startsAt = JournalRecord.date(incident.startsAt) ?? now
        let labels = incident.labels.sorted { $0.key < $1.key }.map { "\($0.key)=\"\($0.value)\"" }.joined(separator: ",")
        var detection = Detection(rule: "alertmanager:" + (incident.labels["alertname"] ?? ""), incidentKey: incident.key, series: "{\(labels)}",
                                  value: 1, severity: severity, firstSeen: startsAt,
                                  firedAt: startsAt, detectedAt: JournalRecord.date(incident.openedAt) ?? now)
        let fault = CandidateRanker.fault(incident, candidates: [], severity: CandidateRanker.faultSeverity(of: incident), now: now)
        detection.signature = IncidentFault(FaultSignature(incident: fault))
        return detection
    }
}

