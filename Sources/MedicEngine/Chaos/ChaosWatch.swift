import Foundation
import MedicDetect
import MedicModel

/// The engine's watch during one experiment (`Watcher` fed by `LiveWatch`, as `medic watch`
/// without a feed runs them: the library's rules, the gates, the interpreter), and what it saw.
final class ChaosWatch: @unchecked Sendable {
    struct SeenIncident {
        var rule: String
        var incidentKey: String
        var at: Double
        var explained: Bool
        var control: Bool
    }

    struct SeenRun {
        var id: String
        var playbook: String
        var plan: Plan
        var explained: Bool
        var pending = false
        var outcome: String?
        var message: String?
        var finishedAt: Double?
    }

    struct Snapshot {
        var incidents: [SeenIncident]
        var runs: [SeenRun]
        /// Runs not started because their plan reaches targets outside the experiment's.
        var blocked: [String]
    }

    /// What a run kept from starting is folded into (no such run exists).
    static let blockedRun = "none: outside the experiment's targets"

    private let lock = NSLock()
    private var incidents: [SeenIncident] = []
    private var runs: [SeenRun] = []
    private var faultBegun = false
    private var blocked: [String] = []
    /// Set when the watch is being stopped: what its last round says then is not news.
    private var stopping = false
    private let detectionRules: [String]
    private let interpreter: Interpreter
    private let stores: StateStores
    private var watcher: Watcher!
    private var task: Task<Void, Never>!

    init(runner: ChaosRunner, experiment: ChaosExperiment) {
        detectionRules = experiment.detectionRules
        interpreter = runner.interpreter
        stores = runner.stores
        let clock = runner.interpreter.clock
        let note = runner.note
        watcher = Watcher(engine: RuleEngine(catalog: runner.catalog), catalog: runner.catalog, interpreter: runner.interpreter,
                          stores: runner.stores, stateDirectory: runner.stateDirectory, options: Self.options(experiment, block: { [weak self] in self?.block($0) }),
                          report: { [weak self] event in self?.record(event, at: clock.now.timeIntervalSince1970, note: note) })
        // A component no experiment started has no series, by design: that is not news.
        let live = LiveWatch(clock: clock, interval: runner.settings.interval, sampler: runner.sampler,
                             note: { [weak self] text in
                                 if !text.contains("has no series"), self?.isStopping != true { note("watch: \(text)") }
                             })
        let watcher = watcher!
        task = Task.detached { try? await live.run(watcher) }
    }

    /// The watch's options: a run whose plan names targets outside the experiment's never starts
    /// (the blast radius would grow); the firing folds into no run, and the experiment aborts.
    private static func options(_ experiment: ChaosExperiment, block: @escaping @Sendable (String) -> Void) -> Watcher.Options {
        let allowed = Set(experiment.targets.map(\.name))
        var options = Watcher.Options()
        options.claimRun = { plan, _ in
            let outside = plan.targets.map(\.name).filter { !allowed.contains($0) }
            guard !outside.isEmpty else { return nil }
            block("a run of \(plan.playbookID) would reach \(outside.joined(separator: ", ")), outside the experiment's targets; it was not started")
            return blockedRun
        }
        return options
    }

    private func block(_ reason: String) { lock.withLock { blocked.append(reason) } }

    /// From now on, incidents are the fault's (or unexplained), not the control period's.
    func faultBegins() { lock.withLock { faultBegun = true } }

    private var isStopping: Bool { lock.withLock { stopping } }

    func snapshot() -> Snapshot { lock.withLock { Snapshot(incidents: incidents, runs: runs, blocked: blocked) } }

    private func record(_ event: WatchEvent, at: Double, note: @Sendable (String) -> Void) {
        lock.withLock {
            switch event {
            case .incident(let incident):
                let control = !faultBegun
                let explained = !control && (detectionRules.isEmpty || detectionRules.contains(incident.rule))
                incidents.append(SeenIncident(rule: incident.rule, incidentKey: incident.incidentKey, at: at, explained: explained, control: control))
                note("incident: \(incident.rule) \(incident.seriesKey)=\(incident.value)\(control ? " (control period: a false positive)" : explained ? "" : " (no injected fault explains it)")")
            case .runStarted(let incident, let runID, let plan):
                let explained = incidents.last { $0.incidentKey == incident.incidentKey && $0.rule == incident.rule }?.explained ?? false
                runs.append(SeenRun(id: runID, playbook: plan.playbookID, plan: plan, explained: explained))
                note("run \(runID) started: \(plan.playbookID)")
            case .runFinished(_, let report), .runDecided(_, let report, _, _):
                guard let index = runs.firstIndex(where: { $0.id == report.runID }) else { return }
                if report.status == .pendingApproval {
                    runs[index].pending = true
                    runs[index].message = report.message
                } else {
                    runs[index].outcome = report.outcome?.rawValue ?? report.status.rawValue
                    runs[index].message = report.message
                    runs[index].finishedAt = at
                    note("run \(report.runID) \(runs[index].outcome!)")
                }
            case .runFailed(_, let runID, let error):
                guard let index = runs.firstIndex(where: { $0.id == runID }) else { return }
                runs[index].outcome = "failed"
                runs[index].message = error
                runs[index].finishedAt = at
            case .unhandled(let incident, let reason, _):
                note("unhandled: \(incident.incidentKey): \(reason)")
            case .pending, .suppressed, .folded, .planned, .resolved:
                break
            }
        }
    }

    /// Ends the sampling. `signal`: the remediation runs are left interrupted (their journals
    /// take no more records), as a signal leaves `medic watch`'s. `endingSteps`: the steps still
    /// running are ended (the experiment is over without them). Otherwise the runs started are
    /// waited for.
    func stop(signal: Int32?, endingSteps: Bool) async {
        lock.withLock { stopping = true }
        if signal != nil { stores.runs.stopAppending() }
        if signal != nil || endingSteps { interpreter.environment.runningSteps.stop(grace: 1) }
        task.cancel()
        await task.value
        if signal == nil { _ = await watcher.drain() }
    }
}
