import Foundation
import Hummingbird
import Logging
import MedicEngine
import MedicModel

/// A person's degradation level over the API (docs/health.md, "Degradation"), as `medic degrade
/// set|clear` does it: `PUT /api/v1/degradation/{system}` holds a system at a level until
/// `DELETE` clears it (without a system: every system); `GET /api/v1/degradation` gives the
/// levels in force. A change is the token's (a `by` in the body is refused: unknown field); it is
/// written to the audit log first (an audit log that cannot be written refuses the change:
/// 503, nothing changed), then to `<state>/degradation/override.json`, then published on the bus
/// as `dev.medic.degradation.override` (a refused event is a warning in the log).
struct DegradationRoutes: Sendable {
    static let topic = "dev.medic.degradation.override"

    let access: AccessControl
    let audit: any AuditLog
    let bus: any StepExecutor
    let clock: any EngineClock
    let stateDirectory: String
    let maxBodyBytes: Int
    let logger: Logger
    let changes = DegradationChanges()

    func install(on router: Router<BasicRequestContext>) {
        router.get("/api/v1/degradation", use: access.require(.viewer) { _, _, _ in levels() })
        router.put("/api/v1/degradation", use: access.require(.operator) { request, _, identity in await set(nil, request, identity) })
        router.put("/api/v1/degradation/:system", use: access.require(.operator) { request, context, identity in
            await set(context.parameters.get("system") ?? "", request, identity)
        })
        router.delete("/api/v1/degradation", use: access.require(.operator) { request, _, identity in await clear(nil, request, identity) })
        router.delete("/api/v1/degradation/:system", use: access.require(.operator) { request, context, identity in
            await clear(context.parameters.get("system") ?? "", request, identity)
        })
    }

    func levels() -> Response {
        let overrides = DegradationState.overrides(stateDirectory)
        let systems = DegradationState.load(stateDirectory).effectiveAll(overrides: overrides).map(Self.object)
        var object: [String: Any] = ["systems": systems]
        if let all = overrides["*"] { object["every_system"] = Self.object(all) }
        return ServerRoutes.json(.ok, object)
    }

    func set(_ system: String?, _ request: Request, _ identity: AccessIdentity) async -> Response {
        if let refusal = Self.refusal(system) { return refusal }
        let body: APIRequestBody
        switch await APIRequestBody.read(request, limit: maxBodyBytes, known: ["level", "reason"]) {
        case .refused(let response): return response
        case .body(let read): body = read
        }
        let levelText: String
        switch body.text("level") {
        case .value(let text): levelText = text
        case .absent: return ServerRoutes.error(.badRequest, "'level' is required: one of \(Self.levelNames)", field: "level")
        case .wrong(let response): return response
        }
        guard let level = DegradationLevel(rawValue: levelText) else {
            return ServerRoutes.error(.badRequest, "'\(levelText)' is not a level: one of \(Self.levelNames)", field: "level")
        }
        let (reason, bad) = body.optionalText("reason")
        if let bad { return bad }
        return await change(system, to: level, reason: reason, identity)
    }

    func clear(_ system: String?, _ request: Request, _ identity: AccessIdentity) async -> Response {
        if let refusal = Self.refusal(system) { return refusal }
        let body: APIRequestBody
        switch await APIRequestBody.read(request, limit: maxBodyBytes, known: ["reason"]) {
        case .refused(let response): return response
        case .body(let read): body = read
        }
        let (reason, bad) = body.optionalText("reason")
        if let bad { return bad }
        return await change(system, to: nil, reason: reason, identity)
    }

    /// Audits, writes and publishes one change; `level` nil clears.
    private func change(_ system: String?, to level: DegradationLevel?, reason: String?, _ identity: AccessIdentity) async -> Response {
        let at = JournalRecord.timestamp(clock.now)
        var fields = ["event": level == nil ? "degradation_override_cleared" : "degradation_override_set", "system": system ?? "*",
                      "by": identity.name, "at": at]
        if let level { fields["level"] = level.rawValue }
        if let reason { fields["reason"] = reason }
        let was: DegradationOverride?
        do {
            try await audit.record(fields)
        } catch {
            return ServerRoutes.error(.serviceUnavailable, "the change was not audited, so it was not made: \(error)")
        }
        do {
            was = try changes.withLock {
                let was = DegradationState.overrides(stateDirectory)[system ?? "*"]
                try DegradationState.setOverride(stateDirectory, system: system,
                                                 to: level.map { DegradationOverride(system: system, level: $0, by: identity.name, reason: reason, at: at) })
                return was
            }
        } catch {
            try? await audit.record(["event": "degradation_override_failed", "system": system ?? "*", "by": identity.name, "at": at,
                                     "error": "\(error)"])
            return ServerRoutes.error(.serviceUnavailable, "the degradation level could not be changed: \(error)")
        }
        var data = ["system": system ?? "*", "level": level?.rawValue ?? "health", "by": identity.name, "at": at]
        if let reason { data["reason"] = reason }
        let request = ExecutionRequest(runID: "degradation", stepNumber: 0, stepName: system ?? "*", action: "degradation_override",
                                       purpose: .escalation, executor: .bus, topic: Self.topic, parameters: data, timeout: 30)
        let published = try? await bus.execute(request)
        if published?.succeeded != true {
            logger.warning("medic serve: the degradation change of \(system ?? "every system") is in force but was not published on the bus")
        }
        var answer: [String: Any] = ["system": system ?? "*", "level": level?.rawValue ?? "health", "by": identity.name, "at": at]
        if let was { answer["was"] = Self.object(was) }
        return ServerRoutes.json(.ok, answer)
    }

    static let levelNames = DegradationLevel.allCases.map(\.rawValue).joined(separator: ", ")

    /// A system name is a component of the health checks file: `*` is kept for every system.
    static func refusal(_ system: String?) -> Response? {
        guard let system else { return nil }
        guard !system.isEmpty, system != "*", system.count <= 256 else {
            return ServerRoutes.error(.badRequest, "'\(system.prefix(64))' is not a system name (for every system, leave it out of the path)")
        }
        return nil
    }

    static func object(_ effective: DegradationState.Effective) -> [String: Any] {
        var object: [String: Any] = ["system": effective.system, "level": effective.level.rawValue, "source": effective.source]
        if let since = effective.since { object["since"] = since }
        if let by = effective.by { object["by"] = by }
        if let reason = effective.reason { object["reason"] = reason }
        return object
    }

    static func object(_ manual: DegradationOverride) -> [String: Any] {
        var object: [String: Any] = ["level": manual.level.rawValue, "by": manual.by, "at": manual.at]
        if let reason = manual.reason { object["reason"] = reason }
        return object
    }
}

/// The override file is read, changed and replaced whole: one change at a time in this server.
final class DegradationChanges: Sendable {
    private let lock = NSLock()

    func withLock<T>(_ body: () throws -> T) rethrows -> T { try lock.withLock(body) }
}
