import Foundation
import Hummingbird
import Logging
import MedicEngine
import MedicKnowledge
import MedicModel
import NIOCore
import ServiceLifecycle

/// `medic serve`: the HTTP front end of the engine. One `ServiceGroup` holds the HTTP server and
/// the incident runner; SIGTERM or SIGINT shuts them down gracefully in reverse order: the server
/// stops taking requests and answers those it has, then the runner lets its runs finish within
/// the grace period and ends the rest (docs/serving.md, "Stopping").
public struct MedicServer: Sendable {
    public struct Settings: Sendable {
        public var listen: ListenAddress = .default
        /// Seconds the runs in flight have to finish at a graceful shutdown.
        public var grace: Double = 30
        /// The largest request body read, in bytes (larger ones: 413).
        public var maxBodyBytes = 1 << 20
        /// The bearer tokens; none: every caller is the anonymous viewer (loopback only).
        public var tokens = AccessTokens()
        /// The API requests one identity may make in a minute (more: 429).
        public var ratePerMinute = 600
        /// Seconds a connection may go without a whole request part before it is closed, so a
        /// client that sends its headers a byte at a time (slowloris) does not hold it for ever.
        public var idleTimeout: Double = 30
        /// Where SIGHUP reads the library and the configuration again (nil root: SIGHUP is not trapped).
        public var libraryRoot: String?
        public var configurationPath: String?
        /// The anomaly rules evaluated over live metrics (nil: none, `--no-rules`).
        public var rules: ServeRuleWatch.Settings?
        /// Seconds between two takeover passes (`IncidentRunner.takeOver`), for servers sharing
        /// their state with others (nil: none, a server alone with its state directory).
        public var takeoverInterval: Double?
        /// Who sends each escalation level, for servers sharing their incidents (nil: this one).
        public var escalationClaims: (any EscalationClaims)?
        /// Seconds a post waits for its incidents to be made durable before it is answered 503
        /// (nil: as long as it takes). For a shared database, whose pool waits for a server that
        /// is down: an incident made durable after its 503 is started by the takeover pass.
        public var storeTimeout: Double?
        /// Where the alert groups' leads are kept, for servers sharing their incidents (nil: in memory).
        public var alertGroups: (any AlertGroupLeads)?
        /// Where the web page's logins are kept, for servers behind one address (nil: in memory).
        public var webSessions: (any WebSessionStoring)?
        /// Delivers the shared database's bus outbox (`--relay`; nil: none).
        public var outboxRelay: OutboxRelay?
        /// Jobs run on a period (the shared database's prune, `retention.every`).
        public var periodicJobs: [PeriodicJob] = []
        /// Who requested each run over the API, when servers share a database; nil: the state
        /// directory's.
        public var requesters: (any RunRequesterLedger)?
        /// Where the immune events are kept, when servers share the database (else the state directory's file).
        public var immuneEvents: (any ImmuneEventStoring)?
        /// The health checks run every `healthTick` seconds (nil: none, docs/health.md).
        public var health: HealthMonitor?
        /// The file `health` was read from, read again at SIGHUP (nil: not reloaded).
        public var healthChecksPath: String?
        public var healthTick: Double = 1

        public init(listen: ListenAddress = .default, grace: Double = 30) {
            self.listen = listen
            self.grace = grace
        }
    }

    public let catalog: Catalog
    public let configuration: ServeConfiguration
    public let interpreter: Interpreter
    /// The engine's state: runs, locks, switches, audit, knowledge.
    public let stores: StateStores
    /// The state directory (readiness checks that it can be written).
    public let stateDirectory: String
    public let incidents: any IncidentStoring
    public let settings: Settings
    public let logger: Logger

    public init(catalog: Catalog, configuration: ServeConfiguration, interpreter: Interpreter, stores: StateStores,
                stateDirectory: String, incidents: any IncidentStoring, settings: Settings, logger: Logger) {
        self.catalog = catalog
        self.configuration = configuration
        self.interpreter = interpreter
        self.stores = stores
        self.stateDirectory = stateDirectory
        self.incidents = incidents
        self.settings = settings
        self.logger = logger
    }

    /// Serves until a graceful shutdown has ended; `listening` is told the address bound (with
    /// the port the system chose for port 0). Throws when the address cannot be bound.
    public func run(listening: @escaping @Sendable (ListenAddress) -> Void) async throws {
        let library = ServedLibrary(catalog: catalog, configuration: configuration)
        let guards = interpreter.environment.guards
        guards.reconfigure(configuration.resilience)
        let going = RemediationsGoing()
        var intake = AlertIntake(library: library, store: incidents, going: going, groups: settings.alertGroups ?? AlertGroups(),
                                 ranker: CandidateRanker(knowledge: interpreter.knowledgeStores(stateDirectory: stateDirectory)))
        if settings.takeoverInterval != nil {
            // Servers sharing a database: an alert folds into another server's run only while it goes.
            let runs = stores.runs
            intake.stillGoingElsewhere = { runID in
                guard let status = try? await runs.inspect(runID).status else { return false }
                return status == .running || status == .pendingApproval
            }
        }
        let metrics = ServerMetrics(incidents: incidents, stateDirectory: stateDirectory, audit: stores.audit, clock: interpreter.clock,
                                    guards: guards)
        let runner = IncidentRunner(intake: intake, interpreter: interpreter, stores: stores, stateDirectory: stateDirectory, grace: settings.grace, logger: logger,
                                    metrics: metrics)
        let access = AccessControl(tokens: settings.tokens, ratePerMinute: settings.ratePerMinute, clock: interpreter.clock)
        let routes = ServerRoutes(intake: intake, runner: runner, stateDirectory: stateDirectory, incidents: incidents, clock: interpreter.clock,
                                  maxBodyBytes: settings.maxBodyBytes, logger: logger, accessControl: access, storeTimeout: settings.storeTimeout)
        let router = Router(context: BasicRequestContext.self)
        metrics.install(on: router, access: access)  // first: its middleware sees the routes added after it
        router.add(middleware: MethodNotAllowedMiddleware())
        routes.install(on: router)
        OpenAPIRoute().install(on: router)
        APIRunRoutes(access: access, runner: runner, interpreter: interpreter, stores: stores, library: library, stateDirectory: stateDirectory,
                     maxBodyBytes: settings.maxBodyBytes, requesters: settings.requesters).install(on: router)
        APIRunRequests(access: access, runner: runner, interpreter: interpreter, stores: stores, library: library, stateDirectory: stateDirectory,
                       maxBodyBytes: settings.maxBodyBytes, requesters: settings.requesters).install(on: router)
        APIOperationRoutes(access: access, interpreter: interpreter, stores: stores, library: library, incidents: incidents,
                           stateDirectory: stateDirectory, maxBodyBytes: settings.maxBodyBytes).install(on: router)
        IncidentAckRoutes(access: access, acknowledgement: IncidentAcknowledgement(store: incidents, audit: stores.audit), clock: interpreter.clock,
                          maxBodyBytes: settings.maxBodyBytes).install(on: router)
        // The web page calls the API routes' own functions for its actions (docs/serving.md, "The web page").
        WebRoutes(access: access,
                  runs: APIRunRoutes(access: access, runner: runner, interpreter: interpreter, stores: stores, library: library, stateDirectory: stateDirectory,
                                     maxBodyBytes: settings.maxBodyBytes, requesters: settings.requesters),
                  operations: APIOperationRoutes(access: access, interpreter: interpreter, stores: stores, library: library, incidents: incidents,
                                                 stateDirectory: stateDirectory, maxBodyBytes: settings.maxBodyBytes),
                  acknowledgements: IncidentAckRoutes(access: access, acknowledgement: IncidentAcknowledgement(store: incidents, audit: stores.audit),
                                                      clock: interpreter.clock, maxBodyBytes: settings.maxBodyBytes),
                  clock: interpreter.clock, maxBodyBytes: settings.maxBodyBytes, sessions: settings.webSessions ?? InMemoryWebSessions(),
                  storeTimeout: settings.storeTimeout).install(on: router)
        let events: any ImmuneEventStoring
        if let shared = settings.immuneEvents {
            events = shared
        } else {
            let file = try FileImmuneEventStore(stateDirectory: stateDirectory)
            for problem in file.damage { logger.warning("medic: warning: \(problem)") }
            events = file
        }
        ImmuneEventRoutes(store: events, publisher: ImmuneEventPublisher(bus: interpreter.executors.bus, logger: logger), clock: interpreter.clock,
                          maxBodyBytes: settings.maxBodyBytes, access: access).install(on: router)
        DegradationRoutes(access: access, audit: stores.audit, bus: interpreter.executors.bus, clock: interpreter.clock, stateDirectory: stateDirectory,
                          maxBodyBytes: settings.maxBodyBytes, logger: logger).install(on: router)
        ResilienceReloadRoute(access: access, audit: stores.audit, guards: guards, library: library, configurationPath: settings.configurationPath,
                              clock: interpreter.clock, maxBodyBytes: settings.maxBodyBytes, logger: logger).install(on: router)
        let host = settings.listen.host
        let app = Application(
            responder: ClientAddressResponder(routes: router.buildResponder()),
            server: .http1(configuration: .init(idleTimeout: .milliseconds(Int64(settings.idleTimeout * 1000)))),
            configuration: ApplicationConfiguration(address: .hostname(host, port: settings.listen.port), serverName: "medic"),
            onServerRunning: { channel in
                await runner.recover(from: incidents)
                listening(ListenAddress(host: host, port: channel.localAddress?.port ?? settings.listen.port))
            },
            logger: logger)
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [.init(service: runner)] + (try escalation(incidents, metrics: metrics))
        if let rules = settings.rules {
            services.append(.init(service: ServeRuleWatch(library: library, settings: rules, interpreter: interpreter, stores: stores,
                                                          stateDirectory: stateDirectory, going: going, grace: settings.grace, logger: logger,
                                                          metrics: metrics,
                                                          incidents: RuleIncidents(store: incidents, clock: interpreter.clock, logger: logger))))
        }
        if let interval = settings.takeoverInterval {
            services.append(.init(service: TakeoverSweep(runner: runner, incidents: incidents, interval: interval,
                                                         settled: interval * 3 + (settings.storeTimeout ?? 0))))
            // Each server's knowledge base learns the runs that ended on the others.
            // A run is left 2 x the lease, and at least 45 s (a record's time is taken before its
            // transaction, which may wait 30 s for a connection and 10 s for a lock), to its server.
            services.append(.init(service: SharedRunLearning(runs: stores.runs, knowledge: interpreter.knowledgeStores(stateDirectory: stateDirectory),
                                                             knowledgeDirectory: KnowledgeBase.defaultDirectory(inState: stateDirectory),
                                                             clock: interpreter.clock, interval: max(interval * 3, 2), settled: max(interval * 6, 45),
                                                             logger: logger)))
        }
        if let health = settings.health {
            services.append(.init(service: HealthService(monitor: health, metrics: metrics, tick: settings.healthTick, logger: logger)))
        }
        if let relay = settings.outboxRelay { services.append(.init(service: relay)) }
        services += settings.periodicJobs.map { .init(service: $0) }
        services.append(.init(service: app))
        if let root = settings.libraryRoot {
            // Trapped before the server listens, so a SIGHUP sent once it does never ends it.
            let health = settings.health.flatMap { monitor in settings.healthChecksPath.map { (monitor: monitor, path: $0) } }
            services.append(.init(service: await LibraryReload(root: root, configurationPath: settings.configurationPath, library: library, logger: logger,
                                                                          guards: guards, health: health)))
        }
        // Shut down in reverse order: the reload first, the HTTP server next (no new incident
        // while the runs drain), then the rules (no new firing; their runs get the grace), then
        // the escalation scheduler, then the runner.
        let group = ServiceGroup(configuration: ServiceGroupConfiguration(
            services: services,
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger))
        try await group.run()
    }

    /// The escalation scheduler, when the configuration maps a severity to a policy or lets the
    /// library's severity levels page (§5.1).
    func escalation(_ incidents: any IncidentStoring, metrics: ServerMetrics) throws -> [ServiceGroupConfiguration.ServiceConfiguration] {
        let escalation = configuration.escalation
        let levelsPage = escalation.severityLevels && catalog.policies.severityLevels.contains(where: SeverityNotice.pages)
        guard !escalation.policies.isEmpty || levelsPage else { return [] }
        let ledger = try EscalationLedger(stateDirectory: stateDirectory)
        return [.init(service: EscalationScheduler(settings: configuration.escalation, catalog: catalog, incidents: incidents, ledger: ledger,
                                                   stores: stores, clock: interpreter.clock,
                                                   delivery: ChannelDelivery(executors: interpreter.executors, clock: interpreter.clock,
                                                                             timeouts: configuration.escalation.timeouts,
                                                                             guards: interpreter.environment.guards), logger: logger,
                                                   metrics: metrics, claims: settings.escalationClaims,
                                                   metricSources: settings.rules?.registry ?? MetricRegistry(sources: [])))]
    }
}
