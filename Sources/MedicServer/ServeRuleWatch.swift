import Foundation
import Logging
import MedicDetect
import MedicEngine
import MedicModel
import ServiceLifecycle

/// The anomaly rules evaluated inside `medic serve`, as `medic watch` evaluates them over live
/// metrics: every `interval`, the series the rules name are read through the metric sources and
/// fed to a `Watcher`, which starts the matching playbook through the gates. Its runs and the
/// alerts' share one `RemediationsGoing`, so one fault seen by a rule and by an alert makes one
/// run. At a graceful shutdown it stops sampling first, then gives its runs going `grace`
/// seconds before their steps are ended (left interrupted, for `medic resume`).
public struct ServeRuleWatch: Service {
    public struct Settings: Sendable {
        /// Seconds between two rounds of sampling (above 0).
        public var interval: Double
        /// Where the rules' series are read (the `--metrics` file, else the built-in host metrics).
        public var registry: MetricRegistry

        public init(interval: Double, registry: MetricRegistry) {
            self.interval = interval
            self.registry = registry
        }
    }

    private let live: LiveWatch
    private let watcher: Watcher
    private let interpreter: Interpreter
    private let stores: StateStores
    private let grace: Double
    private let logger: Logger

    /// nil when the catalog has no rule and no playbook trigger: nothing to evaluate.
    public init?(catalog: Catalog, settings: Settings, interpreter: Interpreter, stores: StateStores, stateDirectory: String,
                 going: RemediationsGoing, grace: Double, logger: Logger) {
        guard !catalog.rules.isEmpty || !PlaybookTrigger.all(in: catalog.playbooks).isEmpty else { return nil }
        let rules = RuleEngine(catalog: catalog)
        for rejection in rules.rejected { logger.warning("medic serve: rules: warning: \(rejection)") }
        var options = Watcher.Options()
        options.claimRun = { plan, runID in going.claim(plan, runID: runID) }
        options.releaseRun = { runID in going.release(runID: runID) }
        watcher = Watcher(engine: rules, catalog: catalog, interpreter: interpreter, stores: stores, stateDirectory: stateDirectory,
                          options: options, report: { Self.log($0, logger) })
        let sampler = LiveSampler(catalog: catalog, registry: settings.registry, scrapeURLs: [], client: interpreter.environment.http)
        logger.notice("medic serve: rules: watching \(sampler.selectors.count) series every \(settings.interval) s")
        live = LiveWatch(clock: interpreter.clock, interval: settings.interval, sampler: sampler,
                         note: { logger.warning("medic serve: rules: \($0)") })
        self.interpreter = interpreter
        self.stores = stores
        self.grace = grace
        self.logger = logger
    }

    public func run() async throws {
        let (live, watcher) = (live, watcher)
        // Ends with a CancellationError at the graceful shutdown: sampling stops, nothing new starts.
        try? await cancelWhenGracefulShutdown { try await live.run(watcher) }
        let (clock, grace) = (interpreter.clock, grace)
        let drained = await withTaskGroup(of: Bool.self) { group in
            group.addTask { _ = await watcher.drain(); return true }
            group.addTask { try? await clock.sleep(seconds: grace); return false }
            let first = await group.next() ?? true
            group.cancelAll()
            return first
        }
        guard !drained else { return }
        logger.notice("medic serve: rules: run(s) still going after the grace period; ending their steps, they are left interrupted (medic resume RUN continues one)")
        stores.runs.stopAppending()
        interpreter.environment.runningSteps.stop()
        _ = await watcher.drain()
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
