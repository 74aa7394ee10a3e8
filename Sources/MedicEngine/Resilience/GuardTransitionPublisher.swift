import Foundation
import MedicResilience

/// Publishes every change of a guard's breaker on the engine's bus, as a CloudEvent of type
/// `dev.medic.guard.opened`, `dev.medic.guard.half_opened` or `dev.medic.guard.closed`, source
/// `medic/guards`, subject the guard's key, data `key`, `from`, `to`, `reason` and `at` (RFC 3339).
///
/// To an outbox file and standard output it is written before the call that moved the breaker
/// goes on (so a `medic run` that ends at once has published it); to a webhook or another outbox
/// (the shared database's), in the background. An event that cannot be published is a warning,
/// never a failure of the call. A transition adopted from another process's breaker
/// (`GuardStateSharing`) is not published: that process published it.
public struct GuardTransitionPublisher: Sendable {
    public static let source = "medic/guards"
    public let bus: BusExecutor
    public let warn: @Sendable (String) -> Void

    public init(bus: BusExecutor, warn: @escaping @Sendable (String) -> Void) {
        self.bus = bus
        self.warn = warn
    }

    /// Publishes the transitions of `guards` from now on, in place of the publisher that
    /// followed them before (a server that moved its bus to the shared database).
    public func follow(_ guards: ExecutorGuards) {
        var first = false
        guards.transitionPublisher.modify { current in
            first = current == nil
            current = self
        }
        guard first else { return }
        guards.observe { transition in
            guard !transition.adopted, let publisher = guards.transitionPublisher.value else { return }
            publisher.publish(transition, clock: guards.engineClock)
        }
    }

    public static func topic(_ transition: CircuitBreaker.Transition) -> String {
        switch transition.to {
        case "open": "dev.medic.guard.opened"
        case "half_open": "dev.medic.guard.half_opened"
        default: "dev.medic.guard.closed"
        }
    }

    func publish(_ transition: CircuitBreaker.Transition, clock: any EngineClock) {
        let now = clock.now
        let event = CloudEvent(id: UUID().uuidString.lowercased(), source: Self.source, type: Self.topic(transition), time: now,
                               subject: transition.key,
                               data: ["key": transition.key, "from": transition.from, "to": transition.to, "reason": transition.reason,
                                      "at": JournalRecord.timestamp(now)],
                               runID: "", stepNumber: 0)
        do {
            switch bus.transport {
            case .outbox(let path):
                let outbox = bus.outbox ?? StateStores.outbox(at: path)
                let stored = try OutboxEvent(event)
                guard outbox is FileOutbox else {
                    // Another store's append may wait on the network: never on the caller's thread.
                    let (bus, warn) = (bus, warn)
                    Task.detached {
                        let result = await bus.publish(stored: stored, timeout: 10)
                        if !result.succeeded { warn("the guard event \(event.type) of \(transition.key) was not published: \(result.summary)") }
                    }
                    return
                }
                try outbox.append(stored)
            case .stdout:
                try bus.standardOutput(try event.structuredJSON() + Data("\n".utf8))
            case .webhook:
                let request = ExecutionRequest(runID: "guards", stepNumber: 0, stepName: transition.key, action: "guard", purpose: .escalation,
                                               executor: .bus, topic: event.type, parameters: event.data, timeout: 10)
                let (bus, warn) = (bus, warn)
                Task.detached {
                    do {
                        let result = try await bus.execute(request)
                        if !result.succeeded { warn("the guard event \(event.type) of \(transition.key) was not published: \(result.summary)") }
                    } catch {
                        warn("the guard event \(event.type) of \(transition.key) was not published: \(error)")
                    }
                }
            }
        } catch {
            warn("the guard event \(event.type) of \(transition.key) was not published: \(error)")
        }
    }
}
