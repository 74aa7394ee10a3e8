import Foundation
import MedicModel

/// Values set by hand, for tests and rehearsals. Each series answers its readings in turn and
/// then keeps answering the last one; a series never set answers nil (no such series).
public final class InMemoryMetricSource: MetricSource, @unchecked Sendable {
    /// What one query of a series gives.
    public enum Reading: Sendable, Hashable {
        case value(MetricValue)
        /// No such series (nil).
        case missing
        /// The source fails with this `MetricError` text.
        case failure(String)

        public static func number(_ value: Double) -> Reading { .value(.number(value)) }
        public static func text(_ value: String) -> Reading { .value(.text(value)) }
    }

    private let lock = NSLock()
    private var series: [String: [Reading]]
    private var asked: [String] = []

    /// Keys are a bare metric name or a selector as `MetricSelector.description` renders it;
    /// a query looks up the full selector first, then the bare name.
    public init(_ series: [String: [Reading]] = [:]) { self.series = series }

    /// Replaces the readings of one series.
    public func set(_ key: String, _ readings: [Reading]) {
        lock.withLock { series[key] = readings }
    }

    /// Every selector asked for, in order, as text.
    public var queries: [String] { lock.withLock { asked } }

    public func value(of selector: MetricSelector) async throws -> MetricValue? {
        let reading: Reading = lock.withLock {
            asked.append(selector.description)
            guard let key = [selector.description, selector.name].first(where: { series[$0] != nil }),
                  let readings = series[key], let first = readings.first else { return .missing }
            if readings.count > 1 { series[key] = Array(readings.dropFirst()) }
            return first
        }
        switch reading {
        case .value(let value): return value
        case .missing: return nil
        case .failure(let text): throw MetricError(text)
        }
    }
}
