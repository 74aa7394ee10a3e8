/// `seasonal` (§1.3): each sample against the `low`..`high` percentile band of the past samples
/// of the same hour of the same weekday (UTC): 168 buckets, Monday 00:00–00:59 being the first.
///
/// Anomalous when the value is below the `low` or above the `high` percentile of its bucket;
/// a bucket with fewer than `minSamples` past samples says nothing (normal). Score: 0 inside
/// the band; outside, `AnomalyScore.beyond` the band's edge with the band's width as scale
/// (just past the edge 0.5, one width past 0.75; for a band of width 0 the edge's magnitude is
/// the scale, 1 when the edge is 0). Every sample is learned after it is judged, anomalous
/// ones included.
///
/// Percentiles are exact for a bucket's first 20 samples (linear interpolation, numpy's
/// default) and then estimated with P² (Jain & Chlamtac 1985: five markers per percentile, no
/// samples kept), started from those 20 samples. The band therefore reflects the bucket's whole
/// history, not a recent window.
///
/// Work per sample O(1). Memory per series: `MemoryLayout<SeasonalDetector>.size` (56 bytes)
/// plus 168 buckets of 21 numbers, 28,256 bytes on the heap, allocated on the first sample.
public struct SeasonalDetector: StreamingDetector {
    public let low: Double
    public let high: Double
    public let minSamples: Int
    private var buckets: HourOfWeekQuantiles
    private var admission = SampleAdmission()

    /// `low` and `high` are percentiles, clamped to 0...100 (NaN: 5 and 95) and swapped if
    /// reversed; `minSamples` is clamped to ≥ 1.
    public init(low: Double = 5, high: Double = 95, minSamples: Int = 4) {
        let a = ParameterRange.number(low, 0...100, default: 5), b = ParameterRange.number(high, 0...100, default: 95)
        self.low = min(a, b)
        self.high = max(a, b)
        self.minSamples = max(1, minSamples)
        self.buckets = HourOfWeekQuantiles(low: self.low / 100, high: self.high / 100)
    }

    /// The bucket of `time` (epoch seconds, UTC): weekday × 24 + hour, Monday = 0.
    public static func hourOfWeek(_ time: Double) -> Int {
        // 1970-01-01 was a Thursday: hour 0 of the epoch is hour 72 of its week. Remainders in
        // Double: exact for whole numbers, and no Int conversion of a huge time can trap.
        var bucket = ((time / 3600).rounded(.down) + 72).truncatingRemainder(dividingBy: 168)
        if bucket < 0 { bucket += 168 }
        return min(167, max(0, Int(bucket.isFinite ? bucket : 0)))
    }

    public mutating func observe(time: Double, value: Double) -> DetectorOutput {
        guard admission.admit(time: time, value: value) else { return .normal }
        let bucket = Self.hourOfWeek(time)
        var output = DetectorOutput.normal
        if buckets.count(bucket) >= Double(minSamples) {
            let (lower, upper) = buckets.band(bucket)
            let edge = value > upper ? upper : lower
            if value > upper || value < lower {
                let scale = upper > lower ? upper - lower : AnomalyScore.magnitude(edge)
                output = DetectorOutput(anomalous: true, score: AnomalyScore.beyond(distance: abs(value - edge), scale: scale))
            }
        }
        buckets.learn(value, bucket)
        return output
    }
}

/// Two percentile estimates per hour-of-week bucket in one flat array. Each bucket holds its
/// sample count, then either its first 20 samples sorted (exact phase) or two P² estimators of
/// ten numbers each (five marker heights, five marker positions): the low one, then the high one.
struct HourOfWeekQuantiles: Sendable {
    static let buckets = 168
    static let exactSamples = 20
    static let stride = 1 + exactSamples
    /// The two percentiles, as fractions (0...1).
    let low: Double, high: Double
    private var storage: [Double] = []

    init(low: Double, high: Double) {
        self.low = low
        self.high = high
    }

    func count(_ bucket: Int) -> Double {
        storage.isEmpty ? 0 : storage[bucket * Self.stride]
    }

    /// The low and high percentiles of the bucket; (0, 0) when it is empty.
    func band(_ bucket: Int) -> (Double, Double) {
        let base = bucket * Self.stride
        return (percentile(low, base: base, estimator: base + 1), percentile(high, base: base, estimator: base + 11))
    }

    private func percentile(_ p: Double, base: Int, estimator: Int) -> Double {
        let n = storage.isEmpty ? 0 : storage[base]
        guard n > 0 else { return 0 }
        if n <= Double(Self.exactSamples) {
            let h = (n - 1) * p
            let lower = Int(h)
            let a = storage[base + 1 + lower]
            guard Double(lower + 1) < n else { return a }
            let fraction = h - Double(lower)
            return fraction == 0 ? a : a + fraction * (storage[base + 2 + lower] - a)
        }
        // P²: the middle marker estimates p; the outer markers are the exact extremes.
        if p <= 0 { return storage[estimator] }
        if p >= 1 { return storage[estimator + 4] }
        return storage[estimator + 2]
    }

    mutating func learn(_ value: Double, _ bucket: Int) {
        if storage.isEmpty { storage = [Double](repeating: 0, count: Self.buckets * Self.stride) }
        let base = bucket * Self.stride
        let n = storage[base]
        let exact = Double(Self.exactSamples)
        if n < exact {
            // Insertion into the sorted samples.
            var i = base + 1 + Int(n)
            while i > base + 1, storage[i - 1] > value {
                storage[i] = storage[i - 1]
                i -= 1
            }
            storage[i] = value
        } else {
            if n == exact { startEstimators(base) }
            insert(value, estimator: base + 1, p: low, total: n + 1)
            insert(value, estimator: base + 11, p: high, total: n + 1)
        }
        storage[base] = n + 1
    }

    /// Desired marker positions (1-based) among `total` observations for quantile `p`.
    private static func desired(_ marker: Int, p: Double, total: Double) -> Double {
        let increment: Double = switch marker {
        case 0: 0
        case 1: p / 2
        case 2: p
        case 3: (1 + p) / 2
        default: 1
        }
        return 1 + (total - 1) * increment
    }

    /// P² markers from the bucket's 20 sorted samples: each marker at the sample whose rank is
    /// nearest its desired position, positions kept strictly increasing.
    private mutating func startEstimators(_ base: Int) {
        let sorted = Array(storage[(base + 1)...(base + Self.exactSamples)])
        for (estimator, p) in [(base + 1, low), (base + 11, high)] {
            var positions = (0..<5).map { Self.desired($0, p: p, total: Double(Self.exactSamples)).rounded() }
            positions[0] = 1
            positions[4] = Double(Self.exactSamples)
            for i in 1...3 { positions[i] = max(positions[i], positions[i - 1] + 1) }
            for i in (1...3).reversed() { positions[i] = min(positions[i], positions[i + 1] - 1) }
            for i in 0..<5 {
                storage[estimator + i] = sorted[Int(positions[i]) - 1]
                storage[estimator + 5 + i] = positions[i]
            }
        }
    }

    /// One P² step (Jain & Chlamtac 1985) for the estimator at `e`: heights at e...e+4,
    /// positions at e+5...e+9; `total` counts `value`.
    private mutating func insert(_ value: Double, estimator e: Int, p: Double, total: Double) {
        let q = e, n = e + 5
        var cell: Int
        if value < storage[q] {
            storage[q] = value
            cell = 0
        } else if value >= storage[q + 4] {
            storage[q + 4] = value
            cell = 3
        } else {
            cell = 0
            while cell < 3, value >= storage[q + cell + 1] { cell += 1 }
        }
        for i in (cell + 1)...4 { storage[n + i] += 1 }
        for i in 1...3 {
            let d = Self.desired(i, p: p, total: total) - storage[n + i]
            let roomAbove = storage[n + i + 1] - storage[n + i], roomBelow = storage[n + i - 1] - storage[n + i]
            guard (d >= 1 && roomAbove > 1) || (d <= -1 && roomBelow < -1) else { continue }
            let s: Double = d >= 0 ? 1 : -1
            let (qb, qi, qa) = (storage[q + i - 1], storage[q + i], storage[q + i + 1])
            let (nb, ni, na) = (storage[n + i - 1], storage[n + i], storage[n + i + 1])
            let parabolic = qi + s / (na - nb) * ((ni - nb + s) * (qa - qi) / (na - ni) + (na - ni - s) * (qi - qb) / (ni - nb))
            if qb < parabolic && parabolic < qa {
                storage[q + i] = parabolic
            } else {
                let j = s > 0 ? i + 1 : i - 1
                storage[q + i] = qi + s * (storage[q + j] - qi) / (storage[n + j] - ni)
            }
            storage[n + i] = ni + s
        }
    }
}
