import Foundation
import MedicEngine
import MedicEngineTestKit
import MedicResilience
import XCTest

/// Adaptive limits driving the engine's live guards (`adaptive:` in `resilience:`): the breaker's
/// failure threshold and reset timeout and the bulkhead's places follow what the destination
/// does, within their bounds, and the guard's next calls meet them. Synthetic load on the
/// injected clock: every call's latency is a sleep on it.
final class AdaptiveGuardLimitsTests: XCTestCase {
    static let key = "http:api:80"
    static let bounds = AdaptiveLimits.Bounds(failureThreshold: 3...20, resetTimeout: 5...120, maxConcurrent: 2...64)

    func guards(_ clock: ManualClock, adaptive: GuardAdaptation = .adaptive(bounds)) -> ExecutorGuards {
        ExecutorGuards(settings: settings(adaptive), clock: clock)
    }

    func settings(_ adaptive: GuardAdaptation) -> ResilienceSettings {
        ResilienceSettings(kinds: [.http: GuardLimits(maxConcurrent: 32, failureThreshold: 5, resetTimeout: 30)],
                           keys: [Self.key: GuardLimits(adaptation: adaptive)])
    }

    /// One call taking `latency` seconds of the clock; false if the guard refused it.
    @discardableResult
    func call(_ guards: ExecutorGuards, _ clock: ManualClock, key: String = AdaptiveGuardLimitsTests.key, fails: Bool = false,
              latency: Double = 0.01) async -> Bool {
        do {
            try await guards.call(key) {
                try await clock.sleep(seconds: latency)
                if fails { throw URLError(.badServerResponse) }
            }
            return true
        } catch let refusal as ResilienceError {
            if case .circuitOpen = refusal { return false }
            if case .bulkheadFull = refusal { return false }
            return true
        } catch {
            return true
        }
    }

    func breaker(_ guards: ExecutorGuards, _ key: String = AdaptiveGuardLimitsTests.key) -> CircuitBreaker.Configuration {
        guards.guards.guarding(key).breaker.currentConfiguration
    }

    /// `seconds` of load, a call every second (`failing(i)` says which fail), the limits adjusted every 10 s:
    /// the failure threshold in force after each adjustment.
    func load(_ guards: ExecutorGuards, _ clock: ManualClock, seconds: Int, latency: Double = 0.01,
              failing: (Int) -> Bool = { _ in false }) async -> [Int] {
        var thresholds: [Int] = []
        for second in 0..<seconds {
            await call(guards, clock, fails: failing(second), latency: latency)
            await call(guards, clock, key: "http:fixed:80", fails: failing(second), latency: latency)
            clock.advance(seconds: 1 - 2 * latency)
            if second % 10 == 9 {
                guards.adjustAdaptiveLimits()
                thresholds.append(breaker(guards).failureThreshold)
            }
        }
        return thresholds
    }

    func testTheLiveBreakersFailureThresholdRisesOnAQuietDestinationFallsOnAFailingOneAndTheNextCallsMeetIt() async {
        let clock = ManualClock()
        let guards = guards(clock)
        let quiet = await load(guards, clock, seconds: 600)
        XCTAssertTrue(guards.isAdaptive(Self.key))
        XCTAssertFalse(guards.isAdaptive("http:fixed:80"))
        XCTAssertEqual(quiet.last, 20, "up to its bound: \(quiet)")
        XCTAssertEqual(quiet, quiet.sorted(), "only ever up: \(quiet)")
        XCTAssertEqual(breaker(guards, "http:fixed:80").failureThreshold, 5, "a key with fixed limits keeps them")

        // Every other call fails (50% errors, never two in a row: the breaker stays closed).
        let failing = await load(guards, clock, seconds: 600) { $0 % 2 == 0 }
        XCTAssertEqual(failing.last, 3, "down to its bound: \(failing)")
        XCTAssertEqual(failing, failing.sorted(by: >), "only ever down: \(failing)")
        XCTAssertEqual(guards.guards.guarding(Self.key).breaker.currentState, .closed)

        // The live breaker opens at the third failure in a row, where the fixed one needs five.
        for _ in 0..<3 { await call(guards, clock, fails: true) }
        for _ in 0..<3 { await call(guards, clock, key: "http:fixed:80", fails: true) }
        XCTAssertEqual(guards.guards.guarding(Self.key).breaker.currentState.name, "open")
        XCTAssertEqual(guards.guards.guarding("http:fixed:80").breaker.currentState.name, "closed")
        let refused = await call(guards, clock)
        XCTAssertFalse(refused)
        XCTAssertEqual(guards.snapshots.first { $0.key == Self.key }?.failureThreshold, 3, "the snapshot (and /metrics) show the limit in force")

        // A reload with the same settings keeps the adapted limits; fixed limits put the set ones back.
        guards.reconfigure(settings(.adaptive(Self.bounds)))
        XCTAssertEqual(breaker(guards).failureThreshold, 3)
        guards.reconfigure(settings(.fixed))
        XCTAssertEqual(breaker(guards).failureThreshold, 5)
        XCTAssertFalse(guards.isAdaptive(Self.key))
    }

    func testTheResetTimeoutShortensAfterRecoveriesAtTheFirstTrialAndLengthensAfterFailedTrials() async {
        let clock = ManualClock()
        let guards = guards(clock)
        func episode(failedTrials: Int) async -> Double {
            for _ in 0..<5 { await call(guards, clock, fails: true) }
            XCTAssertEqual(guards.guards.guarding(Self.key).breaker.currentState.name, "open")
            for _ in 0..<failedTrials {
                clock.advance(seconds: breaker(guards).resetTimeout)
                await call(guards, clock, fails: true)
            }
            clock.advance(seconds: breaker(guards).resetTimeout)
            let trial = await call(guards, clock)
            XCTAssertTrue(trial)
            XCTAssertEqual(guards.guards.guarding(Self.key).breaker.currentState, .closed)
            guards.adjustAdaptiveLimits()
            return breaker(guards).resetTimeout
        }
        var fast: [Double] = []
        for _ in 0..<8 { fast.append(await episode(failedTrials: 0)) }
        XCTAssertEqual(fast, fast.sorted(by: >), "only ever shorter: \(fast)")
        XCTAssertLessThan(fast.last ?? 30, 10, "\(fast)")
        XCTAssertGreaterThanOrEqual(fast.last ?? 0, 5, "within its bounds")
        // The open breaker refuses for the reset timeout in force.
        for _ in 0..<5 { await call(guards, clock, fails: true) }
        let retryIn = guards.guards.guarding(Self.key).breaker.refusal?.retryIn ?? 0
        XCTAssertEqual(retryIn, fast.last ?? 0, accuracy: 0.001)
        clock.advance(seconds: retryIn)
        await call(guards, clock)

        var slow: [Double] = []
        for _ in 0..<8 { slow.append(await episode(failedTrials: 2)) }
        // The smoothed recovery time starts from the fast ones' 0: from the second slow recovery on, only ever longer.
        XCTAssertEqual(Array(slow.dropFirst()), slow.dropFirst().sorted(), "\(slow)")
        XCTAssertGreaterThan(slow.last ?? 0, 20, "\(slow)")
        XCTAssertLessThanOrEqual(slow.last ?? 200, 120, "within its bounds")
    }

    func testTheLiveBulkheadShrinksWhenLatencyRisesAndGrowsWhenItFalls() async {
        let clock = ManualClock()
        let guards = guards(clock)
        func places() -> Int { guards.guards.guarding(Self.key).bulkhead.snapshot.maxConcurrent }
        /// A minute of 30 calls every 10 s at `latency`, adjusted every 10 s: the places after each adjustment.
        func minute(latency: Double) async -> [Int] {
            var seen: [Int] = []
            for _ in 0..<6 {
                for _ in 0..<30 {
                    await call(guards, clock, latency: latency)
                    clock.advance(seconds: 10.0 / 30 - latency)
                }
                guards.adjustAdaptiveLimits()
                seen.append(places())
            }
            return seen
        }
        var steady: [Int] = []
        for _ in 0..<16 { steady += await minute(latency: 0.05) }
        XCTAssertEqual(Set(steady), [32], "steady latency: the places stay as set: \(steady)")

        let slow = await minute(latency: 0.25)
        XCTAssertLessThan(slow.last ?? 32, 32, "\(slow)")
        XCTAssertEqual(slow, slow.sorted(by: >), "only ever fewer while slow: \(slow)")
        XCTAssertGreaterThanOrEqual(slow.last ?? 0, 2)

        // Latency falls: once the slow calls left the 1-minute window, only ever more places.
        _ = await minute(latency: 0.01)
        var fast: [Int] = []
        for _ in 0..<2 { fast += await minute(latency: 0.01) }
        XCTAssertGreaterThan(fast.last ?? 0, slow.last ?? 0, "more again once latency falls: \(fast)")
        XCTAssertEqual(fast, fast.sorted(), "only ever more while fast: \(fast)")
    }
}
