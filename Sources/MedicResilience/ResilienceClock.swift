import Foundation

/// The time every guard reads and sleeps on: seconds on a monotonic scale. Injected, so that a
/// test decides when time passes and nothing depends on the machine's speed.
public protocol ResilienceClock: Sendable {
    /// Seconds since an arbitrary start; never goes back.
    var now: Double { get }
    /// Suspends for `seconds` of this clock; throws `CancellationError` when the task is cancelled.
    func sleep(for seconds: Double) async throws
}

/// The machine's monotonic clock.
public struct SystemResilienceClock: ResilienceClock {
    private let start = ContinuousClock.now

    public init() {}

    public var now: Double {
        let elapsed = ContinuousClock.now - start
        return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    }

    public func sleep(for seconds: Double) async throws {
        guard seconds > 0 else { return try Task.checkCancellation() }
        try await Task.sleep(nanoseconds: UInt64(min(seconds, 1e9) * 1e9))
    }
}

/// A clock that moves only when told (`advance`): sleepers wake in deadline order when their
/// time comes. For tests and simulations. Time is kept in whole nanoseconds, so that steps that
/// add up to a deadline reach it exactly (no rounding of binary fractions in between).
public final class ManualResilienceClock: ResilienceClock, @unchecked Sendable {
    private struct Sleeper {
        var id: UInt64
        var deadline: Int64
        var continuation: CheckedContinuation<Void, any Error>
    }

    private let lock = NSLock()
    private var current: Int64
    private var sleepers: [Sleeper] = []
    private var nextID: UInt64 = 0

    public init(now: Double = 0) { current = Self.nanoseconds(now) }

    public var now: Double { lock.withLock { Double(current) / 1e9 } }

    private static func nanoseconds(_ seconds: Double) -> Int64 {
        Int64((min(max(seconds, 0), 9e9) * 1e9).rounded())
    }

    /// How many tasks are sleeping on this clock now.
    public var sleeping: Int { lock.withLock { sleepers.count } }

    public func sleep(for seconds: Double) async throws {
        try Task.checkCancellation()
        guard seconds > 0 else { return }
        let id: UInt64 = lock.withLock { nextID += 1; return nextID }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                lock.withLock {
                    sleepers.append(Sleeper(id: id, deadline: current.addingReportingOverflow(Self.nanoseconds(seconds)).overflow ? .max
                                           : current + Self.nanoseconds(seconds), continuation: continuation))
                }
                // Cancelled before it was registered: the handler found nothing to wake.
                if Task.isCancelled { self.cancel(id) }
            }
        } onCancel: {
            self.cancel(id)
        }
    }

    private func cancel(_ id: UInt64) {
        let removed: Sleeper? = lock.withLock {
            guard let index = sleepers.firstIndex(where: { $0.id == id }) else { return nil }
            return sleepers.remove(at: index)
        }
        removed?.continuation.resume(throwing: CancellationError())
    }

    /// Moves time forward by `seconds` and wakes every sleeper whose deadline has come, earliest first.
    public func advance(by seconds: Double) {
        let due: [Sleeper] = lock.withLock {
            let (sum, overflow) = current.addingReportingOverflow(Self.nanoseconds(seconds))
            current = overflow ? .max : sum
            let due = sleepers.filter { $0.deadline <= current }.sorted { ($0.deadline, $0.id) < ($1.deadline, $1.id) }
            sleepers.removeAll { $0.deadline <= current }
            return due
        }
        for sleeper in due { sleeper.continuation.resume() }
    }

    /// Returns once at least `count` tasks sleep on this clock (yielding meanwhile, up to a
    /// generous bound of real time); false if they never did.
    @discardableResult
    public func waitForSleepers(_ count: Int, realSeconds: Double = 30) async -> Bool {
        let giveUp = ContinuousClock.now + .milliseconds(Int64(realSeconds * 1000))
        while sleeping < count {
            if ContinuousClock.now > giveUp { return false }
            try? await Task.sleep(nanoseconds: 200_000)
        }
        return true
    }
}
