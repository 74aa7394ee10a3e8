import Foundation
import MedicEngine
import MedicModel
import MedicResilience

/// Carries notifications to their channels with the resilience of the engine's calls: each
/// send goes through the engine's executors (`http` for webhook, Slack and PagerDuty, `shell`
/// for email, `bus` for the bus), each attempt bounded by the channel's timeout, and through the
/// guard `channel:<method>` (docs/resilience.md): a failed attempt is tried again within the
/// send (every channel carries the notification's dedup key, so a receiver drops a repeat), and
/// after `breakerFailures` failed sends in a row the channel's breaker is open and the channel
/// not called for `breakerCooldown` seconds; then a limited number of trial sends go through
/// (one at a time by default) and the others are refused until a trial has closed it. One
/// channel that fails or hangs never holds back another.
public final class ChannelDelivery: Sendable {
    public struct Settings: Sendable, Equatable {
        /// Attempts of one send and the waits between them (exponential from `initial`, at most
        /// `max`, jittered).
        public var retry = MedicModel.RetryPolicy(attempts: 3, backoff: .exponential, initial: Interval(seconds: 1), max: Interval(seconds: 5))
        /// Failed sends in a row that open a channel's breaker.
        public var breakerFailures = 3
        /// Seconds an open breaker stays open.
        public var breakerCooldown: Double = 60

        public init() {}

        /// These settings as the limits of the channel guards.
        var limits: GuardLimits {
            GuardLimits(failureThreshold: breakerFailures, resetTimeout: breakerCooldown, retryAttempts: max(1, retry.attempts),
                        retryInitial: retry.initial.seconds, retryMax: retry.max?.seconds ?? 5)
        }
    }

    private let executors: ExecutorSet
    private let guards: ExecutorGuards
    /// Per method: the channel's timeout per attempt, when the configuration sets one.
    private let timeouts: [String: Double]

    /// `guards`: the engine's (`EngineEnvironment.guards`), whose `channel` limits apply;
    /// without, guards of the delivery's own with the limits of `settings`. The executors are
    /// called bare (`ExecutorSet.unguarded`): the channel's guard is the one that counts.
    public init(executors: ExecutorSet, settings: Settings = Settings(), clock: any EngineClock, timeouts: [String: Double] = [:],
                guards: ExecutorGuards? = nil) {
        self.executors = executors.unguarded
        self.guards = guards ?? ExecutorGuards(settings: ResilienceSettings(kinds: [.channel: settings.limits]), clock: clock)
        self.timeouts = timeouts
    }

    /// The guard's key of a channel.
    public static func key(method: String) -> String { "channel:" + method }

    /// Sends `notification` through the channel of `method`; throws when the breaker refuses it,
    /// or when every attempt failed (with the last attempt's reason).
    public func send(_ notification: Notification, method: String, channel: NotificationChannel) async throws {
        let key = Self.key(method: method)
        let timeout = timeouts[method] ?? channel.defaultTimeout
        let attempts = AttemptCount()
        let executors = executors
        do {
            try await guards.call(key) {
                try await channel.sendOnce(notification, through: executors, timeout: timeout, attempt: attempts.next())
            }
        } catch let refusal as ResilienceError {
            switch refusal {
            case .circuitOpen, .bulkheadFull:
                throw NotificationChannel.Failure(description: "channel '\(method)' is open: \(guards.explain(refusal))")
            case .retriesExhausted(_, let made, let last), .deadlineExceeded(_, let made, let last):
                throw failure(method, key: key, attempts: made, last: last)
            case .timedOut:
                throw failure(method, key: key, attempts: attempts.made, last: "\(refusal)")
            }
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            throw failure(method, key: key, attempts: attempts.made, last: "\(error)")
        }
    }

    private func failure(_ method: String, key: String, attempts: Int, last: String) -> NotificationChannel.Failure {
        let breaker = guards.guards.guarding(key).breaker
        let open = breaker.currentState.name == "open"
        return NotificationChannel.Failure(description: "channel '\(method)': \(attempts) attempt(s) failed, the last: \(last)"
            + (open ? "; the channel is open for \(Interval.trim(breaker.currentConfiguration.resetTimeout))s" : ""))
    }
}

/// Counts a send's attempts (each attempt's request carries its number).
final class AttemptCount: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    func next() -> Int { lock.withLock { count += 1; return count } }
    var made: Int { lock.withLock { count } }
}

/// `Notification` under a name of its own, for callers that also see Foundation's.
public typealias IncidentNotification = Notification
