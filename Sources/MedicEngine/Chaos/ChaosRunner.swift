import Foundation
import MedicDetect
import MedicKnowledge
import MedicModel

/// A stop asked for from outside (SIGINT, SIGTERM): the experiment ends where it is, and the
/// fault is reverted before Medic exits.
public final class ChaosStop: @unchecked Sendable {
    private let lock = NSLock()
    private var signo: Int32?

    public init() {}
    public func request(signal: Int32) { lock.withLock { if signo == nil { signo = signal } } }
    public var signal: Int32? { lock.withLock { signo } }
}

/// Carries out one chaos experiment (docs/chaos.md, "What a run does"): the setup, the steady
/// state, a quiet control period, the fault, then the engine's own watch (the library's rules,
/// the gates, the interpreter, as `medic watch` runs them) detects and remediates; the steady
/// state is verified again; the fault is always reverted and the teardown always run. Every
/// step is journaled before its side effect (`ChaosJournal`), so `ChaosRecovery` can finish the
/// revert of an experiment whose Medic died.
public struct ChaosRunner: Sendable {
    public struct Settings: Sendable {
        /// Seconds between two rounds of the watch's sampling.
        public var interval: Double = 1
        /// Seconds of watching with no fault, before it: incidents then are false positives.
        public var controlPeriod: Double = 0
        /// A person's approval for the expected playbook's run, should a gate ask for one.
        public var approvedBy: String?
        /// The working directory of the activities (journaled for the revert).
        public var workdir: String?
        public init() {}
    }

    public let catalog: Catalog
    public let interpreter: Interpreter
    public let stores: StateStores
    public let stateDirectory: String
    public let sampler: LiveSampler
    public let activities: ChaosActivityRunner
    public let settings: Settings
    public let stop: ChaosStop
    public let note: @Sendable (String) -> Void

    public init(catalog: Catalog, interpreter: Interpreter, stores: StateStores, stateDirectory: String, sampler: LiveSampler,
                activities: ChaosActivityRunner, settings: Settings, stop: ChaosStop, note: @escaping @Sendable (String) -> Void) {
        self.catalog = catalog
        self.interpreter = interpreter
        self.stores = stores
        self.stateDirectory = stateDirectory
        self.sampler = sampler
        self.activities = activities
        self.settings = settings
        self.stop = stop
        self.note = note
    }

    private var now: Double { interpreter.clock.now.timeIntervalSince1970 }
    private var paused: OperatorSwitch.Setting? { OperatorSwitch.killSwitch(stateDirectory: stateDirectory).status() }

    public func run(_ experiment: ChaosExperiment) async -> ChaosReport {
        var report = ChaosReport(experiment, outcome: .refused, reason: "", startedAt: now, journal: "")
        for part in experiment.unsupported { note("not run: \(part)") }
        if let refusal = experiment.targetRefusal {
            report.reason = refusal
            return report
        }
        if let pause = paused {
            report.reason = "Medic is paused (by \(pause.by)); chaos experiments never run while it is"
            return report
        }
        let journal: ChaosJournal
        do {
            journal = try ChaosJournal.create(in: stateDirectory, experiment: experiment.id, at: interpreter.clock.now)
            var start = record(.started, experiment)
            start.file = experiment.file
            start.pid = getpid()
            start.revert = experiment.revert
            start.teardown = experiment.teardown
            start.workdir = settings.workdir
            try journal.append(start)
        } catch {
            report.reason = "the experiment's journal cannot be written: \(error)"
            return report
        }
        report.journal = journal.path
        var state = Progress(experiment: experiment, journal: journal)
        await carryOut(experiment, &state, &report)
        await finish(experiment, &state, &report)
        return report
    }

    /// What happened so far, for the cleanup.
    private struct Progress {
        let experiment: ChaosExperiment
        let journal: ChaosJournal
        var setupBegan = false
        var injectBegan = false
        var watch: ChaosWatch?
        var remediationPlan: Plan?
    }

    private func record(_ event: ChaosJournalRecord.Event, _ experiment: ChaosExperiment) -> ChaosJournalRecord {
        ChaosJournalRecord(event: event, at: interpreter.clock.now, experiment: experiment.id)
    }

    private func end(_ report: inout ChaosReport, _ outcome: ChaosOutcome, _ reason: String) {
        report.outcome = outcome
        report.reason = reason
        note("\(outcome.rawValue): \(reason)")
    }

    private func carryOut(_ experiment: ChaosExperiment, _ state: inout Progress, _ report: inout ChaosReport) async {
        do {
            if !experiment.setup.isEmpty {
                try state.journal.append(record(.setupStarted, experiment))
                state.setupBegan = true
                note("setup: \(experiment.setup.map(\.name).joined(separator: ", "))")
                if let failed = await activities.runAll(experiment.setup, experiment: experiment.id).first(where: { !$0.succeeded }) {
                    return end(&report, .aborted, "the setup failed: \(failed.name): \(failed.summary)")
                }
            }
            let steadyDeadline = now + experiment.steadyStateWithin
            while true {
                let (holds, results) = await activities.holds(experiment.steadyState, experiment: experiment.id)
                report.steadyState = results
                if holds { break }
                if let signo = stop.signal { return stopped(&report, signo) }
                if now > steadyDeadline {
                    let failing = results.filter { !$0.succeeded }.map { "\($0.name): \($0.summary)" }.joined(separator: "; ")
                    return end(&report, .steadyStateNotMet, "the steady state does not hold, so no fault was injected: \(failing)")
                }
                try? await Task.sleep(nanoseconds: 300_000_000)
            }
            note("steady state holds")
            let watch = ChaosWatch(runner: self, experiment: experiment)
            state.watch = watch
            if settings.controlPeriod > 0 {
                note("control period: \(settings.controlPeriod)s with no fault")
                let until = now + settings.controlPeriod
                while now < until {
                    if let signo = stop.signal { return stopped(&report, signo) }
                    try? await Task.sleep(nanoseconds: 100_000_000)
                }
            }
            watch.faultBegins()
            if let pause = paused { return end(&report, .aborted, "Medic was paused (by \(pause.by)) before the fault") }
            report.faultAt = now
            for activity in experiment.inject {
                var started = record(.injectStarted, experiment)
                started.activity = activity.name
                try state.journal.append(started)
                state.injectBegan = true
                note("inject: \(activity.name)")
                let result = await activities.run(activity, experiment: experiment.id, index: 1)
                var finished = record(.injectFinished, experiment)
                finished.activity = activity.name
                finished.succeeded = result.succeeded
                finished.message = result.summary
                try state.journal.append(finished)
                if !result.succeeded && !activity.mayFail {
                    return end(&report, .aborted, "the injection failed: \(activity.name): \(result.summary)")
                }
                if !result.succeeded { note("\(activity.name) failed (the method goes on): \(result.summary)") }
            }
            await observe(experiment, watch, &state, &report)
        } catch {
            end(&report, .aborted, "the experiment's journal cannot be written: \(error)")
        }
    }

    private func stopped(_ report: inout ChaosReport, _ signo: Int32) {
        report.signal = signo
        end(&report, .aborted, "stopped by signal \(signo)")
    }

    /// Waits for the incident, the remediation and the steady state again, or a reason to stop.
    private func observe(_ experiment: ChaosExperiment, _ watch: ChaosWatch, _ state: inout Progress, _ report: inout ChaosReport) async {
        let fault = report.faultAt ?? now
        var approving: Set<String> = []
        var nextProbe = 0.0
        while true {
            if let signo = stop.signal { return stopped(&report, signo) }
            if let pause = paused { return end(&report, .aborted, "Medic was paused (by \(pause.by)) during the experiment") }
            let seen = watch.snapshot()
            let afterFault = seen.incidents.filter { !$0.control }
            if afterFault.count > experiment.maxIncidents {
                let names = afterFault.map { "\($0.rule) (\($0.incidentKey))" }.joined(separator: ", ")
                return end(&report, .aborted, "the blast radius grew: \(afterFault.count) incidents (\(names)), more than the \(experiment.maxIncidents) allowed")
            }
            if let reason = seen.blocked.first { return end(&report, .aborted, "the blast radius grew: \(reason)") }
            if report.detectedAt == nil, let first = afterFault.first(where: \.explained) {
                report.detectedAt = first.at
                note("detected: \(first.rule) \(first.incidentKey) after \(String(format: "%.1f", first.at - fault))s")
            }
            if report.detectedAt == nil, now > fault + experiment.detectWithin {
                return end(&report, .notDetected, "no incident of \(experiment.detectionRules.isEmpty ? "any rule" : experiment.detectionRules.joined(separator: ", ")) within \(Int(experiment.detectWithin))s of the fault")
            }
            for run in seen.runs where run.explained {
                if run.pending, !approving.contains(run.id) {
                    guard let approver = settings.approvedBy, experiment.playbook == nil || experiment.playbook == run.playbook else {
                        return end(&report, .notHealed, "run \(run.id) of \(run.playbook) waits for approval (\(run.message ?? "")); give --approved-by NAME to approve the expected playbook's run")
                    }
                    approving.insert(run.id)
                    note("approving run \(run.id) of \(run.playbook) as \(approver)")
                    approve(run.id, by: approver, experiment: experiment)
                }
                guard let outcome = run.outcome else { continue }
                state.remediationPlan = run.plan
                if let expected = experiment.playbook, run.playbook != expected {
                    return end(&report, .notHealed, "run \(run.id) of \(run.playbook) \(outcome), but \(expected) was expected to heal the fault")
                }
                guard outcome == "succeeded" else {
                    return end(&report, .notHealed, "run \(run.id) of \(run.playbook) ended \(outcome): \(run.message ?? "")")
                }
                if report.remediatedAt == nil {
                    report.remediatedAt = run.finishedAt
                    note("remediated: run \(run.id) of \(run.playbook) succeeded")
                }
            }
            if report.remediatedAt != nil, now >= nextProbe {
                nextProbe = now + 0.5
                let (holds, results) = await activities.holds(experiment.steadyState, experiment: experiment.id)
                report.steadyState = results
                if holds {
                    report.verifiedAt = now
                    return end(&report, .healed, String(format: "detected after %.1fs, steady state again after %.1fs", (report.detectedAt ?? fault) - fault, now - fault))
                }
            }
            if now > fault + experiment.recoverWithin {
                let why = report.remediatedAt == nil ? "no run healed it" : "the remediation succeeded but the steady state did not come back"
                return end(&report, .notHealed, "\(why) within \(Int(experiment.recoverWithin))s of the fault")
            }
            try? await Task.sleep(nanoseconds: 200_000_000)
        }
    }

    /// Approves a run waiting for approval, as `medic approve` does (journaled, audited, the
    /// gates asked again); it then runs in this process, and the watch reports how it ended.
    private func approve(_ runID: String, by approver: String, experiment: ChaosExperiment) {
        let (catalog, interpreter, stores, stateDirectory) = (catalog, interpreter, stores, stateDirectory)
        Task.detached {
            var gates = GateStage(catalog: catalog, stateDirectory: stateDirectory, evaluator: interpreter.verifier.evaluator)
            gates.stores = stores
            let stage = gates
            _ = try? await ExecutionStage(interpreter: interpreter, stores: stores).approve(
                runID, by: approver, reason: "chaos experiment \(experiment.id) expects this playbook to heal its fault",
                regate: { plan, mode, approvals in
                    await stage.run(plan, GateRequest(mode: mode, approvedBy: approvals.approvedBy, signOffs: approvals.signOffs),
                                    now: interpreter.clock.now).gates
                })
        }
    }

    /// Stops the watch, reverts, tears down, records, and closes the journal: whatever happened.
    private func finish(_ experiment: ChaosExperiment, _ state: inout Progress, _ report: inout ChaosReport) async {
        if let watch = state.watch {
            await watch.stop(signal: stop.signal, endingSteps: report.outcome != .healed)
            let seen = watch.snapshot()
            report.incidents = seen.incidents.map { ChaosIncident(rule: $0.rule, incidentKey: $0.incidentKey, at: $0.at, explained: $0.explained, control: $0.control) }
            report.runs = seen.runs.map { ChaosRemediationRun(run: $0.id, playbook: $0.playbook, outcome: $0.outcome, message: $0.message) }
            if state.remediationPlan == nil { state.remediationPlan = seen.runs.first { $0.explained && $0.outcome != nil }?.plan }
        }
        if state.injectBegan {
            try? state.journal.append(record(.revertStarted, experiment))
            note("revert: \(experiment.revert.map(\.name).joined(separator: ", "))")
            report.revert = await activities.runAll(experiment.revert, experiment: experiment.id)
            report.reverted = report.revert.allSatisfy(\.succeeded)
            var done = record(.revertFinished, experiment)
            done.succeeded = report.reverted
            try? state.journal.append(done)
            if !report.reverted { note("the revert failed: `medic chaos recover` tries it again") }
        }
        if !experiment.teardown.isEmpty {
            try? state.journal.append(record(.teardownStarted, experiment))
            let results = await activities.runAll(experiment.teardown, experiment: experiment.id)
            report.cleanedUp = results.allSatisfy(\.succeeded)
            var done = record(.teardownFinished, experiment)
            done.succeeded = report.cleanedUp
            try? state.journal.append(done)
        }
        if report.faultAt != nil { await learn(experiment, report, plan: state.remediationPlan) }
        // Left unfinished when the revert or the teardown failed, so that recovery tries again.
        if report.reverted && report.cleanedUp {
            var done = record(.finished, experiment)
            done.outcome = report.outcome.rawValue
            done.message = report.reason
            try? state.journal.append(done)
        }
    }

    /// The outcome into the knowledge base (`knowledge/chaos-experiments.jsonl`) and the immune
    /// memory (a chaos experiment's result, as `medic memory learn` reads one).
    private func learn(_ experiment: ChaosExperiment, _ report: ChaosReport, plan: Plan?) async {
        let directory = KnowledgeBase.defaultDirectory(inState: stateDirectory)
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            try ChaosJournal.appendLine(try encoder.encode(report), to: directory + "/chaos-experiments.jsonl")
        } catch {
            note("warning: the experiment's outcome was not recorded in the knowledge base: \(error)")
        }
        let actions = (plan?.steps ?? []).map {
            RemediationAction(playbookID: plan!.playbookID, action: $0.action, priority: $0.number, timeout: $0.timeout.seconds,
                              type: RemediationActionType.carriedOut(by: $0))
        }
        guard report.healed ? !actions.isEmpty : true else { return }
        let result = ChaosExperimentResult(experimentID: ((report.journal as NSString).lastPathComponent as NSString).deletingPathExtension,
                                           signature: FaultSignature(faultType: experiment.faultType, components: experiment.targets.map(\.name),
                                                                     pattern: experiment.pattern),
                                           succeeded: report.healed, actions: actions)
        let at = interpreter.clock.now
        do {
            let (_, changes) = try interpreter.knowledgeStores(stateDirectory: stateDirectory).immuneMemory.update(
                capacity: ImmuneMemory.defaultCapacity, at: at) { memory in ((), memory.learn(result.outcome, at: at)) }
            for (change, _, failure) in await ImmuneMemoryEvents.publish(changes, through: interpreter.executors.bus) {
                if let failure { note("warning: the immune-memory change of \(change.signatureID) was not published: \(failure)") }
            }
        } catch {
            note("warning: the immune memory did not learn from the experiment: \(error)")
        }
    }
}
