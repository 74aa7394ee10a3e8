import Crypto
import Foundation
import Logging
import MedicDetect
import MedicEngine
import MedicModel
import MedicText

/// Keeps the firings of the anomaly rules that `medic serve` evaluates as incidents of the
/// incident store, beside the alerts': listed and shown by the API and the page, acknowledged
/// and resolved by people, and escalated by the scheduler with the rule's severity (raised by
/// the impact the series' labels carry, as an alert's is). A firing that started a run is kept
/// with its run; one no playbook could take is kept unhandled with the reason. The rule's
/// resolution resolves it. A firing folded into a run going for the same fault opens nothing:
/// that run's incident stands for it.
///
/// The watch reports its events synchronously; they are written in the order reported, by one
/// task, so a resolution never overtakes its opening.
public final class RuleIncidents: Sendable {
    private let events: AsyncStream<WatchEvent>.Continuation
    private let writer: Task<Void, Never>

    public init(store: any IncidentStoring, clock: any EngineClock, logger: Logger) {
        let (stream, events) = AsyncStream<WatchEvent>.makeStream()
        self.events = events
        writer = Task {
            for await event in stream { await Self.write(event, store: store, now: clock.now, logger: logger) }
        }
    }

    /// Takes one event of the watch (any thread).
    public func record(_ event: WatchEvent) {
        switch event {
        case .runStarted, .unhandled, .resolved: events.yield(event)
        default: break
        }
    }

    /// Writes what is reported so far, then stops taking events (the watch has stopped).
    public func finish() async {
        events.finish()
        await writer.value
    }

    private static func write(_ event: WatchEvent, store: any IncidentStoring, now: Date, logger: Logger) async {
        do {
            switch event {
            case .runStarted(let fired, let runID, let plan):
                var incident = opened(fired, now: now)
                incident.playbook = plan.playbookID
                incident.parameters = Dictionary(plan.parameters.map { ($0.name, $0.value) }, uniquingKeysWith: { first, _ in first })
                incident.target = plan.targets.count == 1 ? plan.targets[0].name : nil
                incident.runID = runID
                _ = try await store.open(incident)
            case .unhandled(let fired, let reason, _):
                var incident = opened(fired, now: now)
                incident.reason = reason
                _ = try await store.open(incident)
            case .resolved(let fired):
                _ = try await store.resolve(key: Self.key(fired), at: stamp(fired.resolvedAt.map { Date(timeIntervalSince1970: $0) } ?? now))
            default:
                return
            }
        } catch {
            logger.warning("medic serve: rules: the incident of a rule's firing could not be kept: \(error)")
        }
    }

    /// `rule-<16 hex digits of the SHA-256 of the rule's incident key>-<firing in ms>`: one
    /// firing of one incident of a rule, in the alphabet of incident keys.
    static func key(_ fired: Incident) -> String {
        "rule-\(fingerprint(fired))-\(Int64((fired.firedAt * 1000).rounded()))"
    }

    static func fingerprint(_ fired: Incident) -> String {
        SHA256.hash(data: Data(fired.incidentKey.utf8)).prefix(8).map { String(format: "%02x", $0) }.joined()
    }

    static func opened(_ fired: Incident, now: Date) -> AlertIncident {
        var incident = AlertIncident(
            key: key(fired), fingerprint: fingerprint(fired), groupKey: "rule:" + fired.rule, receiver: "rules", status: .firing,
            labels: fired.labels, annotations: ["summary": "rule \(fired.rule) fired: \(fired.incidentKey)"],
            startsAt: stamp(Date(timeIntervalSince1970: fired.firstSeen)), generatorURL: "", openedAt: stamp(now), resolvedAt: nil,
            handling: .rule, reason: nil, route: nil, playbook: nil, parameters: [:], target: nil, runID: nil)
        incident.rule = fired.rule
        incident.ruleSeverity = fired.severity.code
        return incident
    }

    static func stamp(_ date: Date) -> String { (Timestamp(date) ?? Timestamp(seconds: 0)).rfc3339() }
}
