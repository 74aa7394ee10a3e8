/// `range`: a value outside every value the series has taken so far, in the manner of the
/// "spatial anomaly" check Numenta's NAB detector adds to its HTM scores (a value beyond the
/// minimum and maximum seen, widened by a tolerance, is anomalous whatever the model says).
///
/// With `lo` and `hi` the lowest and highest accepted values before this one and `r = hi − lo`,
/// a value `v` is outside when it is above `hi + tolerance·r` or below `lo − tolerance·r`; its
/// excess `e` is how far beyond that bound it lies, relative to the range: `f = e / r`. Its score
/// is `0.5 + 0.5·f / (1 + f)`: just past the bound 0.5, a range's width past 0.75, towards 1 but
/// never 1. A value inside scores 0. Nothing is scored before `warmup` values have been accepted
/// or while every value so far is equal (`r = 0`: no scale). Anomalous when outside.
///
/// The range only grows, so a series that keeps trending to new extremes keeps scoring (a
/// refractory period, as `auto`'s, makes that one alert); a step to a new level scores once and
/// the new level is then inside.
///
/// Work per sample: O(1). Memory per series: `MemoryLayout<RangeDetector>.size` (the bounds,
/// a count, the last sample's excess and range, the last accepted time), nothing on the heap.
public struct RangeDetector: StreamingDetector {
    /// Fraction of the range added beyond each extreme before a value counts as outside (≥ 0).
    public let tolerance: Double
    /// Accepted values before any is scored.
    public let warmup: Int
    private var admission = SampleAdmission()
    private var low = Double.infinity
    private var high = -Double.infinity
    private var accepted = 0
    private var lastExcess = 0.0
    private var lastRange = 0.0

    /// `tolerance` is clamped to 0...10 (NaN: 0), `warmup` to ≥ 1.
    public init(tolerance: Double = 0, warmup: Int = 100) {
        self.tolerance = ParameterRange.number(tolerance, 0...10, default: 0)
        self.warmup = max(1, warmup)
    }

    public mutating func observe(time: Double, value: Double) -> DetectorOutput {
        guard admission.admit(time: time, value: value) else { return .normal }
        defer {
            accepted = accepted < Int.max ? accepted + 1 : accepted
            low = min(low, value)
            high = max(high, value)
        }
        lastExcess = 0
        lastRange = high - low
        // `range` is infinite when the extremes are ±1e308 apart: nothing is outside such a range.
        guard accepted >= warmup, lastRange > 0, lastRange.isFinite else { return .normal }
        let margin = tolerance * lastRange
        let excess = max(value - (high + margin), (low - margin) - value)
        guard excess > 0 else { return .normal }
        lastExcess = excess
        let relative = excess / lastRange
        // f / (1 + f) written as 1 / (1 + 1/f) stays below 1 for an infinite f.
        let score = 0.5 + 0.5 * (relative.isFinite ? relative / (1 + relative) : 1 - .ulpOfOne)
        return DetectorOutput(anomalous: true, score: min(score, 1 - .ulpOfOne))
    }

    /// How the last sample stood against the range seen before it.
    public var explanation: String {
        guard accepted > warmup else { return "learning: \(accepted) of \(warmup) values seen" }
        if lastExcess > 0 {
            return "\(lastExcess) beyond the range of the values seen before it (width \(lastRange), widened by "
                + "\(tolerance) of it on each side)"
        }
        return "within the range of the values seen (\(low)...\(high), widened by \(tolerance) of its width on each side)"
    }
}
