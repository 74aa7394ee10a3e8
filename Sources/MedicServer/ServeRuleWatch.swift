import Foundation
import Logging
import MedicDetect
import MedicEngine
import MedicModel
import ServiceLifecycle

/// The anomaly rules evaluated inside `medic serve`, as `medic watch` evaluates them over live
/// metrics: every `interval`, the series the rules name are read through the metric sources and
/// fed to a `Watcher`, which starts the matching playbook through the gates. The rules are those
/// of the library in force (a reload replaces them from the next round). Its runs and the
/// alerts' share one `RemediationsGoing`, so one fault seen by a rule and by an alert makes one
/// run. At a graceful shutdown it stops sampling first, then gives its runs going `grace`
/// seconds before their steps are ended (left interrupted, for `medic resume`).
public struct ServeRuleWatch: Service {
    public struct Settings: Sendable {
        /// Seconds between two rounds of sampling (above 0).
        public var interval: Double
        /// Where the rules' series are read (the `--metrics` file, else the built-in host metrics).
        public var registry: MetricRegistry
        /// For servers sharing a database: asked before each round whether this server is the
        /// one that evaluates the rules now (nil: always), so that one anomaly is one run and
        /// one incident, not one per server.
        public var leadership: (@Sendable () async -> Bool)?

        public init(interval: Double, registry: MetricRegistry) {
            self.interval = interval
            self.registry = registry
        }
    }

    private let library: ServedLibrary
    private let settings: Settings
    private let interpreter: Interpreter
    private let stores: StateStores
    private let stateDirectory: String
    private let going: RemediationsGoing
    private let grace: Double
    private let logger: Logger
    /// Sees the journal records of the rules' runs (nil: no metrics).
    private let metrics: ServerMetrics?
    /// Keeps the rules' firings as incidents, for people and escalation (nil: not kept).
    private let incidents: RuleIncidents?

    public init(library: ServedLibrary, settings: Settings, interpreter: Interpreter, stores: StateStores, stateDirectory: String,
                going: RemediationsGoing, grace: Double, logger: Logger, metrics: ServerMetrics? = nil, incidents: RuleIncidents? = nil) {
        self.library = library
        self.settings = settings
        self.interpreter = interpreter
        self.stores = stores
        self.stateDirectory = stateDirectory
        self.going = going
        self.grace = grace
        self.logger = logger
        self.metrics = metrics
        self.incidents = incidents
    }

    /// The rules of one load of the library: its watcher and what it samples (nil: no rule and
    /// no playbook trigger, nothing to sample).
    struct Rules {
        let generation: Int
        let watcher: Watcher
        let live: LiveWatch
    }

    func rules(of snapshot: ServedLibrary.Snapshot) -> Rules? {
        let catalog = snapshot.catalog
        guard !catalog.rules.isEmpty || !PlaybookTrigger.all(in: catalog.playbooks).isEmpty else {
            logger.notice("medic serve: rules: none in the library, nothing is sampled")
            return nil
        }
        let (going, logger, metrics, incidents) = (going, logger, metrics, incidents)
        let engine = RuleEngine(catalog: catalog)
        for rejection in engine.rejected { logger.warning("medic serve: rules: warning: \(rejection)") }
        var options = Watcher.Options()
        options.claimRun = { plan, runID in going.claim(plan, runID: runID) }
        options.releaseRun = { runID in going.release(runID: runID) }
        if let metrics { options.observeEachRun = { plan in metrics.runObserver(playbook: plan.playbookID) } }
        let watcher = Watcher(engine: engine, catalog: catalog, interpreter: interpreter, stores: stores, stateDirectory: stateDirectory,
                              options: options, report: { event in
                                  Self.log(event, logger)
                                  incidents?.record(event)
                              })
        let sampler = LiveSampler(catalog: catalog, registry: settings.registry, scrapeURLs: [], client: interpreter.environment.http)
        logger.notice("medic serve: rules: watching \(sampler.selectors.count) series every \(settings.interval) s")
        let live = LiveWatch(clock: interpreter.clock, interval: settings.interval, sampler: sampler,
                             note: { logger.warning("medic serve: rules: \($0)") })
        return Rules(generation: snapshot.generation, watcher: watcher, live: live)
    }

    public func run() async throws {
        // Every watcher this service made: the runs of one replaced at a reload go on, and are
        // drained with the others at the end.
        let watchers = WatcherList()
        // Ends with a CancellationError at the graceful shutdown: sampling stops, nothing new starts.
        try? await cancelWhenGracefulShutdown { [self] in
            var generation = 0
            var current: Rules?
            while true {
                // A reload (SIGHUP) puts the new rules in force from the next round; their
                // state (a `for` under way, an incident open) starts afresh, and a run going
                // for the same fault still takes a firing of the new rules (RemediationsGoing).
                let snapshot = library.current
                if snapshot.generation != generation {
                    generation = snapshot.generation
                    current = rules(of: snapshot)
                    if let watcher = current?.watcher { await watchers.add(watcher) }
                }
                if let current, await settings.leadership?() ?? true { try await current.live.run(current.watcher, rounds: 1) }
                try await interpreter.clock.sleep(seconds: settings.interval)
            }
        }
        let (clock, grace) = (interpreter.clock, grace)
        let drained = await withTaskGroup(of: Bool.self) { group in
            group.addTask { await watchers.drain(); return true }
            group.addTask { try? await clock.sleep(seconds: grace); return false }
            let first = await group.next() ?? true
            group.cancelAll()
            return first
        }
        if !drained {
            logger.notice("medic serve: rules: run(s) still going after the grace period; ending their steps, they are left interrupted (medic resume RUN continues one)")
            stores.runs.stopAppending()
            interpreter.environment.runningSteps.stop()
            await watchers.drain()
        }
        await incidents?.finish()
    }

    /// The watchers made so far, for the drain at the end.
    actor WatcherList {
        private var watchers: [Watcher] = []

        func add(_ watcher: Watcher) { watchers.append(watcher) }

        func drain() async {
            for watcher in watchers { _ = await watcher.drain() }
        }
    }

    static func log(_ event: WatchEvent, _ logger: Logger) {
        switch event {
        case .incident(let incident):
            logger.notice("medic serve: rule \(incident.rule) fired: \(incident.incidentKey)", metadata: ["series": "\(incident.seriesKey)"])
        case .folded(let incident, let runID):
            logger.notice("medic serve: rule \(incident.rule) folded into run \(runID), going for the same fault", metadata: ["incident": "\(incident.incidentKey)"])
        case .unhandled(let incident, let reason, _):
            logger.warning("medic serve: rule \(incident.rule) unhandled: \(reason)", metadata: ["incident": "\(incident.incidentKey)"])
        case .runStarted(let incident, let runID, let plan):
            logger.info("run started", metadata: ["incident": "\(incident.incidentKey)", "run": "\(runID)", "playbook": "\(plan.playbookID)"])
        case .runFinished(let incident, let report), .runDecided(let incident, let report, _, _):
            logger.info("run ended", metadata: ["incident": "\(incident.incidentKey)", "run": "\(report.runID)",
                                                "outcome": "\(report.outcome?.rawValue ?? report.status.rawValue)"])
        case .runFailed(let incident, let runID, let error):
            logger.error("run could not go on", metadata: ["incident": "\(incident.incidentKey)", "run": "\(runID)", "error": "\(error)"])
        case .pending, .suppressed, .planned, .resolved:
            break
        }
    }
}
