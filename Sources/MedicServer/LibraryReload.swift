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
/// apply to the guards at once, each breaker keeping its state.
public struct LibraryReload: Service {
    public let root: String
    public let configurationPath: String?
    public let library: ServedLibrary
    private let logger: Logger
    private let signals: UnixSignalsSequence
    /// The engine's guards, given the configuration's `resilience:` limits at each reload.
    private let guards: ExecutorGuards?

    /// Traps SIGHUP from here on (a SIGHUP before `run` is taken and reloads once `run` starts),
    /// so that it no longer ends the process.
    public init(root: String, configurationPath: String?, library: ServedLibrary, logger: Logger, guards: ExecutorGuards? = nil) async {
        self.guards = guards
        self.root = root
        self.configurationPath = configurationPath
        self.library = library
        self.logger = logger
        signals = await UnixSignalsSequence(trapping: .sighup)
    }

    public func run() async throws {
        for await _ in signals.cancelOnGracefulShutdown() {
            reload()
        }
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
