import Foundation
import MedicEngine

/// A clock that only moves when something sleeps on it: a sleep returns at once, having moved
/// the time forward by its length. Tests read `slept` to see every wait the engine made.
public final class ManualClock: EngineClock, @unchecked Sendable {
    private let lock = NSLock()
    private var current: Date
    private var waits: [Double] = []

    public init(start: Date = Date(timeIntervalSince1970: 1_800_000_000)) { current = start }

    public var now: Date { lock.withLock { current } }

    /// Every wait asked for, in order.
    public var slept: [Double] { lock.withLock { waits } }

    public func sleep(seconds: Double) async throws {
        try Task.checkCancellation()
        lock.withLock {
            waits.append(seconds)
            current += max(0, seconds)
        }
    }

    /// Moves time forward without a sleep (something else took this long).
    public func advance(seconds: Double) {
        lock.withLock { current += max(0, seconds) }
    }
}
