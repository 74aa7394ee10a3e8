import Foundation
import MedicModel

/// One reading of a metric: a number, or text for metrics that name a state (`degraded`).
public enum MetricValue: Sendable, Hashable, Codable, CustomStringConvertible {
    case number(Double)
    case text(String)

    /// `72.5` (at most four decimals: a reading, not a proof), or text in quotes: `"degraded"`.
    public var description: String {
        switch self {
        case .number(let v): Interval.trim(v == v.rounded() || !v.isFinite ? v : (v * 10_000).rounded() / 10_000)
        case .text(let t): "\"\(t)\""
        }
    }
}

/// Where metric values come from: built-in host metrics, a command, the Prometheus HTTP API, a
/// file, or values set by hand in tests (ARCHITECTURE.md, "Decisions already taken").
public protocol MetricSource: Sendable {
    /// The current value of the series the selector picks. Returns nil when the source has no
    /// such series; throws `MetricError` when it cannot tell (command failed, HTTP error,
    /// output that is not a value).
    func value(of selector: MetricSelector) async throws -> MetricValue?
}

/// Why a metric could not be read.
public struct MetricError: Error, Sendable, Hashable, CustomStringConvertible {
    public var description: String
    /// True when nothing has the series (no source serves the name, or the one that does has no
    /// such series), as opposed to a source that failed: the evaluator may then read a bare word
    /// as a symbol (`state == degraded`).
    public var isMissing: Bool

    public init(_ description: String, isMissing: Bool = false) {
        self.description = description
        self.isMissing = isMissing
    }
}

/// Runs blocking work (a process, a walk over a directory tree) on a thread of its own rather
/// than on one of the few threads that run every task.
enum BlockingWork {
    static func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, Error>) in
            Thread.detachNewThread { continuation.resume(with: Result { try body() }) }
        }
    }
}
