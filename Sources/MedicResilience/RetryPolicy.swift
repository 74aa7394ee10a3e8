import Foundation

/// How a failed call is tried again: how many times, how long to wait between attempts, which
/// errors are worth another attempt, and an overall deadline.
public struct RetryPolicy: Sendable {
    public enum Backoff: Sendable, Equatable {
        /// The same wait each time.
        case constant(Double)
        /// `initial`, `initial + step`, `initial + 2 step`, ...
        case linear(initial: Double, step: Double)
        /// `initial`, `initial × multiplier`, `initial × multiplier²`, ...
        case exponential(initial: Double, multiplier: Double)
    }

    public enum Jitter: String, Sendable, Equatable {
        /// The computed wait, exactly.
        case none
        /// Anywhere between 0 and the computed wait (spreads a crowd of retries the most).
        case full
        /// Half the computed wait, plus anywhere up to the other half.
        case equal
    }

    /// Attempts in all, the first included (1: no retry).
    public var maxAttempts: Int
    public var backoff: Backoff
    /// No wait is longer than this.
    public var maxDelay: Double
    public var jitter: Jitter
    /// Seconds from the first attempt after which no attempt starts (nil: none).
    public var deadline: Double?
    /// Whether an error is worth another attempt (a refusal that will not change, such as bad
    /// input, is not). By default every error but cancellation.
    public var retryable: @Sendable (any Error) -> Bool

    public init(maxAttempts: Int = 3, backoff: Backoff = .exponential(initial: 0.2, multiplier: 2), maxDelay: Double = 30,
                jitter: Jitter = .full, deadline: Double? = nil,
                retryable: @escaping @Sendable (any Error) -> Bool = { !($0 is CancellationError) }) {
        self.maxAttempts = max(1, maxAttempts)
        self.backoff = backoff
        self.maxDelay = max(0, maxDelay)
        self.jitter = jitter
        self.deadline = deadline
        self.retryable = retryable
    }

    /// No retry.
    public static let never = RetryPolicy(maxAttempts: 1)

    /// The wait after failed attempt `attempt` (1-based), before jitter.
    public func baseDelay(afterAttempt attempt: Int) -> Double {
        let n = Double(max(0, attempt - 1))
        let raw: Double
        switch backoff {
        case .constant(let delay): raw = delay
        case .linear(let initial, let step): raw = initial + step * n
        case .exponential(let initial, let multiplier): raw = initial * pow(multiplier, n)
        }
        return min(max(0, raw.isFinite ? raw : maxDelay), maxDelay)
    }

    /// The wait after failed attempt `attempt`, jittered with `random`.
    public func delay(afterAttempt attempt: Int, random: inout some RandomNumberGenerator) -> Double {
        let base = baseDelay(afterAttempt: attempt)
        guard base > 0 else { return 0 }
        switch jitter {
        case .none: return base
        case .full: return Double.random(in: 0...base, using: &random)
        case .equal: return base / 2 + Double.random(in: 0...(base / 2), using: &random)
        }
    }
}

/// A small, fast, seedable generator (SplitMix64): jitter that a test can repeat.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Runs `operation`, and gives up waiting for it after `seconds` of `clock`: throws
/// `ResilienceError.timedOut` at once and cancels it (an operation that ignores cancellation
/// goes on alone, its result dropped). Cancelling the caller cancels the operation.
///
/// `abandoned`, when given, is handed the task of an operation given up at its timeout, so that
/// the caller can keep what it holds for it (a bulkhead's place) until it really ends.
public func withTimeout<T: Sendable>(_ seconds: Double, key: String, clock: any ResilienceClock,
                                     abandoned: (@Sendable (Task<Void, Never>) -> Void)? = nil,
                                     _ operation: @escaping @Sendable () async throws -> T) async throws -> T {
    let outcome = OnceResult<T>()
    let work = Task { _ = outcome.finish(await Result(awaiting: { try await operation() })) }
    let timer = Task {
        do {
            try await clock.sleep(for: seconds)
            if outcome.finish(.failure(ResilienceError.timedOut(key: key, seconds: seconds))) { abandoned?(work) }
        } catch {}
    }
    defer {
        work.cancel()
        timer.cancel()
    }
    return try await withTaskCancellationHandler {
        try await outcome.value()
    } onCancel: {
        work.cancel()
        outcome.finish(.failure(CancellationError()))
    }
}

extension Result where Failure == any Error {
    init(awaiting body: () async throws -> Success) async {
        do { self = .success(try await body()) } catch { self = .failure(error) }
    }
}

/// A result set once, by the first of several racers; awaited by one reader.
final class OnceResult<T: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var result: Result<T, any Error>?
    private var waiter: CheckedContinuation<T, any Error>?

    /// Sets the result unless one was set: whether this call set it.
    @discardableResult
    func finish(_ result: Result<T, any Error>) -> Bool {
        let (first, resume): (Bool, CheckedContinuation<T, any Error>?) = lock.withLock {
            guard self.result == nil else { return (false, nil) }
            self.result = result
            defer { waiter = nil }
            return (true, waiter)
        }
        resume?.resume(with: result)
        return first
    }

    func value() async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            let ready: Result<T, any Error>? = lock.withLock {
                if let result { return result }
                waiter = continuation
                return nil
            }
            if let ready { continuation.resume(with: ready) }
        }
    }
}
