import Foundation
import MedicResilience

/// `guard-overhead`: what a call pays to go through a resilience guard (bulkhead → breaker →
/// retry → call) with the breaker closed and the bulkhead free, against the same call made bare,
/// in one process, the variants interleaved round by round (bare, guarded, guarded with a
/// timeout, then again). The call itself does nothing but return a number, so the difference is
/// the guard's own cost: locks, the breaker's bookkeeping, the clock, the latency histogram;
/// with a timeout, also the two tasks that race the call against the clock.
enum GuardOverheadBenchmark {
    @inline(never)
    static func work(_ value: Int) async throws -> Int { value &+ 1 }

    static func run(calls: Int, rounds: Int) async throws {
        let clock = SystemResilienceClock()
        let plain = ResilienceGuard(key: "bench", configuration: GuardConfiguration(
            bulkhead: .init(maxConcurrent: 64, maxQueued: 0), retry: .never, timeout: nil), clock: clock)
        let timed = ResilienceGuard(key: "bench-timeout", configuration: GuardConfiguration(
            bulkhead: .init(maxConcurrent: 64, maxQueued: 0), retry: .never, timeout: 30), clock: clock)
        let timedCalls = max(1, calls / 10)
        var bare: [Double] = [], guarded: [Double] = [], withTimeout: [Double] = []
        var sink = 0
        for _ in 0..<rounds {
            var start = ContinuousClock.now
            for index in 0..<calls { sink &+= try await work(index) }
            bare.append(perCall(ContinuousClock.now - start, calls))
            start = ContinuousClock.now
            for index in 0..<calls { sink &+= try await plain.call { try await work(index) } }
            guarded.append(perCall(ContinuousClock.now - start, calls))
            start = ContinuousClock.now
            for index in 0..<timedCalls { sink &+= try await timed.call { try await work(index) } }
            withTimeout.append(perCall(ContinuousClock.now - start, timedCalls))
        }
        let (b, g, t) = (median(bare), median(guarded), median(withTimeout))
        report("guard-overhead", [
            ("calls", calls), ("rounds", rounds), ("bare_ns", b), ("guarded_ns", g), ("guarded_timeout_ns", t),
            ("overhead_ns", g - b), ("overhead_timeout_ns", t - b), ("target_ns", 2000), ("met", g - b < 2000), ("sink", sink % 2),
        ], lines: [
            "guard-overhead: \(calls) calls per round (\(timedCalls) with a timeout), \(rounds) rounds interleaved, median per call",
            String(format: "  bare call                      %8.1f ns", b),
            String(format: "  guarded (no timeout)           %8.1f ns   overhead %8.1f ns  (target < 2000 ns: %@)", g, g - b, g - b < 2000 ? "met" : "NOT met"),
            String(format: "  guarded with a 30 s timeout    %8.1f ns   overhead %8.1f ns", t, t - b),
        ])
    }

    private static func perCall(_ duration: Duration, _ calls: Int) -> Double {
        (Double(duration.components.seconds) * 1e9 + Double(duration.components.attoseconds) / 1e9) / Double(calls)
    }

    private static func median(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        return sorted.isEmpty ? 0 : sorted[sorted.count / 2]
    }
}
