import Foundation
import Hummingbird
import Logging
import MedicEngine
import MedicText
import NIOCore

/// The immune events API (docs/serving.md, "Immune events"): `POST /api/v1/events` stores an
/// event and publishes it on the bus; `GET /api/v1/health` summarises the events of a window.
struct ImmuneEventRoutes: Sendable {
    let store: any ImmuneEventStoring
    let publisher: ImmuneEventPublisher
    let clock: any EngineClock
    let maxBodyBytes: Int
    let access: AccessControl

    /// Every route of the immune events API; registered in one place so that they can be put
    /// behind authentication together.
    func install(on router: Router<BasicRequestContext>) {
        router.post("/api/v1/events", use: access.require(.sender, openWithoutTokens: true, limited: false) { request, _, _ in await post(request) })
        router.get("/api/v1/health", use: access.require(.viewer) { request, _, _ in health(request) })
    }

    func post(_ request: Request) async -> Response {
        guard ServerRoutes.isJSON(request.headers[.contentType]) else {
            return ServerRoutes.error(.unsupportedMediaType, "the body must be JSON (Content-Type: application/json), found \(request.headers[.contentType].map { "'\($0)'" } ?? "no Content-Type")")
        }
        let body: ByteBuffer
        switch await ServerRoutes.collect(request, limit: maxBodyBytes) {
        case .tooLarge: return ServerRoutes.error(.contentTooLarge, "the body is over \(maxBodyBytes) bytes")
        case .failed(let error): return ServerRoutes.error(.badRequest, "the body could not be read: \(error)")
        case .body(let read): body = read
        }
        let event: ImmuneEvent
        do throws(ImmuneEvent.Rejection) {
            event = try ImmuneEvent.decode(Data(body.readableBytesView), newID: { UUID().uuidString.lowercased() }, now: clock.now)
        } catch {
            return ServerRoutes.error(.badRequest, error.field.isEmpty ? error.message : "\(error.field): \(error.message)",
                                      field: error.field.isEmpty ? nil : error.field)
        }
        let outcome: ImmuneEventStoreOutcome
        do {
            outcome = try await store.store(event)
        } catch {
            publisher.logger.error("medic: error: immune event not stored: \(error)")
            return ServerRoutes.error(.serviceUnavailable, "the event could not be stored: \(error)")
        }
        switch outcome {
        case .stored(let stored):
            publisher.publish(stored)
            return JSONObjectBytes.response(.created, Self.answer(stored, stored: true))
        case .existing(let stored):
            return JSONObjectBytes.response(.ok, Self.answer(stored, stored: false))
        case .conflict(let stored):
            return ServerRoutes.error(.conflict, "id: another event is stored under '\(stored.id)'", field: "id")
        }
    }

    /// `{"created_at", "id", "stored"}`: the answer to a post.
    static func answer(_ event: ImmuneEvent, stored: Bool) -> JSONObjectBytes {
        var object = JSONObjectBytes()
        object.field("created_at", event.createdAt.rfc3339())
        object.field("id", event.id)
        object.field("stored", stored)
        return object
    }

    /// Counts by severity and by type of the events created in the window before now, each
    /// with its latest time, and the latest event.
    func health(_ request: Request) -> Response {
        let text = request.uri.queryParameters["window"].map(String.init) ?? "1h"
        guard let window = Self.seconds(text), window > 0, window <= Self.longestWindow else {
            return ServerRoutes.error(.badRequest, "window: '\(text)' is not a duration such as 90s, 15m, 1h or 7d (at most 30d)", field: "window")
        }
        let now = clock.now
        guard let until = Timestamp(now), let since = Timestamp(now.addingTimeInterval(-window)) else {
            return ServerRoutes.error(.internalServerError, "the server's clock cannot be read")
        }
        let events = store.events(since: since)
        var bySeverity: [String: [String: Any]] = [:]
        var byType: [String: [String: Any]] = [:]
        for severity in ImmuneEvent.Severity.allCases { bySeverity[severity.rawValue] = ["count": 0] }
        for type in ImmuneEvent.Kind.allCases { byType[type.rawValue] = ["count": 0] }
        var latest: ImmuneEvent?
        for event in events {
            Self.count(event, in: &bySeverity, under: event.severity.rawValue)
            Self.count(event, in: &byType, under: event.type.rawValue)
            if latest.map({ event.createdAt >= $0.createdAt }) ?? true { latest = event }
        }
        var summary: [String: Any] = ["window": text, "since": since.rfc3339(), "until": until.rfc3339(), "total": events.count,
                                      "by_severity": bySeverity, "by_type": byType]
        if let latest {
            var object: [String: Any] = ["id": latest.id, "severity": latest.severity.rawValue, "type": latest.type.rawValue,
                                         "message": latest.message, "created_at": latest.createdAt.rfc3339()]
            if let agent = latest.agentID { object["agent_id"] = agent }
            if let module = latest.module { object["module"] = module }
            summary["latest"] = object
        }
        return ServerRoutes.json(.ok, summary)
    }

    private static func count(_ event: ImmuneEvent, in groups: inout [String: [String: Any]], under key: String) {
        let count = (groups[key]?["count"] as? Int) ?? 0
        var group: [String: Any] = ["count": count + 1]
        let previous = (groups[key]?["latest"] as? String).flatMap { Timestamp(rfc3339: $0) }
        group["latest"] = (previous.map { max($0, event.createdAt) } ?? event.createdAt).rfc3339()
        groups[key] = group
    }

    static let longestWindow: Double = 30 * 86_400

    /// `90s`, `15m`, `1h`, `7d` (a whole number and its unit) in seconds; nil for anything else.
    static func seconds(_ text: String) -> Double? {
        guard let unit = text.last, let number = Int(text.dropLast()), number >= 0 else { return nil }
        switch unit {
        case "s": return Double(number)
        case "m": return Double(number) * 60
        case "h": return Double(number) * 3600
        case "d": return Double(number) * 86_400
        default: return nil
        }
    }
}

/// Publishes stored events on the engine's bus in the background, up to `concurrency` at a
/// time, started in the order stored: `immune.event_published` for each, and
/// `immune.critical_event` too (after it) for a CRITICAL one. Publishing never holds up or fails a post: a bus that fails or cannot be reached is
/// logged as a warning and the event stays stored. Delivery is at most once: the events waiting
/// (at most `capacity`; beyond that one is dropped with a warning) are lost if the process ends.
final class ImmuneEventPublisher: Sendable {
    static let publishedTopic = "immune.event_published"
    static let criticalTopic = "immune.critical_event"
    /// The events being published at once.
    static let concurrency = 4

    let logger: Logger
    private let continuation: AsyncStream<ImmuneEvent>.Continuation

    init(bus: any StepExecutor, logger: Logger, capacity: Int = 100_000) {
        self.logger = logger
        let (stream, continuation) = AsyncStream.makeStream(of: ImmuneEvent.self, bufferingPolicy: .bufferingOldest(capacity))
        self.continuation = continuation
        Task.detached {
            // A few at a time: a transport's cost per event (the outbox's fsync, a webhook's
            // round trip) would otherwise bound the rate of publishing far below that of storing.
            await withTaskGroup(of: Void.self) { group in
                var going = 0
                for await event in stream {
                    if going == Self.concurrency {
                        await group.next()
                        going -= 1
                    }
                    group.addTask {
                        await Self.send(event, topic: Self.publishedTopic, via: bus, logger: logger)
                        if event.severity == .critical { await Self.send(event, topic: Self.criticalTopic, via: bus, logger: logger) }
                    }
                    going += 1
                }
            }
        }
    }

    func publish(_ event: ImmuneEvent) {
        if case .dropped = continuation.yield(event) {
            logger.warning("medic: warning: immune event \(event.id) stored but not published: too many events waiting for the bus")
        }
    }

    /// The event's fields as the CloudEvent's data (`meta` as its JSON text); its subject is the event's id.
    private static func send(_ event: ImmuneEvent, topic: String, via bus: any StepExecutor, logger: Logger) async {
        var data = ["id": event.id, "severity": event.severity.rawValue, "type": event.type.rawValue, "message": event.message,
                    "created_at": event.createdAt.rfc3339()]
        if let agent = event.agentID { data["agent_id"] = agent }
        if let module = event.module { data["module"] = module }
        if event.meta != "null" { data["meta"] = event.meta }
        let request = ExecutionRequest(runID: "events", stepNumber: 0, stepName: event.id, action: "immune_event", purpose: .escalation,
                                       executor: .bus, topic: topic, parameters: data, timeout: 30)
        do {
            let result = try await bus.execute(request)
            if !result.succeeded { logger.warning("medic: warning: immune event \(event.id) not published as \(topic): \(result.summary)") }
        } catch {
            logger.warning("medic: warning: immune event \(event.id) not published as \(topic): \(error)")
        }
    }
}
