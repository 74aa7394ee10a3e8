import MedicResilience
import XCTest

final class RetryPolicyTests: XCTestCase {
    func testBackoffKindsAndTheCap() {
        let exponential = RetryPolicy(backoff: .exponential(initial: 0.5, multiplier: 2), maxDelay: 3, jitter: .none)
        XCTAssertEqual((1...5).map(exponential.baseDelay(afterAttempt:)), [0.5, 1, 2, 3, 3])
        let linear = RetryPolicy(backoff: .linear(initial: 1, step: 0.5), maxDelay: 60)
        XCTAssertEqual((1...3).map(linear.baseDelay(afterAttempt:)), [1, 1.5, 2])
        XCTAssertEqual(RetryPolicy(backoff: .constant(2)).baseDelay(afterAttempt: 7), 2)
        let huge = RetryPolicy(backoff: .exponential(initial: 1, multiplier: 10), maxDelay: 30)
        XCTAssertEqual(huge.baseDelay(afterAttempt: 400), 30, "an overflowing backoff is capped, not infinite")
    }

    func testJitterStaysInItsRangeAndRepeatsWithItsSeed() {
        let base = RetryPolicy(backoff: .constant(4), jitter: .full)
        var random = SplitMix64(seed: 42)
        let full = (0..<1000).map { _ in base.delay(afterAttempt: 1, random: &random) }
        XCTAssertTrue(full.allSatisfy { (0...4).contains($0) })
        XCTAssertLessThan(full.min()!, 0.1)
        XCTAssertGreaterThan(full.max()!, 3.9, "full jitter spreads over the whole range")
        var equalRandom = SplitMix64(seed: 42)
        let equal = RetryPolicy(backoff: .constant(4), jitter: .equal)
        XCTAssertTrue((0..<1000).allSatisfy { _ in (2...4).contains(equal.delay(afterAttempt: 1, random: &equalRandom)) })
        var again = SplitMix64(seed: 42)
        XCTAssertEqual((0..<1000).map { _ in base.delay(afterAttempt: 1, random: &again) }, full, "same seed, same waits")
    }
}
