import Foundation
import MedicModel
import MedicResilience

/// A metric source whose every query goes through the engine's guard `key`
/// (`metrics:<url>` for Prometheus, `metrics:<binding name>` for a command or a file): a query
/// that fails is tried again as the guard's retry says (a query changes nothing), and a source
/// that keeps failing is not asked while its breaker is open. A series the source does not
/// have is an answer, not a failure.
public struct GuardedMetricSource: MetricSource {
    public let inner: any MetricSource
    public let key: String
    public let guards: ExecutorGuards

    public init(_ inner: any MetricSource, key: String, guards: ExecutorGuards) {
        self.inner = inner
        self.key = key
        self.guards = guards
    }

    public func value(of selector: MetricSelector) async throws -> MetricValue? {
        let inner = inner
        do {
            let answer: Result<MetricValue?, MetricError> = try await guards.call(key) {
                do {
                    return .success(try await inner.value(of: selector))
                } catch let missing as MetricError where missing.isMissing {
                    return .failure(missing)
                }
            }
            return try answer.get()
        } catch let refusal as ResilienceError {
            switch refusal {
            case .retriesExhausted(_, _, let last), .deadlineExceeded(_, _, let last):
                throw MetricError("\(last) (the guard \(key) tried it \(guards.settings.limits(for: key).retryAttempts ?? 1) times)")
            default:
                throw MetricError(guards.explain(refusal))
            }
        }
    }
}
