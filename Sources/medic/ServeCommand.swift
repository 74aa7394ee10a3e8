import ArgumentParser
import Foundation
import MedicEngine
import MedicLoader
import MedicModel
import MedicPostgres
import MedicServer

struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve the library over HTTP: Alertmanager alerts in, remediation runs out.",
        discussion: """
            Listens on 127.0.0.1:9797 (--listen HOST:PORT; port 0 picks a free port) and prints \
            `medic serve: listening on http://HOST:PORT` once it takes requests. Endpoints: GET /healthz, \
            GET /readyz, GET /metrics (Prometheus), POST /api/v1/events and GET /api/v1/health (immune \
            events), POST /api/v1/alerts (Alertmanager's webhook, payload version 4). A firing alert \
            becomes an incident, durable before the answer, routed to a playbook by --config's routes \
            (else the playbook whose id is its alertname) and run through the gates as an automated run \
            in the background; a resolved alert resolves it. The REST API (/api/v1/runs, approvals, \
            switches, breakers, plans, incidents) takes bearer tokens from --tokens or the configuration's \
            `tokens:` (made by `medic token create`); without tokens every caller may only read, and only \
            loopback addresses are served. GET / is a web page for the people on call, with the same \
            roles: log in with a token.

            The library's anomaly rules are evaluated over live metrics as `medic watch` evaluates them \
            (every --interval, through the metric sources of --metrics; --no-rules turns this off). A \
            trigger that would start a playbook on targets a run going already remediates with that \
            playbook, a rule's firing or an alert, folds into that run: one fault, one run.

            SIGHUP: read the library, --config and --health-checks again and put them in force for the \
            next alert; with any error, keep the ones in force and log each error located.

            Several servers can share their state in PostgreSQL (--store postgres://USER@HOST[:PORT]/DATABASE, \
            the password in PGPASSWORD, or MEDIC_STORE; `medic migrate` prepares the database): Alertmanager \
            sends to all of them, each incident is remediated once, one server at a time evaluates the \
            anomaly rules, and a server that dies has its runs taken over by another once their leases \
            (--lease seconds) expire. docs/high-availability.md.

            SIGTERM or SIGINT: stop taking requests, let the runs going finish within --grace seconds, \
            then end their steps (left interrupted, for `medic resume`) and exit 0. docs/serving.md \
            has the whole story.

            Examples:
              medic serve
              medic serve --config medic.yaml --listen 127.0.0.1:0 --grace 10
            """
    )

    @Option(help: "The directory holding playbooks/ actions/ rules/ policies/.")
    var root: String = "."

    @OptionGroup var engine: EngineOptions

    @Option(help: ArgumentHelp("The server's configuration (alert routes), YAML or JSON.", valueName: "file"))
    var config: String?

    @Option(help: ArgumentHelp("The address to listen on: HOST:PORT, loopback only (default 127.0.0.1:9797).", valueName: "host:port"))
    var listen: String = ListenAddress.default.description

    @Option(help: ArgumentHelp("The bearer tokens file (medic token create), instead of the configuration's `tokens:`.", valueName: "file"))
    var tokens: String?

    @Option(help: ArgumentHelp("The API requests one identity may make in a minute, in bursts of as many (more: 429).", valueName: "n"))
    var rateLimit: Int = 600

    @Option(help: ArgumentHelp("Seconds the runs going at a SIGTERM have to finish before their steps are ended.", valueName: "seconds"))
    var grace: Double = 30

    @Option(help: ArgumentHelp("Seconds a connection may stay without a whole request part (a header block, a body chunk) before it is closed.",
                               valueName: "seconds"))
    var idleTimeout: Double = 30

    @Option(help: ArgumentHelp("Shared state in PostgreSQL, for several servers (default: $MEDIC_STORE; neither: the state directory's files).",
                               valueName: "postgres-url"))
    var store: String?

    @Option(help: ArgumentHelp("With --store: seconds a run's or a target's lease lasts unrenewed; another server takes a dead one's runs over after it.",
                               valueName: "seconds"))
    var lease: Double = 15

    @Option(help: ArgumentHelp("With --store: deliver the database's bus outbox (where bus steps and escalations publish when --bus is not given) to this bus: webhook:URL, stdout or outbox:PATH. Every server may relay; each event is delivered by one at a time, at least once.",
                               valueName: "spec"),
            transform: BusTransport.argument)
    var relay: BusTransport?

    @Option(help: ArgumentHelp("With --store: this server's name as the owner of its leases (default HOST:PID).", valueName: "name"))
    var instance: String?

    @Flag(name: .customLong("no-rules"), help: "Do not evaluate the library's anomaly rules over live metrics (alerts only).")
    var noRules = false

    @Option(help: ArgumentHelp("Time between two rounds of sampling for the rules (above 0), \(Interval.acceptedForms). Default: 15s.",
                               valueName: "duration"),
            transform: Interval.argument)
    var interval = Interval(seconds: 15)

    @Option(name: .customLong("health-checks"),
            help: ArgumentHelp("A health checks file (docs/health.md) to run on its intervals: states, score and degradation on /metrics, the web page and `medic status`.",
                               valueName: "file"))
    var healthChecks: String?

    func validate() throws {
        guard let address = ListenAddress(listen) else {
            throw ValidationError("--listen '\(listen)' is not HOST:PORT with a port from 0 to 65535 (such as 127.0.0.1:9797)")
        }
        guard address.isLoopback || tokens != nil || config != nil else { throw Self.notLoopback(listen) }
        guard engine.resilience == nil else {
            throw ValidationError("--resilience is for run, resume, demo and watch: medic serve reads the `resilience:` section of --config (and again at SIGHUP)")
        }
        guard rateLimit >= 1 else { throw ValidationError("--rate-limit must be 1 or more requests a minute") }
        guard grace >= 0, grace.isFinite else { throw ValidationError("--grace must be 0 or more seconds") }
        guard idleTimeout > 0, idleTimeout <= 86_400 else { throw ValidationError("--idle-timeout must be above 0 and at most 86400 seconds") }
        guard lease >= 1, lease <= 3600 else { throw ValidationError("--lease must be between 1 and 3600 seconds") }
        guard interval.seconds > 0 else { throw ValidationError("--interval '\(interval)' is not a duration above 0 (such as 15s or 1m)") }
    }

    mutating func run() async throws {
        let catalog: Catalog
        do {
            catalog = try CatalogStage().run(root: root)
        } catch let failure as CatalogStage.Failure {
            throw CommandFailure.catalog(failure, "the library has errors; fix them (medic validate) first")
        }
        var configuration = ServeConfiguration()
        if let config {
            let (loaded, diagnostics) = ServeConfiguration.load(path: config, catalog: catalog)
            guard let loaded else { throw CommandFailure.diagnostics(diagnostics, "the configuration has errors; fix them first") }
            let warnings = diagnostics.filter { $0.severity == .warning }
            if !warnings.isEmpty { MedicLog.log.warning("\(DiagnosticRenderer.text(warnings))") }
            configuration = loaded
        }
        var settings = MedicServer.Settings(listen: ListenAddress(listen) ?? .default, grace: grace)
        settings.ratePerMinute = rateLimit
        settings.idleTimeout = idleTimeout
        if let file = tokens ?? configuration.tokensFile {
            do {
                settings.tokens = try AccessTokens.load(path: file)
            } catch {
                throw CommandFailure("error: \(error)", "the tokens file has errors; fix it first")
            }
        }
        // Beyond loopback, anyone who reaches the port is a caller: only with tokens to tell who.
        guard settings.listen.isLoopback || !settings.tokens.isEmpty else { throw Self.notLoopback(listen) }
        var interpreter = try engine.interpreter(root: root)
        let owner = instance ?? "\(ProcessInfo.processInfo.hostName):\(getpid())"
        let shared = try await ServeStore.open(store, files: try engine.stores(of: interpreter), stateDirectory: engine.stateDirectoryPath,
                                               owner: owner, leaseSeconds: lease,
                                               connectTimeout: 5, rulesLeaseSeconds: max(lease, 3 * interval.seconds), clock: interpreter.clock)
        let (stores, incidents) = (shared.stores, shared.incidents)
        // With --store, the breakers of the guards are shared with the other servers.
        var guardSharing: GuardStateSharing?
        interpreter.environment.stores = stores
        if let database = shared.database {
            // Without --bus, bus steps and escalations publish to the database's outbox, which a
            // server dying after a publish does not take along; --relay delivers it.
            if engine.bus == nil {
                var executors = interpreter.executors.unguarded
                let bus = BusExecutor(outbox: PostgresEventOutbox(database), environment: interpreter.environment)
                executors.bus = bus
                interpreter.executors = executors.guarded(by: interpreter.environment.guards)
                GuardTransitionPublisher(bus: bus, warn: interpreter.environment.warn).follow(interpreter.environment.guards)
            }
            guardSharing = GuardStateSharing(guards: interpreter.environment.guards, store: PostgresGuardStates(database), instance: owner,
                                             warn: interpreter.environment.warn)
            guardSharing?.start()
            if let relay {
                settings.outboxRelay = OutboxRelay(outbox: PostgresOutbox(database), bus: BusExecutor(transport: relay, environment: interpreter.environment,
                                                                                                   standardOutput: busLine), logger: MedicLog.log)
            }
        } else if relay != nil {
            throw CommandFailure.usage("--relay delivers the database's outbox: it needs --store (or MEDIC_STORE)")
        }
        if shared.database != nil { (settings.takeoverInterval, settings.storeTimeout) = (lease / 3, 5) }
        (settings.escalationClaims, settings.alertGroups, settings.requesters) = (shared.escalationClaims, shared.alertGroups, shared.requesters)
        settings.webSessions = shared.webSessions
        if let database = shared.database, let prune = ServePrune.job(database, policies: catalog.policies, owner: owner, clock: interpreter.clock) {
            settings.periodicJobs.append(prune)
        }
        if let database = shared.database {
            do {
                settings.immuneEvents = try await PostgresImmuneEventStore.open(database)
            } catch {
                throw CommandFailure("error: \(error)", "the database must answer and have the current schema (medic migrate --store ...)")
            }
        }
        (settings.libraryRoot, settings.configurationPath) = (root, config)
        // The metric sources are read only when something samples them (--no-rules alone does not).
        if !noRules || healthChecks != nil {
            let registry = try metricRegistry(file: engine.metrics, root: root, environment: interpreter.environment)
            if let healthChecks {
                let monitor = try HealthMonitor(serving: healthChecks, registry: registry, interpreter: interpreter, stateDirectory: engine.stateDirectoryPath)
                settings.health = monitor
                settings.healthChecksPath = healthChecks
                settings.healthTick = min(1, monitor.file.checks.filter(\.runs).map(\.interval).min() ?? 1)
            }
            if !noRules {
                let health = settings.health.map { HealthMetricSource($0.latest) }
                settings.rules = .init(interval: interval.seconds, registry: health.map { registry.serving(HealthMetricSource.patterns, from: $0) } ?? registry)
                settings.rules?.leadership = shared.rulesLeadership
            }
        }
        let server = MedicServer(catalog: catalog, configuration: configuration, interpreter: interpreter, stores: stores,
                                 stateDirectory: engine.stateDirectoryPath,
                                 incidents: incidents, settings: settings, logger: MedicLog.log)
        // Adaptive limits (`adaptive:` in `resilience:`) move every 10 s.
        interpreter.environment.guards.adaptEvery(10)
        do {
            try await server.run { address in printLine("medic serve: listening on http://\(address)") }
        } catch {
            guardSharing?.stop()
            interpreter.environment.guards.stopAdapting()
            try? await interpreter.environment.shutdown()
            await shared.database?.shutdown()
            throw CommandFailure("error: medic serve stopped: \(error)")
        }
        guardSharing?.stop()
        interpreter.environment.guards.stopAdapting()
        try? await interpreter.environment.shutdown()
        await shared.database?.shutdown()
        MedicLog.log.notice("medic serve: stopped")
    }

    static func notLoopback(_ listen: String) -> ValidationError {
        ValidationError("--listen '\(listen)' is not a loopback address: serving other hosts requires tokens (--tokens FILE or the configuration's `tokens:`, made by `medic token create`), so without them only 127.0.0.0/8, ::1 and localhost are allowed")
    }
}

extension HealthMonitor {
    /// The monitor of `medic serve --health-checks FILE`: its probes use the engine's HTTP client
    /// and metric sources, its changes go to the engine's bus. A file with errors prints them and exits 1.
    init(serving path: String, registry: MetricRegistry, interpreter: Interpreter, stateDirectory: String) throws {
        let (file, diagnostics) = HealthChecksLoader.load(path: path)
        guard let file else { throw CommandFailure.diagnostics(diagnostics, "the health checks file has errors; fix them first") }
        let probes = HealthProbes(http: interpreter.environment.http, metrics: registry,
                                  postgres: { try await PostgresHealthStatement.run(url: $0, statement: $1, timeout: $2) },
                                  runningSteps: interpreter.environment.runningSteps)
        self.init(file: file, probes: probes, stateDirectory: stateDirectory, clock: interpreter.clock, bus: interpreter.executors.bus)
    }
}
