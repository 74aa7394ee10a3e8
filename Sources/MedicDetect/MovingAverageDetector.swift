/// `moving_average` (§1.1): each sample against the mean and standard deviation of the `window`
/// samples before it.
///
/// Anomalous when `|value − mean| > k·σ`, σ the population standard deviation of the window
/// (both sides: a drop is as anomalous as a spike). The first `window` samples only fill the
/// window. A flat window (σ = 0) is normal as long as the value stays on it; the first value off
/// it is anomalous — no division by zero — scored `0.5 + 0.5·d / (d + |mean|)` (|mean| taken
/// as 1 when it is 0), so that a bigger jump ranks higher. Score otherwise:
/// `AnomalyScore.ratio` of `d = |value − mean|` to `k·σ` (0.5 at k·σ, 0.75 at 2k·σ).
///
/// The mean and the sum of squared deviations slide with each sample (Welford's update for a
/// window: add the new value and remove the oldest in one step), and are recomputed exactly from
/// the window (two passes, shifted by its first value) every `window` samples, so rounding cannot
/// accumulate. Work per sample: O(1) amortised (the recompute is O(window) once per window).
///
/// Memory per series: `MemoryLayout<MovingAverageDetector>.size` (72 bytes) plus the window's
/// buffer, 32 + 8·window bytes on the heap: 904 bytes for the default window of 100.
public struct MovingAverageDetector: StreamingDetector {
    public let window: Int
    public let k: Double
    private var ring: [Double]
    /// The slot the next sample goes into: the oldest sample once the window is full.
    private var next = 0
    private var count = 0
    private var mean = 0.0
    /// Sum of squared deviations from `mean` over the window.
    private var squares = 0.0
    private var slidesSinceRecompute = 0
    private var admission = SampleAdmission()

    /// `window` is clamped to 2...1,000,000 and `k` to ≥ 0 (NaN: 3), as the loader allows.
    public init(window: Int = 100, k: Double = 3) {
        self.window = ParameterRange.count(window, 2...ParameterRange.maxWindow)
        self.k = ParameterRange.number(k, 0...ParameterRange.maxMultiplier, default: 3)
        self.ring = [Double](repeating: 0, count: self.window)
    }

    public mutating func observe(time: Double, value: Double) -> DetectorOutput {
        guard admission.admit(time: time, value: value) else { return .normal }
        let n = Double(window)
        var output = DetectorOutput.normal
        if count == window {
            var deviation = abs(value - mean)
            if AnomalyScore.isRounding(deviation, value, mean) { deviation = 0 }
            let limit = k * (squares / n).squareRoot()
            output = DetectorOutput(anomalous: deviation > limit, score: AnomalyScore.ratio(deviation: deviation, limit: limit, reference: mean))
            let oldest = ring[next]
            ring[next] = value
            let oldMean = mean
            mean += (value - oldest) / n
            squares = max(0, squares + (value - oldest) * (value - mean + oldest - oldMean))
            slidesSinceRecompute += 1
            if slidesSinceRecompute >= window { recompute() }
        } else {
            ring[next] = value
            count += 1
            let delta = value - mean
            mean += delta / Double(count)
            squares += delta * (value - mean)
        }
        next += 1
        if next == window { next = 0 }
        return output
    }

    /// The window's exact mean and squared deviations. Shifting by the first value keeps a flat
    /// window exactly flat (every difference is 0) and large offsets from cancelling.
    private mutating func recompute() {
        slidesSinceRecompute = 0
        let shift = ring[0]
        var sum = 0.0
        for v in ring { sum += v - shift }
        mean = shift + sum / Double(window)
        var total = 0.0
        for v in ring {
            let d = v - mean
            total += d * d
        }
        squares = total
    }
}
