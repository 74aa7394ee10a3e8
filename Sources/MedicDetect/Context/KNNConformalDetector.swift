/// `knn_conformal`: how unlike its recent past the latest stretch of the series is, as a
/// conformal p-value (KNN-CAD, Burnaev and Ishimtsev, "Conformalized density- and distance-based
/// anomaly detection in time-series data", 2016).
///
/// The sample x_t and the `dimension − 1` before it form a vector. Its non-conformity α_t is
/// the sum of the Euclidean distances to its `k` nearest neighbours among the `training`
/// vectors that end at t − 1, t − 2, … t − training. α_t is then ranked against the last
/// `calibration` non-conformities (the calibration set, which it then joins): the score is the
/// share of them strictly below α_t, `below / (n + 1)` for n held, so the conformal p-value is
/// `1 − score`. A non-conformity above every one held ranks by how far above it is:
/// `1 − (max/α_t) / (n + 1)`, below 1 (the ratio is taken as at least 10⁻⁹; over an all-zero set
/// it is `1 / (1 + α_t/|x_t|)`). Anomalous when the score is at
/// least `threshold` (0.99: above 99% of the calibration set). The first non-conformity is that
/// of sample `dimension + training` (the first with a whole stretch and `training` stretches
/// before it); the calibration set fills from there, and nothing is scored before it holds `k`
/// values.
///
/// Memory per series: `MemoryLayout<KNNConformalDetector>.size` plus, on the heap, the history
/// of `dimension + training + 1` values (held twice, so that it reads as one contiguous run),
/// the `training` squared distances, the calibration set and `k` distances, 8 bytes each, and
/// four array headers: 2.3 KB at the defaults (dimension 10, training 50, calibration 100, k 3),
/// at most 8·(2·1,101 + 1,000 + 10,000 + 1,000) + 128 B ≈ 111 KB at the largest parameters.
/// Work per sample: O(training + calibration): each squared distance slides by one term in and
/// one out (recomputed in full, O(training·dimension), every 1,024 samples).
public struct KNNConformalDetector: StreamingDetector {
    public let dimension: Int
    public let training: Int
    public let calibration: Int
    public let k: Int
    public let threshold: Double
    private var history: [Double]
    private var historyHead = 0
    private var historyFilled = 0
    private var scores: [Double]
    private var scoresHead = 0
    private var scoresFilled = 0
    /// The k smallest squared distances of the current sample's stretch.
    private var nearest: [Double]
    private var sums: [Double]
    private var untilExact = 0
    private var admission = SampleAdmission()
    private var last = (alpha: 0.0, below: 0, held: 0)

    /// `dimension` is clamped to 1...100, `training` to 1...1,000, `calibration` to 1...10,000,
    /// `k` to 1...training, `threshold` to 0...1 (NaN: 0.99).
    public init(dimension: Int = 10, training: Int = 50, calibration: Int = 100, k: Int = 3, threshold: Double = 0.99) {
        self.dimension = ParameterRange.count(dimension, 1...100)
        self.training = ParameterRange.count(training, 1...1_000)
        self.calibration = ParameterRange.count(calibration, 1...10_000)
        self.k = ParameterRange.count(k, 1...self.training)
        self.threshold = ParameterRange.number(threshold, 0...1, default: 0.99)
        // One value more than the stretches span (the term that leaves a sliding sum), twice.
        history = [Double](repeating: 0, count: 2 * (self.dimension + self.training + 1))
        sums = [Double](repeating: 0, count: self.training)
        scores = [Double](repeating: 0, count: self.calibration)
        nearest = [Double](repeating: 0, count: self.k)
    }

    public mutating func observe(time: Double, value: Double) -> DetectorOutput {
        guard admission.admit(time: time, value: value) else { return .normal }
        // The history is kept twice, at i and i + size, so that the last `size` values are
        // always contiguous, ending at `newest`: x_{t−j} = history[newest − j].
        let size = history.count / 2
        history[historyHead] = value
        history[historyHead + size] = value
        let newest = historyHead + size
        historyHead = historyHead + 1 == size ? 0 : historyHead + 1
        historyFilled = min(historyFilled + 1, size)
        guard historyFilled >= dimension + training else { return .normal }
        // sums[lag − 1] = Σⱼ (x_{t−j} − x_{t−j−lag})², j < dimension: slid by one term in and one
        // out per sample, and recomputed from the history every `exactEvery` samples (and
        // whenever a slide is not finite) so that rounding cannot accumulate.
        let exact = untilExact == 0
        untilExact = exact ? Self.exactEvery : untilExact - 1
        let dimension = self.dimension, training = self.training, k = self.k
        history.withUnsafeBufferPointer { h in
            sums.withUnsafeMutableBufferPointer { sums in
                nearest.withUnsafeMutableBufferPointer { nearest in
                    let x = h.baseAddress! + newest
                    for i in 0..<k { nearest[i] = .infinity }
                    for lag in 1...training {
                        var squared: Double
                        if !exact {
                            let entering = x[0] - x[-lag], leaving = x[-dimension] - x[-dimension - lag]
                            squared = sums[lag - 1] + entering * entering - leaving * leaving
                            if squared.isFinite { squared = Swift.max(0, squared) }
                        } else {
                            squared = .nan
                        }
                        if !squared.isFinite {
                            squared = 0
                            for j in 0..<dimension {
                                let d = x[-j] - x[-j - lag]
                                squared += d * d
                            }
                        }
                        sums[lag - 1] = squared
                        if squared < nearest[k - 1] {
                            var i = k - 1
                            while i > 0, nearest[i - 1] > squared { nearest[i] = nearest[i - 1]; i -= 1 }
                            nearest[i] = squared
                        }
                    }
                }
            }
        }
        var alpha = 0.0
        for squared in nearest { alpha += squared.squareRoot() }
        var below = 0, largest = 0.0
        scores.withUnsafeBufferPointer { held in
            for past in held[0..<scoresFilled] {
                below += past < alpha ? 1 : 0
                largest = Swift.max(largest, past)
            }
        }
        let held = scoresFilled
        scores[scoresHead] = alpha
        scoresHead = scoresHead + 1 == calibration ? 0 : scoresHead + 1
        scoresFilled = min(scoresFilled + 1, calibration)
        guard held >= k else { return .normal }
        last = (alpha, below, held)
        let n = Double(held + 1)
        var score = Double(below) / n
        if below == held, alpha > largest {
            // Past the whole set: ranked by how far past, in (held/n, 1) for any α (infinite
            // included), never 1. Over an all-zero set the scale is the value itself.
            let ratio = largest > 0 ? largest / alpha : 1 / (1 + alpha / AnomalyScore.magnitude(value))
            score = 1 - max(ratio, 1e-9) / n
        }
        return DetectorOutput(anomalous: score >= threshold && score > 0, score: score)
    }

    /// Heap bytes held (array headers of 32 bytes included); with `MemoryLayout<Self>.size`, the
    /// memory per series.
    public var heapBytes: Int { 32 * 4 + 8 * (history.count + scores.count + nearest.count + sums.count) }

    static let exactEvery = 1_024

    /// How the last scored stretch compared with the calibration set.
    public var explanation: String {
        guard last.held > 0 else { return "learning: the history and calibration set are filling" }
        return "the last \(dimension) values are \(last.alpha) from their \(k) nearest of the previous \(training) stretches, "
            + "more than \(last.below) of the last \(last.held) stretches were (p-value \(1 - Double(last.below) / Double(last.held + 1)))"
    }
}
