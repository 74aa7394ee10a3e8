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
/// Memory per series: `MemoryLayout<KNNConformalDetector>.size` plus one array on the heap:
/// the history of `dimension + training + 1` values (newest first, held twice, so that it reads
/// as one contiguous run), the `training` squared distances, the calibration set and `k`
/// distances, 8 bytes each, and its 32-byte header: 2.2 KB at the defaults (dimension 10,
/// training 50, calibration 100, k 3), at most 8·(2·1,101 + 1,000 + 10,000 + 1,000) + 32 B ≈
/// 111 KB at the largest parameters. Nothing is allocated after creation.
/// Work per sample: O(training + calibration): each squared distance slides by one term in and
/// one out (recomputed in full, O(training·dimension), every 1,024 samples), four at a time; the
/// k ≤ 4 nearest are kept in four lanes without a branch; the rank counts the calibration set
/// four at a time, and the largest held value is kept as values enter and leave.
public struct KNNConformalDetector: StreamingDetector {
    public let dimension: Int
    public let training: Int
    public let calibration: Int
    public let k: Int
    public let threshold: Double
    /// One allocation: the history (newest first, held twice: x_{t−j} is at historyHead + j),
    /// then the `training` squared distances, the calibration set (a ring) and `k` distances.
    private var storage: [Double]
    private var historyHead = 0
    private var historyFilled = 0
    private var scoresHead = 0
    private var scoresFilled = 0
    /// The largest value of the calibration set (0 while it is empty).
    private var largest = 0.0
    private var untilExact = 0
    private var admission = SampleAdmission()
    private var last = (alpha: 0.0, below: 0, held: 0)

    /// `dimension` is clamped to 1...100, `training` to 1...1,000,
    /// `k` to 1...training, `calibration` to k...10,000 (fewer held scores than k would never
    /// score), `threshold` to 0...1 (NaN: 0.99).
    public init(dimension: Int = 10, training: Int = 50, calibration: Int = 100, k: Int = 3, threshold: Double = 0.99) {
        self.dimension = ParameterRange.count(dimension, 1...100)
        self.training = ParameterRange.count(training, 1...1_000)
        self.k = ParameterRange.count(k, 1...self.training)
        self.calibration = ParameterRange.count(calibration, self.k...10_000)
        self.threshold = ParameterRange.number(threshold, 0...1, default: 0.99)
        // One value more than the stretches span (the term that leaves a sliding sum), twice.
        let history = 2 * (self.dimension + self.training + 1)
        storage = [Double](repeating: 0, count: history + self.training + self.calibration + self.k)
    }

    public mutating func observe(time: Double, value: Double) -> DetectorOutput {
        guard admission.admit(time: time, value: value) else { return .normal }
        let dimension = self.dimension, training = self.training, calibration = self.calibration, k = self.k
        // The history runs backwards and is kept twice, at i and i + size, so that the last `size`
        // values are always contiguous, newest first: x_{t−j} = history[head + j].
        let size = dimension + training + 1
        let head = historyHead == 0 ? size - 1 : historyHead - 1
        historyHead = head
        historyFilled = min(historyFilled + 1, size)
        let filled = historyFilled >= dimension + training
        // sums[lag − 1] = Σⱼ (x_{t−j} − x_{t−j−lag})², j < dimension: slid by one term in and one
        // out per sample, and recomputed from the history every `exactEvery` samples (and
        // whenever a slide is not finite) so that rounding cannot accumulate.
        let exact = untilExact == 0
        if filled { untilExact = exact ? Self.exactEvery : untilExact - 1 }
        let held = scoresFilled, scoresHead = self.scoresHead, largest = self.largest
        let ranked = storage.withUnsafeMutableBufferPointer { storage -> (alpha: Double, below: Int, largest: Double)? in
            let base = storage.baseAddress!
            base[head] = value
            base[head + size] = value
            guard filled else { return nil }
            let x = UnsafePointer(base + head), sums = base + 2 * size, scores = sums + training
            Self.slide(x: x, sums: sums, dimension: dimension, training: training, exact: exact)
            let nearest = UnsafeMutableBufferPointer(start: scores + calibration, count: k)
            let alpha = k <= 4 ? Self.nearestFew(sums: sums, training: training, k: k)
                : Self.nearestMany(sums: sums, training: training, nearest: nearest)
            let below = Self.count(below: alpha, in: scores, count: held)
            // The new value replaces the oldest; the largest is updated, and found again only
            // when the largest leaves.
            let leaving = held == calibration ? scores[scoresHead] : 0
            scores[scoresHead] = alpha
            var most = largest
            if alpha >= largest {
                most = alpha
            } else if held == calibration, leaving == largest {
                most = 0
                for i in 0..<calibration { most = Swift.max(most, scores[i]) }
            }
            return (alpha, below, most)
        }
        guard let ranked else { return .normal }
        self.largest = ranked.largest
        self.scoresHead = scoresHead + 1 == calibration ? 0 : scoresHead + 1
        scoresFilled = min(held + 1, calibration)
        guard held >= k else { return .normal }
        let alpha = ranked.alpha, below = ranked.below
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

    /// How many of the `count` values at `values` are strictly below `alpha`, four at a time.
    @inline(__always)
    private static func count(below alpha: Double, in values: UnsafePointer<Double>, count: Int) -> Int {
        let limit = SIMD4<Double>(repeating: alpha)
        var counts = SIMD4<Int64>.zero
        var i = 0
        while i + 4 <= count {
            counts &+= SIMD4<Int64>.zero.replacing(with: 1, where: UnsafeRawPointer(values + i).loadUnaligned(as: SIMD4<Double>.self) .< limit)
            i += 4
        }
        var below = Int(counts[0] &+ counts[1] &+ counts[2] &+ counts[3])
        while i < count {
            below &+= values[i] < alpha ? 1 : 0
            i += 1
        }
        return below
    }

    /// Slides `sums[lag − 1] = Σⱼ (x_{t−j} − x_{t−j−lag})², j < dimension` by one term in and one
    /// out, four lags at a time (`x` newest first), and floors it at 0 (rounding); when `exact`,
    /// or for a lag whose slide is not finite (overflow), computes it in full instead.
    @inline(__always)
    private static func slide(x: UnsafePointer<Double>, sums: UnsafeMutablePointer<Double>, dimension: Int, training: Int,
                              exact: Bool) {
        if !exact {
            let newest = x[0], oldest = x[dimension]
            let newest4 = SIMD4<Double>(repeating: newest), oldest4 = SIMD4<Double>(repeating: oldest)
            // Stays 0 while every slide is finite (x − x is NaN for an infinite or NaN x).
            var check4 = SIMD4<Double>.zero, check = 0.0
            // −∞ is left as it is, to be computed in full below; a finite slide is floored at 0.
            let minusInfinity = SIMD4<Double>(repeating: -.infinity)
            var lag = 1
            while lag + 3 <= training {
                let entering = newest4 - UnsafeRawPointer(x + lag).loadUnaligned(as: SIMD4<Double>.self)
                let leaving = oldest4 - UnsafeRawPointer(x + dimension + lag).loadUnaligned(as: SIMD4<Double>.self)
                let slid = UnsafeRawPointer(sums + lag - 1).loadUnaligned(as: SIMD4<Double>.self) + entering * entering - leaving * leaving
                check4 += slid - slid
                UnsafeMutableRawPointer(sums + lag - 1).storeBytes(of: slid.replacing(with: 0, where: slid .< 0 .& slid .> minusInfinity), as: SIMD4<Double>.self)
                lag += 4
            }
            while lag <= training {
                let entering = newest - x[lag], leaving = oldest - x[dimension + lag]
                let slid = sums[lag - 1] + entering * entering - leaving * leaving
                check += slid - slid
                sums[lag - 1] = slid < 0 && slid > -.infinity ? 0 : slid
                lag += 1
            }
            if check4[0] + check4[1] + check4[2] + check4[3] + check == 0 { return }
        }
        // A slide that is not finite (or every sum, when exact): computed in full. The finite
        // ones are already floored.
        for lag in 1...training where exact || !sums[lag - 1].isFinite {
            var squared = 0.0
            for j in 0..<dimension {
                let d = x[j] - x[j + lag]
                squared += d * d
            }
            sums[lag - 1] = squared
        }
    }

    /// α for k ≤ 4: the sum of the square roots of the k smallest of `sums`, in increasing order.
    /// Four lanes each keep their four smallest, sorted (n0 ≤ n1 ≤ n2 ≤ n3), without a branch: a
    /// value passes down the column, level i becoming min(level i, max(level i − 1, value)). Then
    /// each lane takes in the columns of the others (lanes 0 and 2, 1 and 3 exchange theirs, then
    /// 0 and 1, 2 and 3), so that every lane holds the four smallest of all. Values are never NaN.
    /// (Written out rather than as calls: the four columns stay in registers.)
    @inline(__always)
    private static func nearestFew(sums: UnsafeMutablePointer<Double>, training: Int, k: Int) -> Double {
        let infinity = SIMD4<Double>(repeating: .infinity)
        var n0 = infinity, n1 = infinity, n2 = infinity, n3 = infinity
        var m0 = infinity, m1 = infinity, m2 = infinity, m3 = infinity
        var i = 0, exchange = 0
        while true {
            var v: SIMD4<Double>
            if i + 4 <= training {
                v = UnsafeRawPointer(sums + i).loadUnaligned(as: SIMD4<Double>.self)
                i += 4
            } else if i < training {
                v = infinity
                for lane in 0..<(training - i) { v[lane] = sums[i + lane] }
                i = training
            } else {
                if exchange == 0 || exchange == 4 {
                    let halves = exchange == 0
                    m0 = halves ? SIMD4(n0[2], n0[3], n0[0], n0[1]) : SIMD4(n0[1], n0[0], n0[3], n0[2])
                    m1 = halves ? SIMD4(n1[2], n1[3], n1[0], n1[1]) : SIMD4(n1[1], n1[0], n1[3], n1[2])
                    m2 = halves ? SIMD4(n2[2], n2[3], n2[0], n2[1]) : SIMD4(n2[1], n2[0], n2[3], n2[2])
                    m3 = halves ? SIMD4(n3[2], n3[3], n3[0], n3[1]) : SIMD4(n3[1], n3[0], n3[3], n3[2])
                }
                guard exchange < 8 else { break }
                switch exchange & 3 {
                case 0: v = m0
                case 1: v = m1
                case 2: v = m2
                default: v = m3
                }
                exchange += 1
            }
            let below2 = n2.replacing(with: v, where: v .> n2), below1 = n1.replacing(with: v, where: v .> n1)
            let below0 = n0.replacing(with: v, where: v .> n0)
            n3 = n3.replacing(with: below2, where: below2 .< n3)
            n2 = n2.replacing(with: below1, where: below1 .< n2)
            n1 = n1.replacing(with: below0, where: below0 .< n1)
            n0 = n0.replacing(with: v, where: v .< n0)
        }
        var alpha = n0[0].squareRoot()
        if k > 1 { alpha += n1[0].squareRoot() }
        if k > 2 { alpha += n2[0].squareRoot() }
        if k > 3 { alpha += n3[0].squareRoot() }
        return alpha
    }

    /// α for any k: the k smallest of `sums` by insertion into `nearest`, kept sorted.
    private static func nearestMany(sums: UnsafeMutablePointer<Double>, training: Int, nearest: UnsafeMutableBufferPointer<Double>) -> Double {
        let k = nearest.count
        for i in 0..<k { nearest[i] = .infinity }
        for lag in 0..<training {
            let squared = sums[lag]
            if squared < nearest[k - 1] {
                var i = k - 1
                while i > 0, nearest[i - 1] > squared { nearest[i] = nearest[i - 1]; i -= 1 }
                nearest[i] = squared
            }
        }
        var alpha = 0.0
        for squared in nearest { alpha += squared.squareRoot() }
        return alpha
    }

    /// Heap bytes held (the array's 32-byte header included); with `MemoryLayout<Self>.size`, the
    /// memory per series.
    public var heapBytes: Int { 32 + 8 * storage.count }

    /// Reads the array's header and the first value of each run `observe` reads (the history
    /// from its head, the distances, the calibration set), so that a caller about to run several
    /// detectors can start their memory loads together (`AutoEnsembleDetector`); the value is
    /// only to be kept somewhere so that the reads are not dropped.
    @inline(__always)
    func touch() -> Int {
        let size = dimension + training + 1
        return storage.withUnsafeBufferPointer { storage in
            Int(truncatingIfNeeded: (storage[historyHead] + storage[2 * size] + storage[2 * size + training]).bitPattern)
        }
    }

    static let exactEvery = 1_024

    /// How the last scored stretch compared with the calibration set.
    public var explanation: String {
        guard last.held > 0 else { return "learning: the history and calibration set are filling" }
        return "the last \(dimension) values are \(last.alpha) from their \(k) nearest of the previous \(training) stretches, "
            + "more than \(last.below) of the last \(last.held) stretches were (p-value \(1 - Double(last.below) / Double(last.held + 1)))"
    }
}
