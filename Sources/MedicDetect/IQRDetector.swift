/// `iqr` (§1.1): each sample against the quartiles of the `window` samples before it.
///
/// Q1 and Q3 are the 25th and 75th percentiles of the window with linear interpolation
/// (numpy's default); anomalous when `value < Q1 − m·IQR` or `value > Q3 + m·IQR`, IQR = Q3 − Q1.
/// The first `window` samples only fill the window. A window whose quartiles are equal
/// (IQR = 0, e.g. a flat line) is normal while the value stays within [Q1, Q3]; a value outside
/// it is anomalous, scored `0.5 + 0.5·d / (d + |quartile|)` with d the distance past the nearer
/// quartile (|quartile| taken as 1 when it is 0). Score otherwise: `AnomalyScore.ratio` of d to
/// m·IQR (0 inside [Q1, Q3], 0.5 at the fence, 0.75 at twice its distance).
///
/// Work per sample: O(log w + √w) (`OrderedWindow`: binary searches, an insert and a removal
/// inside a block of about √w values, two rank lookups), a sorted array with binary search for
/// windows up to 128. Memory per series: `MemoryLayout<IQRDetector>.size` (72 bytes) plus,
/// on the heap, the window in arrival order (8·window bytes) and sorted (8 bytes per value,
/// up to twice that while a block's array has grown ahead of its values), and about 100 bytes
/// of array headers: 1.7 to 2.5 KB for the default window of 100.
public struct IQRDetector: StreamingDetector {
    public let window: Int
    public let multiplier: Double
    private var values: OrderedWindow
    private var admission = SampleAdmission()

    /// `window` is clamped to 4...1,000,000 and `multiplier` to ≥ 0 (NaN: 1.5), as the loader allows.
    public init(window: Int = 100, multiplier: Double = 1.5) {
        self.window = ParameterRange.count(window, 4...ParameterRange.maxWindow)
        self.multiplier = ParameterRange.number(multiplier, 0...ParameterRange.maxMultiplier, default: 1.5)
        self.values = OrderedWindow(capacity: self.window)
    }

    public mutating func observe(time: Double, value: Double) -> DetectorOutput {
        guard admission.admit(time: time, value: value) else { return .normal }
        var output = DetectorOutput.normal
        if values.isFull {
            let q1 = values.quantile(0.25), q3 = values.quantile(0.75)
            let limit = multiplier * (q3 - q1)
            let quartile = value > q3 ? q3 : q1
            var deviation = abs(value - quartile)
            if value >= q1 && value <= q3 || AnomalyScore.isRounding(deviation, value, quartile) { deviation = 0 }
            output = DetectorOutput(anomalous: deviation > limit,
                                    score: AnomalyScore.ratio(deviation: deviation, limit: limit, reference: quartile))
        }
        values.append(value)
        return output
    }
}
