import Foundation
import Histogram

/// What one guard applies, each part optional in effect (a bulkhead of many places, a breaker
/// that never opens, `RetryPolicy.never`, no timeout).
public struct GuardConfiguration: Sendable {
    public var bulkhead: Bulkhead.Configuration
    public var breaker: CircuitBreaker.Configuration
    public var retry: RetryPolicy
    /// Seconds one attempt may take (nil: no limit).
    public var timeout: Double?

    public init(bulkhead: Bulkhead.Configuration = Bulkhead.Configuration(), breaker: CircuitBreaker.Configuration = CircuitBreaker.Configuration(),
                retry: RetryPolicy = RetryPolicy(), timeout: Double? = 30) {
        self.bulkhead = bulkhead
        self.breaker = breaker
        self.retry = retry
        self.timeout = timeout
    }
}

/// The tasks of a call's attempts given up at their timeout.
final class AbandonedAttempts: @unchecked Sendable {
    private let lock = NSLock()
    private var running: [Task<Void, Never>] = []
    func add(_ task: Task<Void, Never>) { lock.withLock { running.append(task) } }
    var tasks: [Task<Void, Never>] { lock.withLock { running } }
}

/// One destination's guard: a call goes bulkhead → breaker → retry → (timeout) → the call.
///
/// The bulkhead holds one place for the whole call, retries included; the breaker gives one
/// permit for the whole call and counts its final outcome (a call that succeeded on its third
/// attempt is a success; one whose retries ran out, one failure); each attempt has the timeout;
/// waits between attempts are the retry policy's, on the injected clock, and no attempt starts
/// after the policy's deadline. A refusal by the bulkhead or the breaker is not retried.
///
/// A call cancelled by its caller counts for the breaker as neither success nor failure. An
/// attempt given up at its timeout keeps the call's bulkhead place until it really ends (an
/// operation that ignores cancellation goes on); a retry after a timeout runs beside it, so an
/// operation that must never overlap itself should not count `ResilienceError.timedOut` as
/// retryable.
public final class ResilienceGuard: @unchecked Sendable {
    public let key: String
    public let bulkhead: Bulkhead
    public let breaker: CircuitBreaker
    public let clock: any ResilienceClock
    private let lock = NSLock()
    private var retry: RetryPolicy
    private var timeout: Double?
    private var random: SplitMix64
    private var counts = Counts()
    private var latency: Histogram<UInt64>

    struct Counts {
        var calls = 0, successes = 0, failures = 0, attempts = 0, retries = 0, timeouts = 0, cancelled = 0
        var rejectedByBulkhead = 0, rejectedByBreaker = 0
    }

    public init(key: String, configuration: GuardConfiguration = GuardConfiguration(), clock: any ResilienceClock, seed: UInt64 = 0x5EED) {
        self.key = key
        self.clock = clock
        bulkhead = Bulkhead(key: key, configuration: configuration.bulkhead)
        breaker = CircuitBreaker(key: key, configuration: configuration.breaker, clock: clock)
        retry = configuration.retry
        timeout = configuration.timeout
        random = SplitMix64(seed: seed)
        // Microseconds, up to an hour, three significant digits: a few tens of KB, whatever the load.
        latency = Histogram(highestTrackableValue: 3_600_000_000, numberOfSignificantValueDigits: .three)
    }

    /// New limits for the next calls; the breaker's state and the counts are kept.
    public func reconfigure(_ configuration: GuardConfiguration) {
        bulkhead.reconfigure(configuration.bulkhead)
        breaker.reconfigure(configuration.breaker)
        lock.withLock {
            retry = configuration.retry
            timeout = configuration.timeout
        }
    }

    /// Calls `operation` through the guard.
    public func call<T: Sendable>(_ operation: @escaping @Sendable () async throws -> T) async throws -> T {
        lock.withLock { counts.calls += 1 }
        do {
            try await bulkhead.enter()
        } catch let refusal as ResilienceError {
            lock.withLock { counts.rejectedByBulkhead += 1 }
            throw refusal
        }
        // The call's place is given back when the call ends, or, if an attempt was given up at its
        // timeout and is still running (an operation that ignores cancellation), when that ends.
        let abandoned = AbandonedAttempts()
        defer {
            let running = abandoned.tasks
            if running.isEmpty {
                bulkhead.leave()
            } else {
                Task { [bulkhead] in
                    for task in running { await task.value }
                    bulkhead.leave()
                }
            }
        }
        guard let permit = breaker.permit() else {
            lock.withLock { counts.rejectedByBreaker += 1 }
            // Refused a moment ago; `refusal` is nil only if the breaker let trials in since.
            let refusal = breaker.refusal ?? (state: breaker.currentState.name, reason: "", retryIn: 0)
            throw ResilienceError.circuitOpen(key: key, state: refusal.state, reason: refusal.reason, retryIn: refusal.retryIn)
        }
        let started = clock.now
        let (policy, limit) = lock.withLock { (retry, timeout) }
        var attempt = 0
        while true {
            attempt += 1
            lock.withLock {
                counts.attempts += 1
                if attempt > 1 { counts.retries += 1 }
            }
            var attemptLimit = limit
            if let deadline = policy.deadline {
                let left = deadline - (clock.now - started)
                // No attempt starts once the deadline has passed (a clock that overslept a wait).
                if left <= 0 && attempt > 1 {
                    finish(permit, success: false, started: started)
                    throw ResilienceError.deadlineExceeded(key: key, attempts: attempt - 1, last: "no time left for another attempt")
                }
                attemptLimit = min(attemptLimit ?? left, left)
            }
            do {
                let value: T
                if let attemptLimit {
                    value = try await withTimeout(max(attemptLimit, 0), key: key, clock: clock, abandoned: { abandoned.add($0) }, operation)
                } else {
                    value = try await operation()
                }
                finish(permit, success: true, started: started)
                return value
            } catch {
                if case ResilienceError.timedOut = error { lock.withLock { counts.timeouts += 1 } }
                if error is CancellationError || Task.isCancelled {
                    // Cancelled by the caller: not the destination's failure. The breaker counts
                    // nothing and a trial's place is freed.
                    breaker.release(permit)
                    lock.withLock { counts.cancelled += 1 }
                    throw error
                }
                guard policy.retryable(error), attempt < policy.maxAttempts else {
                    finish(permit, success: false, started: started)
                    if attempt >= policy.maxAttempts && policy.maxAttempts > 1 && policy.retryable(error) {
                        throw ResilienceError.retriesExhausted(key: key, attempts: attempt, last: "\(error)")
                    }
                    throw error
                }
                let wait = lock.withLock { policy.delay(afterAttempt: attempt, random: &random) }
                if let deadline = policy.deadline, clock.now - started + wait >= deadline {
                    finish(permit, success: false, started: started)
                    throw ResilienceError.deadlineExceeded(key: key, attempts: attempt, last: "\(error)")
                }
                do {
                    try await clock.sleep(for: wait)
                } catch {
                    breaker.release(permit)
                    lock.withLock { counts.cancelled += 1 }
                    throw error
                }
            }
        }
    }

    private func finish(_ permit: CircuitBreaker.Permit, success: Bool, started: Double) {
        breaker.record(permit, success: success)
        let micros = UInt64(max(0, (clock.now - started) * 1_000_000).rounded())
        lock.withLock {
            if success { counts.successes += 1 } else { counts.failures += 1 }
            _ = latency.record(min(micros, 3_600_000_000))
        }
    }

    /// The guard's figures now.
    public struct Snapshot: Sendable, Equatable {
        public var key: String
        public var breaker: String
        public var bulkhead: Bulkhead.Snapshot
        public var calls: Int, successes: Int, failures: Int, attempts: Int, retries: Int, timeouts: Int
        /// Calls cancelled by their caller: counted as neither success nor failure.
        public var cancelled: Int
        public var rejectedByBulkhead: Int, rejectedByBreaker: Int
        /// Call latency (the whole call, retries included) in seconds: p50, p95, p99, max.
        public var p50: Double, p95: Double, p99: Double, max: Double
        /// The breaker's limits in force: failures in a row that open it, seconds it stays open.
        public var failureThreshold: Int = 0, resetTimeout: Double = 0

        /// Successes over finished calls (1 when none finished).
        public var successRate: Double { successes + failures == 0 ? 1 : Double(successes) / Double(successes + failures) }
        /// Retries over attempts.
        public var retryRate: Double { attempts == 0 ? 0 : Double(retries) / Double(attempts) }
    }

    public var snapshot: Snapshot {
        let state = breaker.currentState.name
        let places = bulkhead.snapshot
        let limits = breaker.currentConfiguration
        var snapshot: Snapshot = lock.withLock {
            let seconds = { (value: UInt64) in Double(value) / 1_000_000 }
            let empty = latency.totalCount == 0
            return Snapshot(key: key, breaker: state, bulkhead: places, calls: counts.calls, successes: counts.successes,
                            failures: counts.failures, attempts: counts.attempts, retries: counts.retries, timeouts: counts.timeouts,
                            cancelled: counts.cancelled,
                            rejectedByBulkhead: counts.rejectedByBulkhead, rejectedByBreaker: counts.rejectedByBreaker,
                            p50: empty ? 0 : seconds(latency.valueAtPercentile(50)), p95: empty ? 0 : seconds(latency.valueAtPercentile(95)),
                            p99: empty ? 0 : seconds(latency.valueAtPercentile(99)), max: empty ? 0 : seconds(latency.max))
        }
        (snapshot.failureThreshold, snapshot.resetTimeout) = (limits.failureThreshold, limits.resetTimeout)
        return snapshot
    }
}

/// Guards by key (an executor and its destination: `http:api.internal:443`, `shell:web-01`),
/// made on first use with the configuration given for their key, reconfigured in place.
public final class ResilienceGuards: @unchecked Sendable {
    public let clock: any ResilienceClock
    private let lock = NSLock()
    private var guards: [String: ResilienceGuard] = [:]
    private var configuration: @Sendable (String) -> GuardConfiguration
    private var observers: [@Sendable (CircuitBreaker.Transition) -> Void] = []

    public init(clock: any ResilienceClock, configuration: @escaping @Sendable (String) -> GuardConfiguration = { _ in GuardConfiguration() }) {
        self.clock = clock
        self.configuration = configuration
    }

    /// Told of every breaker's changes of state, for the guards made before and after.
    public func observe(_ observer: @escaping @Sendable (CircuitBreaker.Transition) -> Void) {
        let existing: [ResilienceGuard] = lock.withLock {
            observers.append(observer)
            return Array(guards.values)
        }
        for guarded in existing { guarded.breaker.observe(observer) }
    }

    public func guarding(_ key: String) -> ResilienceGuard {
        var made: ResilienceGuard?
        let (guarded, watchers): (ResilienceGuard, [@Sendable (CircuitBreaker.Transition) -> Void]) = lock.withLock {
            if let existing = guards[key] { return (existing, []) }
            let fresh = ResilienceGuard(key: key, configuration: configuration(key), clock: clock,
                                        seed: Self.stableSeed(key))
            guards[key] = fresh
            made = fresh
            return (fresh, observers)
        }
        if let made { for watch in watchers { made.breaker.observe(watch) } }
        return guarded
    }

    /// FNV-1a of the key: the same jitter for the same key in every process (`hashValue` is
    /// seeded per process).
    static func stableSeed(_ key: String) -> UInt64 {
        key.utf8.reduce(0xCBF2_9CE4_8422_2325 as UInt64) { ($0 ^ UInt64($1)) &* 0x0100_0000_01B3 }
    }

    /// Calls `operation` through the guard of `key`.
    public func call<T: Sendable>(_ key: String, _ operation: @escaping @Sendable () async throws -> T) async throws -> T {
        try await guarding(key).call(operation)
    }

    /// New configurations, applied at once to every guard made and to those made later.
    public func reconfigure(_ configuration: @escaping @Sendable (String) -> GuardConfiguration) {
        let existing: [ResilienceGuard] = lock.withLock {
            self.configuration = configuration
            return Array(guards.values)
        }
        for guarded in existing { guarded.reconfigure(configuration(guarded.key)) }
    }

    public var snapshots: [ResilienceGuard.Snapshot] {
        lock.withLock { Array(guards.values) }.map(\.snapshot).sorted { $0.key < $1.key }
    }
}
