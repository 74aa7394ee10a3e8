/// `ewma` (§1.1): an exponentially weighted moving average and an exponentially weighted
/// deviation, both learned from the past.
///
/// For each sample `x`, with `δ = x − ewma` (the average *before* `x`):
/// anomalous when `|δ| > threshold · σ`, σ the exponentially weighted standard deviation of the
/// past δs; then `ewma += α·δ` and `σ² = (1 − α)·(σ² + α·δ²)` (the incremental EW variance).
/// The reference writes the deviation as `|x − ewma_t|` with `x` already averaged in, which is
/// `(1 − α)·|δ|`: the same test with the threshold scaled by 1/(1 − α).
///
/// The first sample starts the average; the first `warmup` samples only train (with warmup 0
/// the second sample can already fire). Every sample trains, anomalous ones included, so a
/// lasting shift becomes the new normal (drift is absorbed at the speed α sets). A flat history
/// (σ = 0) is normal while the value stays on it; the first value off it is anomalous, scored
/// `0.5 + 0.5·|δ| / (|δ| + |ewma|)` (|ewma| taken as 1 when it is 0). Score otherwise:
/// `AnomalyScore.ratio` of |δ| to threshold·σ.
///
/// Work per sample O(1). Memory per series: `MemoryLayout<EWMADetector>.size` (56 bytes), no heap.
public struct EWMADetector: StreamingDetector {
    public let alpha: Double
    public let threshold: Double
    public let warmup: Int
    private var mean = 0.0
    private var variance = 0.0
    /// Samples seen, counted only up to `warmup` (so it can never overflow).
    private var seen = 0
    private var admission = SampleAdmission()

    /// `alpha` is clamped to (0, 1] (NaN or ≤ 0: 0.2), `threshold` to ≥ 0 (NaN: 3), `warmup` to ≥ 0.
    public init(alpha: Double = 0.2, threshold: Double = 3, warmup: Int = 30) {
        self.alpha = alpha > 0 ? min(alpha, 1) : 0.2
        self.threshold = ParameterRange.number(threshold, 0...ParameterRange.maxMultiplier, default: 3)
        self.warmup = max(0, warmup)
    }

    public mutating func observe(time: Double, value: Double) -> DetectorOutput {
        guard admission.admit(time: time, value: value) else { return .normal }
        guard seen > 0 else {
            mean = value
            seen = 1
            return .normal
        }
        let delta = value - mean
        var output = DetectorOutput.normal
        if seen >= warmup {
            var deviation = abs(delta)
            if AnomalyScore.isRounding(deviation, value, mean) { deviation = 0 }
            let limit = threshold * variance.squareRoot()
            output = DetectorOutput(anomalous: deviation > limit, score: AnomalyScore.ratio(deviation: deviation, limit: limit, reference: mean))
        } else {
            seen += 1
        }
        mean += alpha * delta
        variance = (1 - alpha) * (variance + alpha * delta * delta)
        // A variance decaying on a flat line would otherwise crawl through subnormal numbers,
        // which cost a hundred times a normal multiply on x86.
        if variance < Double.leastNormalMagnitude { variance = 0 }
        return output
    }
}
