import Foundation
import MedicEngine
import MedicModel

/// Carries notifications to their channels with the resilience of the engine's steps: each
/// send goes through the engine's executors (`http` for webhook, Slack and PagerDuty, `shell`
/// for email, `bus` for the bus), each attempt bounded by the channel's timeout, a failed
/// attempt retried after the waits of the engine's `RetrySchedule`, and each channel behind a
/// breaker of its own: after `breakerFailures` sends in a row failed (every attempt of each),
/// the channel is open and not called for `breakerCooldown` seconds, then one send tries it
/// again (a success closes it). One channel that fails or hangs never holds back another.
public final class ChannelDelivery: @unchecked Sendable {
    public struct Settings: Sendable, Equatable {
        /// Attempts of one send and the waits between them.
        public var retry = RetryPolicy(attempts: 3, backoff: .exponential, initial: Interval(seconds: 1), max: Interval(seconds: 5))
        /// Failed sends in a row that open a channel's breaker.
        public var breakerFailures = 3
        /// Seconds an open breaker stays open.
        public var breakerCooldown: Double = 60

        public init() {}
    }

    private let executors: ExecutorSet
    private let settings: Settings
    private let clock: any EngineClock
    /// Per method: the channel's timeout per attempt, when the configuration sets one.
    private let timeouts: [String: Double]
    // Touched only under `lock`: this is what makes the class Sendable.
    private let lock = NSLock()
    private var breakers: [String: Breaker] = [:]

    struct Breaker {
        var failuresInARow = 0
        var openUntil: Date?
    }

    public init(executors: ExecutorSet, settings: Settings = Settings(), clock: any EngineClock, timeouts: [String: Double] = [:]) {
        self.executors = executors
        self.settings = settings
        self.clock = clock
        self.timeouts = timeouts
    }

    /// Sends `notification` through the channel of `method`; throws when the breaker is open, or
    /// when every attempt failed (with the last attempt's reason).
    public func send(_ notification: Notification, method: String, channel: NotificationChannel) async throws {
        let now = clock.now
        let refusal: String? = lock.withLock {
            guard let until = breakers[method]?.openUntil, until > now else { return nil }
            return "channel '\(method)' is open after \(settings.breakerFailures) failed sends in a row: not called until \(JournalRecord.timestamp(until))"
        }
        if let refusal { throw NotificationChannel.Failure(description: refusal) }
        let timeout = timeouts[method] ?? channel.defaultTimeout
        let schedule = RetrySchedule(policy: settings.retry, seed: 0)
        var failure = "not sent"
        for attempt in 1...max(1, settings.retry.attempts) {
            if attempt > 1 { try await clock.sleep(seconds: schedule.delay(afterAttempt: attempt - 1, step: notification.level)) }
            do {
                try await channel.sendOnce(notification, through: executors, timeout: timeout, attempt: attempt)
                lock.withLock { breakers[method] = nil }
                return
            } catch {
                failure = "\(error)"
                try Task.checkCancellation()
            }
        }
        let opened: Bool = lock.withLock {
            var breaker = breakers[method] ?? Breaker()
            breaker.failuresInARow += 1
            let opens = breaker.failuresInARow >= settings.breakerFailures
            if opens { breaker.openUntil = clock.now.addingTimeInterval(settings.breakerCooldown) }
            breakers[method] = breaker
            return opens
        }
        let attempts = max(1, settings.retry.attempts)
        throw NotificationChannel.Failure(description: "channel '\(method)': \(attempts) attempt(s) failed, the last: \(failure)"
            + (opened ? "; the channel is open for \(Interval.trim(settings.breakerCooldown))s" : ""))
    }
}
