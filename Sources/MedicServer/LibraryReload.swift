import Foundation
import Logging
import MedicEngine
import MedicLoader
import MedicModel
import ServiceLifecycle
import UnixSignals

/// SIGHUP: reads the library under `root` and the configuration at `configurationPath` again and
/// puts them in force together, for the alerts that come after. A load with any error changes
/// nothing: the old catalog and configuration stay in force and each error is logged located
/// (file:line:column, code, message, hint). Requests being answered and runs going keep the
/// snapshot they took (docs/serving.md, "Reloading"). The configuration's `resilience:` limits
/// apply to the guards at once, each breaker keeping its state. With `--health-checks`, that
/// file is read again too and its checks run from the next round (an error in it refuses the
/// whole reload, like one in the library).
public struct LibraryReload: Service {
    public let root: String
    public let configurationPath: String?
    public let library: ServedLibrary
    private let logger: Logger
    private let signals: UnixSignalsSequence
    /// The engine's guards, given the configuration's `resilience:` limits at each reload.
    private let guards: ExecutorGuards?
    /// The health monitor of `--health-checks` and its file, read again at each reload.
    private let health: (monitor: HealthMonitor, path: String)?

    /// Traps SIGHUP from here on (a SIGHUP before `run` is taken and reloads once `run` starts),
    /// so that it no longer ends the process.
    public init(root: String, configurationPath: String?, library: ServedLibrary, logger: Logger, guards: ExecutorGuards? = nil,
                health: (monitor: HealthMonitor, path: String)? = nil) async {
        self.guards = guards
        self.health = health
        self.root = root
        self.configurationPath = configurationPath
        self.library = library
        self.logger = logger
        signals = await UnixSignalsSequence(trapping: .sighup)
    }

    public func run() async throws {
        for await _ in signals.cancelOnGracefulShutdown() {
            await reloadWithHealthChecks()
        }
    }

    /// `reload()`, and the health checks file with it: both are put in force, or neither.
    func reloadWithHealthChecks() async {
        guard let health else {
            reload()
            return
        }
        let (file, diagnostics) = HealthChecksLoader.load(path: health.path)
        let errors = diagnostics.filter { $0.severity == .error }
        guard let file, errors.isEmpty else {
            logger.error("medic serve: reload refused, the catalog, configuration and health checks loaded before stay in force: \(errors.count) error(s) in \(health.path)")
            for line in DiagnosticRenderer.text(errors).split(separator: "\n") {
                logger.error("medic serve: reload: \(line.trimmingCharacters(in: .whitespaces))")
            }
            return
        }
        guard reload().isEmpty else { return }
        await health.monitor.replace(file: file)
        logger.notice("medic serve: reloaded the health checks: \(file.checks.count) check(s) from \(health.path)")
    }

    /// Loads the catalog and the configuration; puts both in force when neither has an error.
    /// Returns the errors (none when the reload took effect).
    @discardableResult
    public func reload() -> [Diagnostic] {
        let (loaded, errors) = Self.load(root: root, configurationPath: configurationPath)
        guard let loaded, errors.isEmpty else {
            logger.error("medic serve: reload refused, the catalog and configuration loaded before stay in force: \(errors.count) error(s)")
            for line in DiagnosticRenderer.text(errors).split(separator: "\n") {
                logger.error("medic serve: reload: \(line.trimmingCharacters(in: .whitespaces))")
            }
            return errors
        }
        let snapshot = library.replace(catalog: loaded.catalog, configuration: loaded.configuration)
        guards?.reconfigure(loaded.configuration.resilience)
        logger.notice("medic serve: reloaded: \(loaded.catalog.playbooks.count) playbook(s), \(loaded.configuration.routes.count) route(s) in force for the next alert (load \(snapshot.generation))")
        return []
    }

    /// The library under `root` and the configuration at `configurationPath` (none: no routes),
    /// or nil with the errors of either.
    public static func load(root: String, configurationPath: String?) -> ((catalog: Catalog, configuration: ServeConfiguration)?, [Diagnostic]) {
        let catalog: Catalog
        do {
            catalog = try CatalogStage().run(root: root)
        } catch let failure as CatalogStage.Failure {
            return (nil, failure.errors)
        } catch {
            return (nil, [Diagnostic(.fileUnreadable, "the library cannot be read: \(error)", at: SourceLocation(file: root))])
        }
        guard let configurationPath else { return ((catalog, ServeConfiguration()), []) }
        let (configuration, diagnostics) = ServeConfiguration.load(path: configurationPath, catalog: catalog)
        let errors = diagnostics.filter { $0.severity == .error }
        guard let configuration, errors.isEmpty else { return (nil, errors) }
        return ((catalog, configuration), [])
    }
}
