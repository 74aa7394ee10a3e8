import Foundation

/// Why a guarded call did not reach what it calls, or did not come back.
public enum ResilienceError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The bulkhead's places and queue were full.
    case bulkheadFull(key: String, running: Int, queued: Int)
    /// The breaker is open (or half-open with its trials taken).
    case circuitOpen(key: String, state: String)
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
        case let .circuitOpen(key, state):
            return "\(key): refused, the circuit breaker is \(state)"
        case let .timedOut(key, seconds):
            return "\(key): no answer within \(seconds) s"
        case let .retriesExhausted(key, attempts, last):
            return "\(key): failed \(attempts) times; last: \(last)"
        case let .deadlineExceeded(key, attempts, last):
            return "\(key): no success before the deadline after \(attempts) attempts; last: \(last)"
        }
    }
}
