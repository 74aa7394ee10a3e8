import Foundation
import Hummingbird
import MedicEngine

/// `POST /api/v1/incidents/{key}/ack` and `/resolve`: a person acknowledges or resolves an
/// incident, as the authenticated identity (role operator). The body is `{"note": TEXT}` (optional;
/// a `by` in it is ignored: who acted is the token's name, never a name the caller typed). Answers `200` with the
/// incident, `400` (with `field`) for a bad body or key, `404` when no incident has the key,
/// `409` when the incident is resolved already (or, for ack, acknowledged already).
struct IncidentAckRoutes: Sendable {
    let access: AccessControl
    let acknowledgement: IncidentAcknowledgement
    let clock: any EngineClock
    let maxBodyBytes: Int

    func install(on router: Router<BasicRequestContext>) {
        router.post("/api/v1/incidents/:key/ack", use: access.require(.operator) { request, context, identity in
            await handle(.acknowledge, request, key: context.parameters.get("key") ?? "", by: identity.name)
        })
        router.post("/api/v1/incidents/:key/resolve", use: access.require(.operator) { request, context, identity in
            await handle(.resolve, request, key: context.parameters.get("key") ?? "", by: identity.name)
        })
    }

    func handle(_ action: IncidentAcknowledgement.Action, _ request: Request, key: String, by: String) async -> Response {
        // As every API route: an empty body is `{}`; a body needs `application/json`.
        let body: APIRequestBody
        switch await APIRequestBody.read(request, limit: maxBodyBytes, known: ["by", "note"]) {
        case .refused(let response): return response
        case .body(let read): body = read
        }
        let note: String?
        switch body.object["note"] {
        case nil, is NSNull: note = nil
        case let text as String: note = text
        default: return ServerRoutes.error(.badRequest, "'note' must be a string", field: "note")
        }
        let outcome: IncidentAcknowledgement.Outcome
        do {
            outcome = try await acknowledgement.perform(action, key: key, by: by, note: note, now: clock.now)
        } catch {
            return ServerRoutes.error(.serviceUnavailable, "the incident could not be changed: \(error)")
        }
        switch outcome {
        case .done(let incident): return ServerRoutes.json(.ok, ["incident": Self.describe(incident)])
        case .notFound(let why): return ServerRoutes.error(.notFound, why)
        case .conflict(let why): return ServerRoutes.error(.conflict, why)
        case .invalid(let why, let field): return ServerRoutes.error(.badRequest, why, field: field)
        }
    }

    /// The incident as stored (its JSON document).
    static func describe(_ incident: AlertIncident) -> Any {
        let encoder = JSONEncoder()
        guard let data = try? encoder.encode(incident), let object = try? JSONSerialization.jsonObject(with: data) else { return [:] as [String: Any] }
        return object
    }
}
