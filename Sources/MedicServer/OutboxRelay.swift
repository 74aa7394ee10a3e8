import Foundation
import Logging
import MedicEngine
import ServiceLifecycle

/// An outbox that several dispatchers may drain at once, each taking events no other holds
/// (the shared database's, `PostgresOutbox`): `publish` gets a batch in order; the batch is
/// marked delivered only when `publish` returns, and stays waiting when it throws.
public protocol OutboxDispatching: Sendable {
    func dispatch(limit: Int, _ publish: @Sendable ([OutboxEvent]) async throws -> Void) async throws -> Int
}

/// Delivers the shared outbox's events to a bus (`medic serve --relay webhook:URL`): every
/// server of the database runs one, and each event is delivered by one of them at a time, at
/// least once (a server that dies mid-batch leaves it for another; a consumer drops repeats by
/// the CloudEvent `id`). An event the bus refuses stops its batch, which is tried again after
/// `retryAfter` seconds, in order.
public struct OutboxRelay: Service {
    let outbox: any OutboxDispatching
    let bus: BusExecutor
    let logger: Logger
    /// Seconds between two looks when nothing was waiting.
    let interval: Double
    let retryAfter: Double
    /// Seconds one delivery may take.
    let timeout: Double

    public init(outbox: any OutboxDispatching, bus: BusExecutor, logger: Logger, interval: Double = 0.2, retryAfter: Double = 2, timeout: Double = 10) {
        self.outbox = outbox
        self.bus = bus
        self.logger = logger
        self.interval = interval
        self.retryAfter = retryAfter
        self.timeout = timeout
    }

    struct Refused: Error, CustomStringConvertible {
        var description: String
    }

    public func run() async throws {
        try? await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                let pause: Double
                do {
                    let delivered = try await self.deliverOnce()
                    pause = delivered > 0 ? 0 : self.interval
                } catch {
                    self.logger.warning("medic serve: relay: the outbox's events wait: \(error)")
                    pause = self.retryAfter
                }
                if pause > 0 { try await Task.sleep(nanoseconds: UInt64(pause * 1e9)) }
            }
        }
    }

    /// One batch delivered: how many events.
    func deliverOnce() async throws -> Int {
        let (bus, timeout) = (bus, timeout)
        return try await outbox.dispatch(limit: 100) { events in
            for event in events {
                let result = await bus.publish(stored: event, timeout: timeout)
                guard result.succeeded else { throw Refused(description: "event \(event.id): \(result.summary)") }
            }
        }
    }
}
