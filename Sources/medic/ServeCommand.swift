import ArgumentParser
import Foundation
import MedicEngine
import MedicLoader
import MedicModel
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
            in the background; a resolved alert resolves it. Only loopback addresses are served: bearer \
            tokens, needed for any other, are not built yet.

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

    @Option(help: ArgumentHelp("Seconds the runs going at a SIGTERM have to finish before their steps are ended.", valueName: "seconds"))
    var grace: Double = 30

    func validate() throws {
        guard let address = ListenAddress(listen) else {
            throw ValidationError("--listen '\(listen)' is not HOST:PORT with a port from 0 to 65535 (such as 127.0.0.1:9797)")
        }
        guard address.isLoopback else {
            throw ValidationError("--listen '\(listen)' is not a loopback address: serving other hosts requires tokens (not built yet), so only 127.0.0.0/8, ::1 and localhost are allowed")
        }
        guard grace >= 0, grace.isFinite else { throw ValidationError("--grace must be 0 or more seconds") }
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
            configuration = loaded
        }
        let interpreter = try engine.interpreter(root: root)
        let stores = try engine.stores(of: interpreter)
        let incidents: FileIncidentStore
        do {
            incidents = try FileIncidentStore(stateDirectory: engine.stateDirectoryPath)
        } catch {
            throw CommandFailure("error: \(error)")
        }
        let settings = MedicServer.Settings(listen: ListenAddress(listen) ?? .default, grace: grace)
        let server = MedicServer(catalog: catalog, configuration: configuration, interpreter: interpreter, stores: stores,
                                 stateDirectory: engine.stateDirectoryPath,
                                 incidents: incidents, settings: settings, logger: MedicLog.log)
        do {
            try await server.run { address in printLine("medic serve: listening on http://\(address)") }
        } catch {
            try? await interpreter.environment.shutdown()
            throw CommandFailure("error: medic serve stopped: \(error)")
        }
        try? await interpreter.environment.shutdown()
        MedicLog.log.notice("medic serve: stopped")
    }
}
