import Foundation
import Hummingbird
import Logging
import MedicEngine
import NIOCore

/// The endpoints of `medic serve` (docs/serving.md): health, readiness and the Alertmanager
/// webhook, which needs the `sender` role when tokens are configured and is open without them. Every error is a JSON object `{"error": MESSAGE, "field": PATH}` (`field` only when
/// one field of the request is at fault).
struct ServerRoutes: Sendable {
    let intake: AlertIntake
    let runner: IncidentRunner
    let stateDirectory: String
    let incidents: any IncidentStoring
    let clock: any EngineClock
    let maxBodyBytes: Int
    let logger: Logger
    let accessControl: AccessControl
    /// Seconds the store has to make a post's incidents durable (nil: no limit).
    var storeTimeout: Double?

    func install(on router: Router<BasicRequestContext>) {
        router.get("/healthz") { _, _ in Self.json(.ok, ["status": "alive"]) }
        router.get("/readyz") { _, _ in await readiness() }
        router.post("/api/v1/alerts", use: accessControl.require(.sender, openWithoutTokens: true, limited: false) { request, _, _ in await alerts(request) })
    }

    /// Ready when the catalog is loaded (it is: the server does not start without it), the
    /// state directory can be written and the incident store can take an incident (its folder
    /// is writable, its database answers).
    func readiness() async -> Response {
        let writable = access(stateDirectory, W_OK) == 0
        let unavailable = await incidents.unavailability()
        var store: [String: Any] = ["available": unavailable == nil, "location": incidents.location]
        if let unavailable { store["reason"] = unavailable }
        let checks: [String: Any] = ["catalog": ["loaded": true, "playbooks": intake.catalog.playbooks.count],
                                     "state": ["writable": writable, "directory": stateDirectory], "incidents": store]
        let ready = writable && unavailable == nil
        return Self.json(ready ? .ok : .serviceUnavailable, ["ready": ready, "checks": checks])
    }

    func alerts(_ request: Request) async -> Response {
        guard Self.isJSON(request.headers[.contentType]) else {
            return Self.error(.unsupportedMediaType, "the body must be JSON (Content-Type: application/json), found \(request.headers[.contentType].map { "'\($0)'" } ?? "no Content-Type")")
        }
        let body: ByteBuffer
        switch await Self.collect(request, limit: maxBodyBytes) {
        case .tooLarge: return Self.error(.contentTooLarge, "the body is over \(maxBodyBytes) bytes")
        case .failed(let error): return Self.error(.badRequest, "the body could not be read: \(error)")
        case .body(let read): body = read
        }
        let payload: AlertmanagerPayload
        do throws(AlertmanagerPayload.Rejection) {
            payload = try AlertmanagerPayload.decode(Data(body.readableBytesView))
        } catch {
            return Self.error(.badRequest, error.field.isEmpty ? error.message : "\(error.field): \(error.message)",
                              field: error.field.isEmpty ? nil : error.field)
        }
        let outcomes: [AlertIntake.Outcome]
        do {
            let (intake, now) = (intake, clock.now)
            if let storeTimeout {
                outcomes = try await answered(within: storeTimeout) { try await intake.accept(payload, now: now) }
            } else {
                outcomes = try await intake.accept(payload, now: now)
            }
        } catch {
            // Not durable, so not acknowledged: Alertmanager retries a 5xx. The incidents opened
            // before the failure are durable: their runs start now, as the retry will not.
            for outcome in (error as? AlertIntake.PartlyRecorded)?.recorded ?? [] where outcome.kind == .opened {
                if let incident = outcome.incident { await start(incident) }
            }
            logger.error("medic: error: alerts not recorded: \(error)")
            return Self.error(.serviceUnavailable, "the incidents could not be recorded: \(error)")
        }
        for outcome in outcomes where outcome.kind == .opened {
            if let incident = outcome.incident { await start(incident) }
        }
        return AlertIntake.Outcome.answer(outcomes)
    }

    /// Starts the incident's run. On a shared database (a store timeout set) in the background:
    /// starting reads the run store, which must not hold the answer to a post whose incident is
    /// already durable, and a start lost to a stopping server is the takeover pass's.
    private func start(_ incident: AlertIncident) async {
        guard storeTimeout != nil else { return await runner.start(incident) }
        let runner = runner
        Task { await runner.start(incident) }
    }

    enum Collected {
        case body(ByteBuffer)
        case tooLarge
        case failed(String)
    }

    /// The request's body, unless it is over `limit` bytes: a declared length over it is refused
    /// before anything is read, and a body without one is read only up to the limit.
    static func collect(_ request: Request, limit: Int) async -> Collected {
        if let declared = request.headers[.contentLength].flatMap({ Int($0) }), declared > limit { return .tooLarge }
        var collected = ByteBuffer()
        do {
            for try await part in request.body {
                guard collected.readableBytes + part.readableBytes <= limit else { return .tooLarge }
                collected.writeImmutableBuffer(part)
            }
        } catch {
            return .failed("\(error)")
        }
        return .body(collected)
    }

    /// `application/json`, with any parameters (`; charset=utf-8`), in any case.
    static func isJSON(_ contentType: String?) -> Bool {
        guard let contentType else { return false }
        let media = contentType.split(separator: ";", maxSplits: 1).first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
        return media == "application/json"
    }

    static func describe(_ outcome: AlertIntake.Outcome) -> [String: Any] {
        var object: [String: Any] = ["key": outcome.key, "outcome": outcome.kind.rawValue]
        if let incident = outcome.incident {
            object["status"] = incident.status.rawValue
            object["handling"] = incident.handling.rawValue
            if let playbook = incident.playbook { object["playbook"] = playbook }
            if let target = incident.target { object["target"] = target }
            if let run = incident.runID { object["run"] = run }
            if let reason = incident.reason { object["reason"] = reason }
        }
        return object
    }

    static func error(_ status: HTTPResponse.Status, _ message: String, field: String? = nil) -> Response {
        var object: [String: Any] = ["error": message]
        if let field { object["field"] = field }
        return json(status, object)
    }

    static func json(_ status: HTTPResponse.Status, _ object: [String: Any]) -> Response {
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data("{}".utf8)
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: data + Data("\n".utf8))))
    }
}
