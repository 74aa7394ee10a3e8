import Foundation

/// Time as the engine sees it, injected so that tests of `wait_time: 5m`, retry backoff or a
/// verification window run instantly (ARCHITECTURE.md: "Time is injected").
public protocol EngineClock: Sendable {
    var now: Date { get }
    /// Waits `seconds` (never less than zero); throws `CancellationError` when the task is cancelled.
    func sleep(seconds: Double) async throws
}

/// The wall clock, and real waiting.
public struct SystemClock: EngineClock {
    public init() {}
    public var now: Date { Date() }
    public func sleep(seconds: Double) async throws {
        guard seconds > 0 else { return }
        try await Task.sleep(nanoseconds: UInt64(min(seconds, 1e9) * 1e9))
    }
}
