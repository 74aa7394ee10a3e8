import Foundation

/// `relative_entropy`: the distribution of the last `window` values against the distributions
/// the series has shown before (Wang, Vitter et al., "Statistical techniques for online anomaly
/// detection in data centers", 2011: relative entropy with a chi-square threshold).
///
/// The last `window` values are counted into `bins` equal bins over the range of the values
/// seen so far, giving a distribution P. Each remembered distribution Q (a "model") is compared
/// with the relative entropy `D(P‖Q) = Σ Pᵢ·ln(Pᵢ/Qᵢ)` (Q smoothed by half a count per bin, so
/// that it is never 0). By Wilks, `2·window·D` is chi-square distributed with `bins − 1` degrees
/// of freedom when the window comes from Q; the limit is that distribution's `confidence`
/// quantile. Score: `AnomalyScore.ratio` of `2·window·min D` to the limit (0.5 at the limit).
/// Models are learned: every `window` samples the current distribution is added as a model when
/// no model explains it (the least used is replaced when `models` are held), otherwise the
/// closest model is counted as used. Models keep their values, not their counts, so that when
/// a value widens the range they are binned again over the new one. Before the first model nothing is scored.
///
/// Memory per series: `MemoryLayout<RelativeEntropyDetector>.size` plus, on the heap, the
/// window and the models' windows (8·window·(models + 1) bytes) and `models·(bins + 1) + bins`
/// numbers of 8 bytes: 4.6 KB at the defaults (window 52, bins 10, models 8), at most
/// 8·10,000·65 B ≈ 5.2 MB at the largest parameters. Work per sample: O(window + models·bins),
/// and O(models·window) when the range widens.
public struct RelativeEntropyDetector: StreamingDetector {
    public let window: Int
    public let bins: Int
    public let models: Int
    public let confidence: Double
    /// The chi-square quantile `2·window·D` is measured against.
    public let limit: Double
    private var values: [Double]
    private var head = 0
    private var filled = 0
    private var sinceModel = 0
    private var low = Double.infinity
    private var high = -Double.infinity
    /// `models` windows of values, row after row (binned again whenever the range widens), their
    /// distributions over the current range (`bins` smoothed shares each), and how often each
    /// was the closest.
    private var kept: [Double]
    private var learned: [Double]
    private var binnedLow = Double.nan
    private var binnedHigh = Double.nan
    private var uses: [Double]
    private var modelCount = 0
    private var counts: [Double]
    private var admission = SampleAdmission()
    private var last = (statistic: 0.0, model: -1)

    /// `window` is clamped to 4...10,000, `bins` to 2...64, `models` to 1...64, `confidence` to
    /// 0.5...0.999999 (NaN: 0.99).
    public init(window: Int = 52, bins: Int = 10, models: Int = 8, confidence: Double = 0.99) {
        self.window = ParameterRange.count(window, 4...10_000)
        self.bins = ParameterRange.count(bins, 2...64)
        self.models = ParameterRange.count(models, 1...64)
        self.confidence = ParameterRange.number(confidence, 0.5...0.999_999, default: 0.99)
        self.limit = ChiSquare.quantile(self.confidence, degrees: Double(self.bins - 1))
        values = [Double](repeating: 0, count: self.window)
        kept = [Double](repeating: 0, count: self.models * self.window)
        learned = [Double](repeating: 0, count: self.models * self.bins)
        uses = [Double](repeating: 0, count: self.models)
        counts = [Double](repeating: 0, count: self.bins)
    }

    public mutating func observe(time: Double, value: Double) -> DetectorOutput {
        guard admission.admit(time: time, value: value) else { return .normal }
        low = min(low, value)
        high = max(high, value)
        values[head] = value
        head = head + 1 == window ? 0 : head + 1
        filled = min(filled + 1, window)
        guard filled == window else { return .normal }
        if low != binnedLow || high != binnedHigh {
            binnedLow = low
            binnedHigh = high
            for m in 0..<modelCount { distribution(model: m) }
        }
        count(values[...], into: &counts)
        var best = Double.infinity, bestModel = -1
        for m in 0..<modelCount {
            let d = divergence(model: m)
            if d < best { best = d; bestModel = m }
        }
        let statistic = 2 * Double(window) * best
        sinceModel += 1
        if sinceModel >= window || modelCount == 0 {
            sinceModel = 0
            if bestModel >= 0, statistic <= limit {
                uses[bestModel] += 1
            } else {
                let slot = modelCount < models ? modelCount : (0..<models).min { uses[$0] < uses[$1] }!
                modelCount = max(modelCount, slot + 1)
                for i in 0..<window { kept[slot * window + i] = values[i] }
                distribution(model: slot)
                uses[slot] = 1
            }
        }
        guard bestModel >= 0 else { return .normal }
        last = (statistic, bestModel)
        return DetectorOutput(anomalous: statistic > limit, score: AnomalyScore.ratio(deviation: statistic, limit: limit, reference: 1))
    }

    /// Counts `window` values into the bins over the current range.
    private func count(_ window: ArraySlice<Double>, into counts: inout [Double]) {
        let width = high / 2 - low / 2
        for b in 0..<bins { counts[b] = 0 }
        for v in window {
            counts[width > 0 ? ContextDetector.bin(of: (v / 2 - low / 2) / width, bins) : 0] += 1
        }
    }

    /// Bins model `m`'s values over the current range, smoothed by half a count per bin.
    private mutating func distribution(model m: Int) {
        var modelCounts = [Double](repeating: 0, count: bins)
        count(kept[(m * window)..<((m + 1) * window)], into: &modelCounts)
        for b in 0..<bins { learned[m * bins + b] = (modelCounts[b] + 0.5) / (Double(window) + 0.5 * Double(bins)) }
    }

    private func divergence(model m: Int) -> Double {
        var d = 0.0
        let n = Double(window)
        for b in 0..<bins where counts[b] > 0 {
            let p = counts[b] / n
            d += p * log(p / learned[m * bins + b])
        }
        return max(0, d)
    }

    /// Heap bytes held (array headers of 32 bytes included); with `MemoryLayout<Self>.size`, the
    /// memory per series.
    public var heapBytes: Int { 32 * 5 + 8 * (values.count + kept.count + learned.count + uses.count + counts.count) }

    /// What the last scored window looked like against the closest remembered distribution.
    public var explanation: String {
        guard last.model >= 0 else { return "learning: no distribution remembered yet" }
        return "the last \(window) values in \(bins) bins over [\(low), \(high)]: 2·\(window)·D = \(last.statistic) against the "
            + "closest of \(modelCount) remembered distributions, limit \(limit) (chi-square, \(bins - 1) degrees, \(confidence))"
    }
}

/// Chi-square quantiles for the detectors' limits.
enum ChiSquare {
    /// The `p` quantile of the chi-square distribution with `k` degrees of freedom, by the
    /// Wilson–Hilferty cube approximation (within 1% for k ≥ 2 and p ≤ 0.999).
    static func quantile(_ p: Double, degrees k: Double) -> Double {
        let z = normalQuantile(p)
        let c = 2 / (9 * k)
        let cube = 1 - c + z * c.squareRoot()
        return k * cube * cube * cube
    }

    /// The standard normal quantile, by bisection on `erfc` (once per detector).
    static func normalQuantile(_ p: Double) -> Double {
        var lo = -40.0, hi = 40.0
        for _ in 0..<200 {
            let mid = (lo + hi) / 2
            if 0.5 * erfc(-mid / 2.0.squareRoot()) < p { lo = mid } else { hi = mid }
        }
        return (lo + hi) / 2
    }
}
