import MedicResilience
import XCTest

final class AdaptiveLimitsTests: XCTestCase {
    /// `perSecond` calls a second from `start` for `seconds`, failing with probability `errorRate`,
    /// each taking `latency` s (±10%); `adjust` every 10 s. The limits after each adjustment.
    private func load(_ limits: inout AdaptiveLimits, from start: Double, seconds: Int, perSecond: Int = 20,
                      errorRate: (Double) -> Double, latency: (Double) -> Double,
                      random: inout SplitMix64) -> [GuardConfiguration] {
        var seen: [GuardConfiguration] = []
        for second in 0..<seconds {
            let time = start + Double(second)
            for call in 0..<perSecond {
                let at = time + Double(call) / Double(perSecond)
                let failed = Double.random(in: 0..<1, using: &random) < errorRate(at)
                limits.record(success: !failed, latency: latency(at) * Double.random(in: 0.9...1.1, using: &random), at: at)
            }
            if (second + 1) % 10 == 0 { seen.append(limits.adjust(at: time + 1, base: GuardConfiguration())) }
        }
        return seen
    }

    private func directionChanges(_ values: [Int]) -> Int {
        let steps = zip(values, values.dropFirst()).map { $1 - $0 }.filter { $0 != 0 }
        return zip(steps, steps.dropFirst()).filter { ($0 > 0) != ($1 > 0) }.count
    }

    func testTheSlidingWindowForgetsWhatLeftItAndKnowsItsP99() {
        var window = SlidingWindow(length: 60, buckets: 60)
        for index in 0..<1000 { window.record(success: index % 10 != 0, latency: Double(index % 100 + 1) / 1000, at: Double(index) / 100) }
        let summary = window.summary(at: 10)
        XCTAssertEqual(summary.calls, 1000)
        XCTAssertEqual(summary.errorRate, 0.1, accuracy: 1e-9)
        let p99 = try! XCTUnwrap(summary.p99)
        XCTAssertEqual(p99, 0.099, accuracy: 0.099 * 0.2, "within one latency class")
        XCTAssertEqual(window.summary(at: 65).calls, 400, "at 65 s the window holds the 60 slices from 6 s on")
        XCTAssertEqual(window.summary(at: 71).calls, 0)
        XCTAssertNil(window.summary(at: 71).p99)
    }

    func testAQuietDestinationRaisesTheFailureThresholdToItsBoundAndAFailingOneLowersIt() {
        var random = SplitMix64(seed: 1)
        var quiet = AdaptiveLimits(bounds: .init(failureThreshold: 3...20))
        let calm = load(&quiet, from: 0, seconds: 1800, errorRate: { _ in 0.001 }, latency: { _ in 0.01 }, random: &random)
        let thresholds = calm.map(\.breaker.failureThreshold)
        XCTAssertEqual(thresholds.last, 20)
        XCTAssertEqual(thresholds, thresholds.sorted(), "it only rose")
        var failing = AdaptiveLimits(bounds: .init(failureThreshold: 3...20))
        let bad = load(&failing, from: 0, seconds: 1800, errorRate: { _ in 0.10 }, latency: { _ in 0.01 }, random: &random)
        XCTAssertEqual(bad.last?.breaker.failureThreshold, 3)
        XCTAssertTrue(bad.allSatisfy { (3...20).contains($0.breaker.failureThreshold) })
    }

    func testNoiseInsideTheDeadBandAndAlternatingBurstsDoNotMoveIt() {
        var random = SplitMix64(seed: 2)
        var limits = AdaptiveLimits(initial: GuardConfiguration(breaker: .init(failureThreshold: 8)))
        let noisy = load(&limits, from: 0, seconds: 3600, errorRate: { _ in Double.random(in: 0.015...0.045) },
                         latency: { _ in 0.01 }, random: &random)
        XCTAssertEqual(Set(noisy.map(\.breaker.failureThreshold)), [8], "an error rate between 1% and 5% holds it")
        // 10 s at 0.5%, 10 s at 6%, and so on: the 5-minute window sees about 3% and holds it.
        var alternating = AdaptiveLimits(initial: GuardConfiguration(breaker: .init(failureThreshold: 8)))
        let flips = load(&alternating, from: 0, seconds: 3600, errorRate: { Int($0 / 10) % 2 == 0 ? 0.005 : 0.06 },
                         latency: { _ in 0.01 }, random: &random)
        XCTAssertLessThanOrEqual(directionChanges(flips.map(\.breaker.failureThreshold)), 1, "\(flips.map(\.breaker.failureThreshold))")
    }

    func testTheBulkheadShrinksWhenLatencyRisesAndGrowsBackWhenItFalls() {
        var random = SplitMix64(seed: 3)
        var limits = AdaptiveLimits(bounds: .init(maxConcurrent: 2...64), initial: GuardConfiguration(bulkhead: .init(maxConcurrent: 32)))
        let usual = load(&limits, from: 0, seconds: 900, errorRate: { _ in 0.02 }, latency: { _ in 0.010 }, random: &random)
        XCTAssertEqual(Set(usual.map(\.bulkhead.maxConcurrent)), [32], "steady latency leaves it alone")
        let slow = load(&limits, from: 900, seconds: 300, errorRate: { _ in 0.02 }, latency: { _ in 0.050 }, random: &random)
        let shrunk = slow.map(\.bulkhead.maxConcurrent)
        XCTAssertLessThan(shrunk.min()!, 16, "\(shrunk)")
        XCTAssertGreaterThanOrEqual(shrunk.min()!, 2)
        XCTAssertEqual(directionChanges(shrunk), 0, "it shrank without going back and forth: \(shrunk)")
        let fast = load(&limits, from: 1200, seconds: 300, errorRate: { _ in 0.02 }, latency: { _ in 0.010 }, random: &random)
        XCTAssertGreaterThan(fast.last!.bulkhead.maxConcurrent, shrunk.min()!, "\(fast.map(\.bulkhead.maxConcurrent))")
    }

    func testFastRecoveriesShortenTheResetTimeoutAndASlowOneLengthensIt() {
        var limits = AdaptiveLimits(bounds: .init(resetTimeout: 5...120), initial: GuardConfiguration(breaker: .init(resetTimeout: 60)))
        var timeouts: [Double] = []
        for step in 0..<30 {
            limits.recordRecovery(after: 4)
            timeouts.append(limits.adjust(at: Double(step * 10), base: GuardConfiguration()).breaker.resetTimeout)
        }
        XCTAssertEqual(timeouts.last!, 6, accuracy: 0.5, "toward 1.5 × the recovery time")
        XCTAssertEqual(timeouts, timeouts.sorted(by: >), "it only shortened")
        for step in 30..<40 {
            limits.recordRecovery(after: 300)
            timeouts.append(limits.adjust(at: Double(step * 10), base: GuardConfiguration()).breaker.resetTimeout)
        }
        XCTAssertGreaterThan(timeouts.last!, 60)
        XCTAssertEqual(Array(timeouts[30...]), timeouts[30...].sorted(), "then it only lengthened")
        XCTAssertTrue(timeouts.allSatisfy { (5...120).contains($0) })
    }
}
