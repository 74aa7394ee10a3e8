import Foundation

/// Limits that follow what a destination does, within bounds an operator sets:
///
/// - the **failure threshold** rises while the error rate (5-minute window) is under 1%, and falls
///   while it is over 5% (between the two it holds: a dead band, so noise around one edge does
///   not move it);
/// - the **reset timeout** moves toward 1.5 × the (smoothed) time an open breaker took to close
///   again: fast recoveries shorten it, slow ones lengthen it;
/// - the **bulkhead** shrinks while the 1-minute p99 latency is over 1.25 × its usual level, and
///   grows while it is under 0.8 × (the usual level: a slow moving average of the 1-minute p99,
///   started from the 15-minute p99; it follows a lasting change within minutes, so a new level
///   of latency stops moving the bulkhead once it is the usual one);
///
/// each moved a step toward its target and smoothed by an exponential moving average (`smoothing`,
/// the weight of the new value), then clamped to its bounds. `adjust` is meant to be called on a
/// fixed period (say every 10 s); each call moves each limit at most one smoothed step.
public struct AdaptiveLimits: Sendable {
    public struct Bounds: Sendable, Equatable {
        public var failureThreshold: ClosedRange<Double>
        public var resetTimeout: ClosedRange<Double>
        public var maxConcurrent: ClosedRange<Double>
        /// The weight of a new value in each moving average (0 < smoothing ≤ 1).
        public var smoothing: Double

        public init(failureThreshold: ClosedRange<Double> = 3...20, resetTimeout: ClosedRange<Double> = 5...120,
                    maxConcurrent: ClosedRange<Double> = 2...64, smoothing: Double = 0.3) {
            self.failureThreshold = failureThreshold
            self.resetTimeout = resetTimeout
            self.maxConcurrent = maxConcurrent
            self.smoothing = min(max(smoothing, 0.01), 1)
        }
    }

    public let bounds: Bounds
    /// The limits as smoothed values (rounded where a count is needed).
    public private(set) var failureThreshold: Double
    public private(set) var resetTimeout: Double
    public private(set) var maxConcurrent: Double
    public private(set) var oneMinute = SlidingWindow(length: 60)
    public private(set) var fiveMinutes = SlidingWindow(length: 300)
    public private(set) var fifteenMinutes = SlidingWindow(length: 900)
    private var recovery: Double?
    /// The usual 1-minute p99 (seconds).
    public private(set) var usualP99: Double?

    public init(bounds: Bounds = Bounds(), initial: GuardConfiguration = GuardConfiguration()) {
        self.bounds = bounds
        failureThreshold = Double(initial.breaker.failureThreshold).clamped(to: bounds.failureThreshold)
        resetTimeout = initial.breaker.resetTimeout.clamped(to: bounds.resetTimeout)
        maxConcurrent = Double(initial.bulkhead.maxConcurrent).clamped(to: bounds.maxConcurrent)
    }

    /// One call's outcome and latency at `time` (the clock's seconds).
    public mutating func record(success: Bool, latency: Double, at time: Double) {
        oneMinute.record(success: success, latency: latency, at: time)
        fiveMinutes.record(success: success, latency: latency, at: time)
        fifteenMinutes.record(success: success, latency: latency, at: time)
    }

    /// A breaker closed again `seconds` after it opened.
    public mutating func recordRecovery(after seconds: Double) {
        let weight = bounds.smoothing
        recovery = recovery.map { $0 * (1 - weight) + seconds * weight } ?? seconds
    }

    /// Moves each limit one smoothed step toward its target for what the windows show at `time`;
    /// the configuration to apply (`ResilienceGuard.reconfigure`).
    public mutating func adjust(at time: Double, base: GuardConfiguration) -> GuardConfiguration {
        let weight = bounds.smoothing
        func smooth(_ current: Double, toward target: Double, _ range: ClosedRange<Double>) -> Double {
            (current * (1 - weight) + target.clamped(to: range) * weight).clamped(to: range)
        }
        let errors = fiveMinutes.summary(at: time)
        if errors.calls >= 20 {
            if errors.errorRate < 0.01 {
                failureThreshold = smooth(failureThreshold, toward: failureThreshold * 1.5, bounds.failureThreshold)
            } else if errors.errorRate > 0.05 {
                failureThreshold = smooth(failureThreshold, toward: failureThreshold / 1.5, bounds.failureThreshold)
            }
        }
        if let recovery {
            resetTimeout = smooth(resetTimeout, toward: recovery * 1.5, bounds.resetTimeout)
        }
        let recent = oneMinute.summary(at: time)
        if let now = recent.p99, recent.calls >= 20 {
            let usual = usualP99 ?? fifteenMinutes.summary(at: time).p99 ?? now
            if now > usual * 1.25 {
                maxConcurrent = smooth(maxConcurrent, toward: maxConcurrent * 0.75, bounds.maxConcurrent)
            } else if now < usual * 0.8 {
                maxConcurrent = smooth(maxConcurrent, toward: maxConcurrent * 1.25, bounds.maxConcurrent)
            }
            // A slow average: about 20 adjustments (a few minutes at one every 10 s) to follow a change.
            usualP99 = usual * 0.95 + now * 0.05
        }
        return applied(to: base)
    }

    /// `base` with the limits as they are now (rounded where a count is needed), without moving them.
    public func applied(to base: GuardConfiguration) -> GuardConfiguration {
        var configuration = base
        configuration.breaker.failureThreshold = Int(failureThreshold.rounded())
        configuration.breaker.resetTimeout = resetTimeout
        configuration.bulkhead.maxConcurrent = Int(maxConcurrent.rounded())
        return configuration
    }
}

extension Double {
    func clamped(to range: ClosedRange<Double>) -> Double { Swift.min(Swift.max(self, range.lowerBound), range.upperBound) }
}
