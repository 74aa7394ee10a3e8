import Foundation
import Hummingbird
import MedicEngine
import MedicModel
import NIOCore

/// The REST API's switches, breakers, dry-run plans and incidents (docs/serving.md, "The REST
/// API"). A change goes through `stores.flags`, which writes it to the audit log under the
/// authenticated identity's name before it returns.
struct APIOperationRoutes: Sendable {
    let access: AccessControl
    let interpreter: Interpreter
    let stores: StateStores
    /// The library in force (a SIGHUP may replace it); `catalog` is its catalog now.
    let library: ServedLibrary
    var catalog: Catalog { library.current.catalog }
    let incidents: any IncidentStoring
    let stateDirectory: String
    let maxBodyBytes: Int

    func install(on router: Router<BasicRequestContext>) {
        router.get("/api/v1/switches", use: access.require(.viewer) { _, _, _ in await switches() })
        router.put("/api/v1/switches/:name", use: access.require(.operator) { request, context, identity in
            await turn(context.parameters.get("name") ?? "", on: true, request, identity)
        })
        router.delete("/api/v1/switches/:name", use: access.require(.operator) { request, context, identity in
            await turn(context.parameters.get("name") ?? "", on: false, request, identity)
        })
        router.get("/api/v1/breakers", use: access.require(.viewer) { _, _, _ in await breakers() })
        router.post("/api/v1/breakers/:playbook/reset", use: access.require(.operator) { request, context, identity in
            await resetBreaker(context.parameters.get("playbook") ?? "", request, identity)
        })
        router.post("/api/v1/plans", use: access.require(.viewer) { request, _, _ in await plan(request) })
        router.get("/api/v1/incidents", use: access.require(.viewer) { request, _, _ in await listIncidents(request) })
        router.get("/api/v1/incidents/:key", use: access.require(.viewer) { _, context, _ in await incident(context.parameters.get("key") ?? "") })
    }

    func switches() async -> Response {
        var object: [String: Any] = [:]
        for flag in OperatorFlag.allCases {
            object[flag.rawValue] = await stores.flags.setting(flag).map { ["on": true, "by": $0.by, "reason": $0.reason ?? NSNull(), "at": $0.at] as [String: Any] }
                ?? ["on": false]
        }
        return ServerRoutes.json(.ok, ["switches": object])
    }

    func turn(_ name: String, on: Bool, _ request: Request, _ identity: AccessIdentity) async -> Response {
        guard let flag = OperatorFlag(rawValue: name) else {
            return ServerRoutes.error(.notFound, "no switch '\(name)' (switches: \(OperatorFlag.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        let body: APIRequestBody
        switch await APIRequestBody.read(request, limit: maxBodyBytes, known: ["reason", "by"]) {
        case .refused(let response): return response
        case .body(let read): body = read
        }
        // A `by` in the body is read and ignored: the change is the token's.
        let (reason, bad) = body.optionalText("reason")
        if let bad { return bad }
        do {
            if on {
                try await stores.flags.turnOn(flag, by: identity.name, reason: reason, now: interpreter.clock.now)
                return ServerRoutes.json(.ok, ["switch": flag.rawValue, "on": true, "by": identity.name])
            }
            let was = try await stores.flags.turnOff(flag, by: identity.name, reason: reason, now: interpreter.clock.now)
            return ServerRoutes.json(.ok, ["switch": flag.rawValue, "on": false, "was_on": was, "by": identity.name])
        } catch {
            return ServerRoutes.error(.serviceUnavailable, "the switch could not be changed: \(error)")
        }
    }

    func breakers() async -> Response {
        let breaker = RemediationBreaker(stateDirectory: stateDirectory, history: stores.runs)
        let entries = await breaker.statuses(now: interpreter.clock.now).map { status -> [String: Any] in
            var entry: [String: Any] = ["playbook": status.playbookID, "state": status.state.name, "failures": status.windowFailures,
                                        "runs": status.windowRuns, "consecutive_failures": status.consecutiveFailures]
            if let reset = status.lastReset { entry["reset_by"] = reset.by; entry["reset_at"] = reset.at }
            switch status.state {
            case .closed: break
            case .open(let until, let reason):
                entry["until"] = until.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
                entry["reason"] = reason
            case .halfOpen(let reason): entry["reason"] = reason
            }
            return entry
        }
        return ServerRoutes.json(.ok, ["breakers": entries])
    }

    func resetBreaker(_ playbook: String, _ request: Request, _ identity: AccessIdentity) async -> Response {
        guard catalog.playbook(id: playbook) != nil else { return ServerRoutes.error(.notFound, "no playbook '\(playbook)' in the library") }
        let body: APIRequestBody
        switch await APIRequestBody.read(request, limit: maxBodyBytes, known: ["reason", "by"]) {
        case .refused(let response): return response
        case .body(let read): body = read
        }
        let (reason, bad) = body.optionalText("reason")
        if let bad { return bad }
        do {
            try await stores.flags.resetBreaker(playbook, by: identity.name, reason: reason, now: interpreter.clock.now)
        } catch {
            return ServerRoutes.error(.serviceUnavailable, "the breaker could not be reset: \(error)")
        }
        return ServerRoutes.json(.ok, ["playbook": playbook, "reset_by": identity.name])
    }

    /// What a run would do, through every gate, doing none of it: `playbook` (an id of the
    /// library), `parameters` (text, read by their declared types), `target`, and `mode` (manual, the
    /// default, or automated: the gates as an alert's run meets them).
    func plan(_ request: Request) async -> Response {
        let body: APIRequestBody
        switch await APIRequestBody.read(request, limit: maxBodyBytes, known: ["playbook", "parameters", "target", "mode"]) {
        case .refused(let response): return response
        case .body(let read): body = read
        }
        let ungated: Plan, mode: RunMode
        switch Self.plan(body, catalog: catalog) {
        case .refused(let response): return response
        case .plan(let plan, let asked): (ungated, mode) = (plan, asked)
        }
        var gates = GateStage(catalog: catalog, stateDirectory: stateDirectory, evaluator: interpreter.verifier.evaluator)
        gates.stores = stores
        let gated = await gates.run(ungated, GateRequest(mode: mode), now: interpreter.clock.now)
        return ServerRoutes.json(.ok, ["plan": APIRunRoutes.objects(PlanRenderer.json(gated))])
    }

    enum Planned {
        case plan(Plan, RunMode)
        case refused(Response)
    }

    /// The ungated plan a body asks for: `playbook`, `parameters`, `target`, `mode`; else the answer refusing it.
    static func plan(_ body: APIRequestBody, catalog: Catalog) -> Planned {
        let id: String
        switch body.text("playbook") {
        case .value(let text): id = text
        case .absent: return .refused(ServerRoutes.error(.badRequest, "a plan needs 'playbook', the id of a playbook of the library", field: "playbook"))
        case .wrong(let response): return .refused(response)
        }
        guard let playbook = catalog.playbook(id: id) else { return .refused(ServerRoutes.error(.notFound, "no playbook '\(id)' in the library")) }
        var parameters: [String: String] = [:]
        if let given = body.object["parameters"] {
            guard let map = given as? [String: Any] else { return .refused(ServerRoutes.error(.badRequest, "'parameters' must be an object", field: "parameters")) }
            // Text only, as `medic plan --param NAME=VALUE` gives them: the planner reads each by its declared type.
            for (key, value) in map {
                guard let text = value as? String else {
                    return .refused(ServerRoutes.error(.badRequest, "'parameters.\(key)' must be text (the planner reads it by its declared type)", field: "parameters.\(key)"))
                }
                parameters[key] = text
            }
        }
        let (target, badTarget) = body.optionalText("target")
        let (modeText, badMode) = body.optionalText("mode")
        if let refusal = badTarget ?? badMode { return .refused(refusal) }
        guard let mode = modeText.map({ RunMode(rawValue: $0) }) ?? .manual else {
            return .refused(ServerRoutes.error(.badRequest, "'mode' must be manual or automated", field: "mode"))
        }
        let ungated: Plan
        do {
            ungated = try PlanStage(catalog: catalog).run(PlanRequest(playbook: playbook, parameters: parameters, targets: target.map { [TargetSpec(name: $0)] }))
        } catch {
            return .refused(ServerRoutes.error(.badRequest, AlertIntake.describe(error), field: "parameters"))
        }
        return .plan(ungated, mode)
    }

    /// Newest first; `status` (firing or resolved) narrows it.
    func listIncidents(_ request: Request) async -> Response {
        let status = request.uri.queryParameters.get("status")
        if let status, AlertIncident.Status(rawValue: status) == nil {
            return ServerRoutes.error(.badRequest, "'status' must be firing or resolved", field: "status")
        }
        let found = await incidents.all().incidents.filter { status == nil || $0.status.rawValue == status }.sorted { $0.openedAt > $1.openedAt }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let objects = found.compactMap { (try? encoder.encode($0)).flatMap { try? JSONSerialization.jsonObject(with: $0) } }
        return ServerRoutes.json(.ok, ["incidents": objects])
    }

    /// One incident as stored, with the decision fixed when it opened (its playbook, and for a
    /// route with candidates the ranking that chose it).
    func incident(_ key: String) async -> Response {
        guard IncidentAcknowledgement.isWellFormed(key: key) else {
            return ServerRoutes.error(.badRequest, "'\(key)' is not an incident key (letters, digits, '-' and '_')", field: "key")
        }
        let found: AlertIncident?
        do {
            found = try await incidents.incident(key: key)
        } catch {
            return ServerRoutes.error(.serviceUnavailable, "the incident could not be read: \(error)")
        }
        guard let found else { return ServerRoutes.error(.notFound, "no incident has the key '\(key)'") }
        return ServerRoutes.json(.ok, ["incident": IncidentAckRoutes.describe(found)])
    }
}
