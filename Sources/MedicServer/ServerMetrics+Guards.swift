import Foundation
import MedicEngine
import MedicResilience
import Prometheus

/// The guards' figures at each scrape (docs/serving.md, "Metrics"): per key, the breaker's state,
/// the limits in force (adaptive or not), the bulkhead's calls running and waiting, the calls, successes, failures, retries, timeouts
/// and refusals (counters, fed with what grew since the last scrape), and the latency quantiles.
final class GuardMetricsExport: @unchecked Sendable {  // `seen` only under `lock`
    let guards: ExecutorGuards
    private let lock = NSLock()
    private var seen: [String: ResilienceGuard.Snapshot] = [:]

    init(guards: ExecutorGuards) { self.guards = guards }

    func export(to registry: PrometheusCollectorRegistry) {
        // Read under the lock: two scrapes at once must not count the same growth twice.
        let (snapshots, before): ([ResilienceGuard.Snapshot], [String: ResilienceGuard.Snapshot]) = lock.withLock {
            let snapshots = guards.snapshots
            let old = seen
            for snapshot in snapshots { seen[snapshot.key] = snapshot }
            return (snapshots, old)
        }
        func gauge(_ name: String, _ help: String, _ labels: [(String, String)], _ value: Double) {
            registry.makeGauge(descriptor: ServerMetrics.name(name, unit: "", help: help), labels: labels).set(to: value)
        }
        func counter(_ name: String, _ help: String, _ labels: [(String, String)], _ now: Int, _ then: Int?) {
            let counter = registry.makeCounter(descriptor: ServerMetrics.name(name, unit: "total", help: help), labels: labels)
            let grown = now - (then ?? 0)
            if grown > 0 { counter.increment(by: Int64(grown)) }
        }
        for s in snapshots {
            let key = [("key", s.key)]
            let old = before[s.key]
            for state in ["closed", "open", "half_open"] {
                gauge("guard_breaker_state", "1 for the state each guard's circuit breaker is in, 0 for the others.",
                      key + [("state", state)], s.breaker == state ? 1 : 0)
            }
            gauge("guard_bulkhead_in_use", "Calls running now through each guard's bulkhead.", key, Double(s.bulkhead.running))
            gauge("guard_bulkhead_queued", "Calls waiting now for a place in each guard's bulkhead.", key, Double(s.bulkhead.queued))
            gauge("guard_bulkhead_places", "Calls each guard's bulkhead lets run at once.", key, Double(s.bulkhead.maxConcurrent))
            gauge("guard_failure_threshold", "Failures in a row that open each guard's breaker, as in force now (adaptive limits move it).",
                  key, Double(s.failureThreshold))
            gauge("guard_reset_timeout_seconds", "Seconds each guard's breaker stays open, as in force now (adaptive limits move it).",
                  key, s.resetTimeout)
            gauge("guard_adaptive", "1 when each guard's limits are adaptive (they follow its destination within their bounds), 0 when fixed.",
                  key, guards.isAdaptive(s.key) ? 1 : 0)
            counter("guard_calls", "Calls made through each guard, refused ones included.", key, s.calls, old?.calls)
            counter("guard_successes", "Calls through each guard that succeeded (retries included).", key, s.successes, old?.successes)
            counter("guard_failures", "Calls through each guard that failed (after their retries).", key, s.failures, old?.failures)
            counter("guard_retries", "Attempts after the first, by each guard.", key, s.retries, old?.retries)
            counter("guard_timeouts", "Attempts given up at the guard's timeout.", key, s.timeouts, old?.timeouts)
            counter("guard_rejections", "Calls each guard refused, by what refused them (bulkhead or breaker).", key + [("by", "bulkhead")],
                    s.rejectedByBulkhead, old?.rejectedByBulkhead)
            counter("guard_rejections", "Calls each guard refused, by what refused them (bulkhead or breaker).", key + [("by", "breaker")],
                    s.rejectedByBreaker, old?.rejectedByBreaker)
            for (quantile, value) in [("0.5", s.p50), ("0.95", s.p95), ("0.99", s.p99), ("1", s.max)] {
                gauge("guard_latency_seconds", "Seconds a call through each guard took (retries included), by quantile (1: the longest).",
                      key + [("quantile", quantile)], value)
            }
        }
    }
}
