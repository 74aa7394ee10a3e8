import Foundation

/// Bounds how many calls run at once: up to `maxConcurrent` run, up to `maxQueued` more wait in
/// order of arrival, and any call beyond is refused at once (`ResilienceError.bulkheadFull`).
/// A waiting call that is cancelled leaves the queue.
public final class Bulkhead: @unchecked Sendable {
    public struct Configuration: Sendable, Equatable {
        public var maxConcurrent: Int
        public var maxQueued: Int

        public init(maxConcurrent: Int = 10, maxQueued: Int = 20) {
            self.maxConcurrent = max(1, maxConcurrent)
            self.maxQueued = max(0, maxQueued)
        }
    }

    private struct Waiter {
        var id: UInt64
        var continuation: CheckedContinuation<Void, any Error>
    }

    public let key: String
    private let lock = NSLock()
    private var configuration: Configuration
    private var running = 0
    private var queue: [Waiter] = []
    private var nextID: UInt64 = 0
    private var rejected = 0

    public init(key: String, configuration: Configuration = Configuration()) {
        self.key = key
        self.configuration = configuration
    }

    public struct Snapshot: Sendable, Equatable {
        public var running: Int
        public var queued: Int
        public var maxConcurrent: Int
        public var maxQueued: Int
        public var rejected: Int
        /// `running / maxConcurrent`.
        public var utilisation: Double { Double(running) / Double(max(1, maxConcurrent)) }
    }

    public var snapshot: Snapshot {
        lock.withLock {
            Snapshot(running: running, queued: queue.count, maxConcurrent: configuration.maxConcurrent,
                     maxQueued: configuration.maxQueued, rejected: rejected)
        }
    }

    /// New bounds: a larger `maxConcurrent` lets waiting calls in at once; a smaller one lets
    /// the calls running finish.
    public func reconfigure(_ configuration: Configuration) {
        let admitted: [Waiter] = lock.withLock {
            self.configuration = configuration
            return admitWaiting()
        }
        admitted.forEach { $0.continuation.resume() }
    }

    /// Waits for a place (or throws `bulkheadFull`, or `CancellationError`); pair with `leave()`.
    public func enter() async throws {
        try Task.checkCancellation()
        let id: UInt64? = lock.withLock {
            if running < configuration.maxConcurrent && queue.isEmpty {
                running += 1
                return nil
            }
            nextID += 1
            return nextID
        }
        guard let id else { return }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let refusal: ResilienceError? = lock.withLock {
                    // Admitted meanwhile? (a place freed between the check above and here)
                    if running < configuration.maxConcurrent && queue.isEmpty {
                        running += 1
                        continuation.resume()
                        return nil
                    }
                    guard queue.count < configuration.maxQueued else {
                        rejected += 1
                        return .bulkheadFull(key: key, running: running, queued: queue.count)
                    }
                    queue.append(Waiter(id: id, continuation: continuation))
                    return nil
                }
                if let refusal { continuation.resume(throwing: refusal) }
                if Task.isCancelled { self.cancelWaiter(id) }
            }
        } onCancel: {
            self.cancelWaiter(id)
        }
    }

    /// Gives a place back; the first waiting call takes it.
    public func leave() {
        let admitted: [Waiter] = lock.withLock {
            running = max(0, running - 1)
            return admitWaiting()
        }
        admitted.forEach { $0.continuation.resume() }
    }

    /// Runs `operation` in a place.
    public func run<T: Sendable>(_ operation: () async throws -> T) async throws -> T {
        try await enter()
        defer { leave() }
        return try await operation()
    }

    /// Under `lock`: the waiters that now have a place.
    private func admitWaiting() -> [Waiter] {
        var admitted: [Waiter] = []
        while running < configuration.maxConcurrent, !queue.isEmpty {
            admitted.append(queue.removeFirst())
            running += 1
        }
        return admitted
    }

    private func cancelWaiter(_ id: UInt64) {
        let removed: Waiter? = lock.withLock {
            guard let index = queue.firstIndex(where: { $0.id == id }) else { return nil }
            return queue.remove(at: index)
        }
        removed?.continuation.resume(throwing: CancellationError())
    }
}
