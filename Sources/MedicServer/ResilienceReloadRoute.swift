import Foundation
import Hummingbird
import Logging
import MedicEngine
import MedicLoader
import MedicModel

/// `POST /api/v1/resilience/reload` (docs/resilience.md, "Reloading"): reads `medic serve
/// --config` again and puts its `resilience:` limits in force at once, each breaker keeping its
/// state, as SIGHUP does for the guards, without reloading the library or the routes. The file is
/// checked whole, as at start: a file with an error changes nothing (422, with each error
/// located). The reload is the token's and is written to the audit log first (an audit log that
/// cannot be written refuses it: 503).
struct ResilienceReloadRoute: Sendable {
    let access: AccessControl
    let audit: any AuditLog
    let guards: ExecutorGuards
    let library: ServedLibrary
    /// `--config`; nil: there is nothing to read again (409).
    let configurationPath: String?
    let clock: any EngineClock
    let maxBodyBytes: Int
    let logger: Logger

    func install(on router: Router<BasicRequestContext>) {
        router.post("/api/v1/resilience/reload", use: access.require(.operator) { request, _, identity in await reload(request, identity) })
    }

    func reload(_ request: Request, _ identity: AccessIdentity) async -> Response {
        var reason: String?
        switch await APIRequestBody.read(request, limit: maxBodyBytes, known: ["reason"]) {
        case .refused(let response): return response
        case .body(let body):
            let (text, bad) = body.optionalText("reason")
            if let bad { return bad }
            reason = text
        }
        guard let configurationPath else {
            return ServerRoutes.error(.conflict, "medic serve was started without --config: there are no resilience limits to read again")
        }
        let (configuration, diagnostics) = ServeConfiguration.load(path: configurationPath, catalog: library.current.catalog)
        let errors = diagnostics.filter { $0.severity == .error }
        guard let configuration, errors.isEmpty else {
            let lines = DiagnosticRenderer.text(errors).split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
            logger.error("medic serve: resilience reload refused, the limits in force stay: \(errors.count) error(s)")
            return ServerRoutes.json(.unprocessableContent, ["error": "the configuration has errors; the limits in force stay", "errors": lines])
        }
        let at = JournalRecord.timestamp(clock.now)
        var fields = ["event": "resilience_reloaded", "by": identity.name, "at": at, "configuration": configurationPath]
        if let reason { fields["reason"] = reason }
        do {
            try await audit.record(fields)
        } catch {
            return ServerRoutes.error(.serviceUnavailable, "the reload was not audited, so it was not made: \(error)")
        }
        let settings = configuration.resilience
        guards.reconfigure(settings)
        logger.notice("medic serve: resilience limits reloaded by \(identity.name) from \(configurationPath)")
        return ServerRoutes.json(.ok, ["reloaded": true, "by": identity.name, "at": at,
                                       "kinds": settings.kinds.keys.map(\.rawValue).sorted(), "keys": settings.keys.keys.sorted()])
    }
}
