import Foundation

/// Why a guarded call did not reach what it calls, or did not come back.
public enum ResilienceError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The bulkhead's places and queue were full.
    case bulkheadFull(key: String, running: Int, queued: Int)
    /// The breaker is open (or half-open with its trials taken): why it is, and the seconds
    /// until it lets trial calls through (nil: opened by hand, until reset; 0: when a trial
    /// in flight ends).
    case circuitOpen(key: String, state: String, reason: String, retryIn: Double?)
    /// One attempt took longer than its timeout.
    case timedOut(key: String, seconds: Double)
    /// The retries ran out (attempts made, the last error said).
    case retriesExhausted(key: String, attempts: Int, last: String)
    /// The overall deadline passed before a success (attempts made, the last error said).
    case deadlineExceeded(key: String, attempts: Int, last: String)

    public var description: String {
        switch self {
        case let .bulkheadFull(key, running, queued):
            return "\(key): refused, \(running) calls running and \(queued) waiting (the bulkhead is full)"
        case let .circuitOpen(key, state, reason, retryIn):
            let why = reason.isEmpty ? "" : " (\(reason))"
            let when: String
            switch retryIn {
            case nil: when = "it stays open until reset by hand"
            case let seconds? where seconds <= 0: when = "the next call is tried when a trial in flight ends"
            case let seconds?: when = "trial calls again in \(Self.seconds(seconds)) s"
            }
            return "\(key): refused, the circuit breaker is \(state)\(why); \(when)"
        case let .timedOut(key, seconds):
            return "\(key): no answer within \(seconds) s"
        case let .retriesExhausted(key, attempts, last):
            return "\(key): failed \(attempts) times; last: \(last)"
        case let .deadlineExceeded(key, attempts, last):
            return "\(key): no success before the deadline after \(attempts) attempts; last: \(last)"
        }
    }

    /// Whole seconds, rounded up (a refusal never promises a trial sooner than it comes).
    static func seconds(_ value: Double) -> String {
        value.isFinite ? String(Int(min(value.rounded(.up), 1e12))) : "∞"
    }
}
