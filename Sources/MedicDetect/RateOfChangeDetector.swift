import MedicModel

/// `rate_of_change` (§1.3): a change of more than `change` percent within `within` seconds,
/// e.g. "> 30% increase in < 1 minute".
///
/// Each sample `x` is compared with the samples of the span before it (times `t − within` up
/// to, not including, `t`): an increase is `(x − min) / |min|`, a decrease `(max − x) / |max|`,
/// in percent; `direction` says which count (`both`: the larger). Anomalous when the change
/// is more than `change` percent. Score: `AnomalyScore.ratio` of the change to `change` (0.5 at
/// the limit, 0.75 at twice it; with `change` 0, `0.5 + 0.5·p / (p + 100)` for a change of p%).
/// A base of 0 makes any change in the watched direction infinitely large: anomalous, scored
/// `0.5 + 0.5·d / (d + 1)` on the absolute difference d, so that a bigger jump off zero still
/// ranks higher. Only samples within the span count, so after a gap longer than `within` the
/// first sample has nothing to compare with and is normal; a `within` of 0 never fires. For a
/// range such as `5-10%` the lower end is the limit.
///
/// Work per sample: amortised O(1) (a `MonotonicDeque` for the minimum and one for the maximum,
/// only those the direction needs). Memory per series: `MemoryLayout<RateOfChangeDetector>.size`
/// (112 bytes) plus 16 bytes per sample kept: usually a handful (only running minima and maxima
/// are kept), at most `maxSamples` (default 1,024) per deque, i.e. 32 KB for both.
public struct RateOfChangeDetector: StreamingDetector {
    public let change: Double
    public let within: Double
    public let direction: ChangeDirection
    private var minima: MonotonicDeque
    private var maxima: MonotonicDeque
    private var admission = SampleAdmission()

    public static let defaultMaxSamples = 1024

    /// `change` (percent) and `within` (seconds) are clamped to ≥ 0 (NaN: 0).
    public init(change: Double, within: Double, direction: ChangeDirection = .both, maxSamples: Int = defaultMaxSamples) {
        self.change = ParameterRange.number(change, 0...Double.greatestFiniteMagnitude, default: 0)
        self.within = ParameterRange.number(within, 0...Double.greatestFiniteMagnitude, default: 0)
        self.direction = direction
        self.minima = MonotonicDeque(.minimum, limit: maxSamples)
        self.maxima = MonotonicDeque(.maximum, limit: maxSamples)
    }

    public init(change: Percentage, within: Interval, direction: ChangeDirection = .both) {
        self.init(change: change.value, within: within.seconds, direction: direction)
    }

    public mutating func observe(time: Double, value: Double) -> DetectorOutput {
        guard admission.admit(time: time, value: value) else { return .normal }
        let horizon = time - within
        var output = DetectorOutput.normal
        if direction != .decrease {
            minima.drop(before: horizon)
            if let low = minima.front { output = judge(value - low, base: low, output) }
            minima.push(time: time, value: value)
        }
        if direction != .increase {
            maxima.drop(before: horizon)
            if let high = maxima.front { output = judge(high - value, base: high, output) }
            maxima.push(time: time, value: value)
        }
        return output
    }

    /// A change of `difference` (counted only when positive) from `base`, merged into the other
    /// direction's verdict: anomalous if either is, the larger score.
    private func judge(_ difference: Double, base: Double, _ other: DetectorOutput) -> DetectorOutput {
        guard difference > 0 else { return other }
        let anomalous: Bool, score: Double
        if base == 0 {
            (anomalous, score) = (true, AnomalyScore.beyond(distance: difference, scale: 1))
        } else {
            let percent = difference / abs(base) * 100
            (anomalous, score) = (percent > change, AnomalyScore.ratio(deviation: percent, limit: change, reference: 100))
        }
        return DetectorOutput(anomalous: anomalous || other.anomalous, score: max(score, other.score))
    }
}
