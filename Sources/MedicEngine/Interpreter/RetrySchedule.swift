import MedicModel

/// The waits between attempts of a step: exponential, linear or jittered from `initial`, never
/// above `max`. Jitter comes from a generator seeded by the run's seed, the step and the attempt,
/// so the same run (and its resumption) waits the same, and tests are deterministic.
public struct RetrySchedule: Sendable {
    public var policy: RetryPolicy
    public var seed: UInt64

    public init(policy: RetryPolicy, seed: UInt64) {
        self.policy = policy
        self.seed = seed
    }

    /// Seconds to wait before attempt `attempt + 1` of step `step`, after attempt `attempt` failed.
    public func delay(afterAttempt attempt: Int, step: Int) -> Double {
        let initial = policy.initial.seconds
        let growth = initial * pow2(attempt - 1)
        var delay: Double
        switch policy.backoff {
        case .exponential: delay = growth
        case .linear: delay = initial * Double(attempt)
        case .jittered:
            // "Equal jitter": half the exponential wait, plus up to the other half at random.
            var generator = SplitMix64(seed: seed ^ (UInt64(truncatingIfNeeded: step) &* 0x9E37_79B9_7F4A_7C15) ^ UInt64(truncatingIfNeeded: attempt))
            delay = growth / 2 + growth / 2 * generator.nextUnit()
        }
        if let cap = policy.max?.seconds { delay = Swift.min(delay, cap) }
        return Swift.max(0, delay)
    }

    private func pow2(_ n: Int) -> Double {
        var value = 1.0
        for _ in 0..<Swift.max(0, Swift.min(n, 60)) { value *= 2 }
        return value
    }
}

/// A small, fast, seedable generator (Steele, Lea and Flood's SplitMix64).
struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A value in 0..<1.
    mutating func nextUnit() -> Double { Double(next() >> 11) / Double(1 << 53) }
}
