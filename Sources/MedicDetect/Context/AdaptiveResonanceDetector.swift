/// `adaptive_resonance`: a stretch of the series unlike every kind of stretch it has learned, in
/// the manner of ARTime (Mark Hampton's NAB detector, after Carpenter and Grossberg's fuzzy
/// adaptive resonance theory): the series, downsampled, is cut into overlapping stretches; a
/// fuzzy ART network learns categories of stretches; a stretch that resonates with no category
/// is novel, the more so the further it is from the nearest.
///
/// **Downsampling.** Every `step` accepted samples make one point: the block's minimum or
/// maximum, whichever is further from a moving average of the block means (so that a spike
/// survives downsampling), or the block's mean when that extreme is within 10% of the range
/// (so that noise does not). Only the sample that closes a block is scored; the others score 0.
///
/// **Features.** The last `window` points, scaled to [0, 1] over the range of the points seen
/// (a new extreme widens the range), quantised to `levels` levels, and their shape: the same
/// points scaled to their own [min, max], Haar-transformed, the coefficients scaled to [0, 1].
/// Those 2·window numbers, complement-coded (each x with 1 − x), are the stretch's input I,
/// with |I| = 2·window.
///
/// **Fuzzy ART.** A category is a weight vector w (a box in feature space). The match of I with
/// w is `M = |I ∧ w| / |I|` (∧ the element-wise minimum, |·| the sum), in [0, 1], 1 inside the
/// box. Categories are tried in order of the choice `|I ∧ w| / (0.001 + |w|)`; the first whose
/// match reaches the vigilance ρ resonates and learns, `w ← I ∧ w` (its box grows to take I in).
/// When none does, I becomes a new category (replacing the one unused longest when `capacity`
/// are held).
///
/// **Learning phase.** The points of the first `learning` samples are held; at its end the
/// range is set from them, a network is trained on their stretches at ρ = 0.8 and the vigilance
/// becomes the mean of their matches (at most 0.97): how alike this series' stretches normally
/// are. Afterwards ρ follows the running mean of the matches (at most 0.97). Nothing is scored
/// during the learning phase.
///
/// **Score.** A stretch is novel when it makes a new category and its match M is below the
/// floor f, the lowest match of the last learning/step stretches (a lower vigilance that adapts
/// to how noisy the series has recently been). With `r = (1 − M) / (1 − f)`: a novel stretch
/// scores `1 − 1 / (2r)` (above 0.5, towards 1), any other `0.49·min(r, 1)`. Within 3·window
/// points after a novel stretch, a novel stretch no further out than the episode's furthest
/// scores half, so that one new pattern is one alert. Anomalous when the score is at least
/// `threshold` (0.5: a new pattern).
///
/// Memory per series: `MemoryLayout<AdaptiveResonanceDetector>.size` plus, on the heap, the
/// categories (`capacity`, rounded up to a multiple of 4 for the weights, × 4·window weights and
/// one last use each; allocated in full at creation), the last learning/step
/// matches, the learning phase's points (learning / step values, released when it ends), the
/// last `window` points and the input: 8 bytes each, and six array headers: at the defaults
/// (step 5, window 8, learning 400, capacity 64) 8·(64·33 + 80 + 80 + 8 + 32) + 192 B = 18,688 B
/// during the learning phase and 18,048 B after; at most 8·(256·257 + 2·10,000 + 64 + 256) +
/// 192 B ≈ 690 KB at the largest parameters (window 64, capacity 256, learning 10,000 with step
/// 1). Work per sample: O(capacity·window) on the sample that closes a block (the categories
/// matched four at a time; |w| summed only for those that reach the vigilance), O(1) else.
public struct AdaptiveResonanceDetector: StreamingDetector {
    public let step: Int
    public let window: Int
    public let levels: Int
    public let learning: Int
    public let capacity: Int
    public let threshold: Double
    private var blockCount = 0
    private var blockSum = 0.0
    private var blockMin = Double.infinity
    private var blockMax = -Double.infinity
    private var blockAverage = 0.0
    private var accepted = 0
    /// The learning phase's points; emptied when it ends.
    private var learningPoints: [Double] = []
    private var learned = false
    private var low = Double.infinity
    private var high = -Double.infinity
    /// The last `window` points, oldest first once `recentFilled == window`.
    private var recent: [Double]
    private var recentFilled = 0
    private var network: FuzzyART
    private var input: [Double]
    private var vigilance = 0.8
    private var matchSum = 0.0
    private var matchCount = 0.0
    /// Points since the last novel stretch, and the episode's furthest r.
    private var sinceNovel = Int.max
    private var episodePeak = 0.0
    private var last = (match: 1.0, floor: 0.8, vigilance: 0.8, newCategory: false, novel: false, categories: 0)
    /// The matches of the last `matchesHeld` stretches scored (a ring): their lowest is the floor
    /// a novel stretch must fall below.
    private var matches: [Double] = []
    private var matchesHead = 0
    private let matchesHeld: Int
    /// Points after a novel stretch during which a novel stretch no further out is halved.
    private var mask: Int { 3 * window }

    /// `step` is clamped to 1...100, `window` to 2...64, `levels` to 2...1,000, `learning` to
    /// step·(window + 1)...10,000 samples, `capacity` to 1...256, `threshold` to 0...1 (NaN: 0.5).
    public init(step: Int = 5, window: Int = 8, levels: Int = 80, learning: Int = 400, capacity: Int = 64,
                threshold: Double = 0.5) {
        self.step = ParameterRange.count(step, 1...100)
        self.window = ParameterRange.count(window, 2...64)
        self.levels = ParameterRange.count(levels, 2...1_000)
        self.learning = ParameterRange.count(learning, self.step * (self.window + 1)...max(10_000, self.step * (self.window + 1)))
        self.capacity = ParameterRange.count(capacity, 1...256)
        self.threshold = ParameterRange.number(threshold, 0...1, default: 0.5)
        recent = [Double](repeating: 0, count: self.window)
        input = [Double](repeating: 0, count: 4 * self.window)
        network = FuzzyART(dimension: 4 * self.window, capacity: self.capacity)
        learningPoints.reserveCapacity(self.learning / self.step)
        matchesHeld = self.learning / self.step
        matches.reserveCapacity(matchesHeld)
    }

    public mutating func observe(time: Double, value: Double) -> DetectorOutput {
        guard admission.admit(time: time, value: value) else { return .normal }
        accepted += 1
        blockCount += 1
        blockSum += value
        blockMin = min(blockMin, value)
        blockMax = max(blockMax, value)
        guard blockCount == step else { return .normal }
        let point = downsample()
        guard learned else {
            learningPoints.append(point)
            if accepted >= learning { endLearning() }
            return .normal
        }
        low = min(low, point)
        high = max(high, point)
        push(point)
        let score = scoreStretch()
        return DetectorOutput(anomalous: score >= threshold && score > 0, score: score)
    }

    private var admission = SampleAdmission()

    /// The block's point, and a fresh block.
    private mutating func downsample() -> Double {
        let mean = blockSum / Double(blockCount)
        blockAverage = accepted == blockCount ? mean : (blockAverage + mean) / 2
        var point = abs(blockMax - blockAverage) >= abs(blockMin - blockAverage) ? blockMax : blockMin
        let range = high > low ? high - low : 0
        if abs(point - mean) < 0.1 * range { point = mean }
        blockCount = 0
        blockSum = 0
        blockMin = .infinity
        blockMax = -.infinity
        return point.isFinite ? point : mean
    }

    private mutating func push(_ point: Double) {
        if recentFilled == window {
            recent.withUnsafeMutableBufferPointer { r in
                for i in 1..<r.count { r[i - 1] = r[i] }
            }
            recent[window - 1] = point
        } else {
            recent[recentFilled] = point
            recentFilled += 1
        }
    }

    /// Sets the range from the learning phase's points, trains on their stretches and sets the
    /// vigilance to their mean match.
    private mutating func endLearning() {
        learned = true
        for point in learningPoints {
            low = min(low, point)
            high = max(high, point)
        }
        var sum = 0.0, count = 0.0
        for point in learningPoints {
            push(point)
            guard recentFilled == window else { continue }
            encode()
            // The first stretch meets an empty network: its match says nothing about the series.
            let empty = network.count == 0
            let (match, _) = network.learn(input, vigilance: vigilance)
            if !empty {
                sum += match
                count += 1
            }
        }
        if count > 0 { vigilance = min(Self.maxVigilance, sum / count) }
        matchSum = sum
        matchCount = count
        learningPoints = []
    }

    static let maxVigilance = 0.97

    private mutating func scoreStretch() -> Double {
        guard recentFilled == window else { return 0 }
        encode()
        let (match, newCategory) = network.learn(input, vigilance: vigilance)
        // The floor: the lowest match of the recent stretches (the vigilance until one is held).
        let floor = Self.lowest(matches, from: vigilance)
        if matches.count < matchesHeld {
            matches.append(match)
        } else {
            matches[matchesHead] = match
            matchesHead = matchesHead + 1 == matchesHeld ? 0 : matchesHead + 1
        }
        let novel = newCategory && match < floor
        let limit = 1 - floor
        let r = limit > 0 ? (1 - match) / limit : (match < 1 ? .infinity : 0)
        var score = novel ? 1 - 1 / (2 * r) : 0.49 * min(r, 1)
        if novel {
            let inEpisode = sinceNovel <= mask
            if inEpisode, r <= episodePeak {
                score /= 2
            } else {
                episodePeak = r
            }
            sinceNovel = 0
        } else if sinceNovel < Int.max {
            sinceNovel += 1
        }
        last = (match, floor, vigilance, newCategory, novel, network.count)
        matchSum += match
        matchCount += 1
        vigilance = min(Self.maxVigilance, matchSum / matchCount)
        return score
    }

    /// The least of `start` and `values` (NaNs passed over), four lanes at a time: the minimum of
    /// numbers does not depend on the order they are taken in.
    private static func lowest(_ values: [Double], from start: Double) -> Double {
        var lanes = SIMD4<Double>(repeating: start)
        var lowest = start
        values.withUnsafeBufferPointer { values in
            var i = 0
            while i + 4 <= values.count {
                let v = UnsafeRawPointer(values.baseAddress! + i).loadUnaligned(as: SIMD4<Double>.self)
                lanes = lanes.replacing(with: v, where: v .< lanes)
                i += 4
            }
            while i < values.count {
                lowest = min(lowest, values[i])
                i += 1
            }
        }
        for lane in 0..<4 { lowest = min(lowest, lanes[lane]) }
        return lowest
    }

    /// The input of the last `window` points: their levels over the range, their shape's Haar
    /// coefficients, and the complement of both.
    private mutating func encode() {
        let w = window
        let width = high - low
        let levels = Double(self.levels)
        var lowest = Double.infinity, highest = -Double.infinity
        for x in recent {
            lowest = min(lowest, x)
            highest = max(highest, x)
        }
        let span = highest - lowest
        for i in 0..<w {
            let scaled = width > 0 ? (recent[i] - low) / width : 0
            input[i] = (min(1, max(0, scaled)) * levels).rounded() / levels
            input[w + i] = span > 0 ? (recent[i] - lowest) / span : 0
        }
        input.withUnsafeMutableBufferPointer { buffer in
            Haar.transform(UnsafeMutableBufferPointer(rebasing: buffer[w..<2 * w]))
        }
        var cLow = Double.infinity, cHigh = -Double.infinity
        for i in w..<2 * w {
            cLow = min(cLow, input[i])
            cHigh = max(cHigh, input[i])
        }
        for i in w..<2 * w { input[i] = cHigh > cLow ? (input[i] - cLow) / (cHigh - cLow) : 0 }
        for i in 0..<2 * w { input[2 * w + i] = 1 - input[i] }
    }

    /// Heap bytes held (array headers of 32 bytes included); with `MemoryLayout<Self>.size`, the
    /// memory per series.
    public var heapBytes: Int {
        32 * 6 + 8 * (recent.capacity + input.capacity + learningPoints.capacity + matches.capacity + network.weights.capacity
            + network.lastUse.capacity)
    }

    /// The last scored stretch against the categories learned.
    public var explanation: String {
        guard learned else { return "learning: \(accepted) of the first \(learning) samples seen" }
        let verdict = last.novel
            ? "a new pattern: it resonates with none of the \(last.categories) categories learned and is further out than every recent stretch"
            : last.newCategory ? "a new category, but no further out than the recent stretches"
            : "it resonates with one of the \(last.categories) categories learned"
        return "the last \(window) points (one per \(step) samples) match their nearest category \(last.match), "
            + "the lowest recent match being \(last.floor) and the vigilance \(last.vigilance): " + verdict
    }
}

/// A fuzzy ART network of at most `capacity` categories over complement-coded inputs.
struct FuzzyART: Sendable {
    let dimension: Int
    let capacity: Int
    /// Categories in groups of four, each group's weights together, feature by feature: feature
    /// i of category j at ((j / 4)·dimension + i)·4 + j % 4, so that four categories are matched
    /// at once over one contiguous run. Allocated in full at creation (capacity rounded up to a
    /// multiple of 4).
    var weights: [Double]
    /// When each category last resonated (or was made), in inputs seen.
    var lastUse: [Double] = []
    var count = 0
    var seen = 0.0

    init(dimension: Int, capacity: Int) {
        self.dimension = dimension
        self.capacity = capacity
        weights = [Double](repeating: 0, count: dimension * ((capacity + 3) / 4 * 4))
        lastUse.reserveCapacity(capacity)
    }

    /// Presents `input` (|input| > 0): the best match over all categories, and whether it is
    /// novel (no category reached `vigilance`; it then became a category). A resonating
    /// category, the one of highest choice among those that reach the vigilance, learns.
    mutating func learn(_ input: [Double], vigilance: Double) -> (match: Double, novel: Bool) {
        seen += 1
        var inputSize = 0.0
        for x in input { inputSize += x }
        var best = Best()
        let dimension = self.dimension, count = self.count
        weights.withUnsafeBufferPointer { w in
            input.withUnsafeBufferPointer { x in
                // |I ∧ w| of four categories at a time (eight: two groups side by side, so that
                // their sums do not wait on each other), lane by lane the same sums in the same
                // order as one category at a time; a last group's unused lanes are not considered.
                let base = w.baseAddress!
                var group = 0
                while group < count {
                    let pair = group + 4 < count
                    var overlap = SIMD4<Double>.zero, overlap2 = SIMD4<Double>.zero
                    let at = base + group * dimension, at2 = at + 4 * dimension
                    if pair {
                        for i in 0..<dimension {
                            let xi = SIMD4<Double>(repeating: x[i])
                            let wi = UnsafeRawPointer(at + 4 * i).loadUnaligned(as: SIMD4<Double>.self)
                            let wi2 = UnsafeRawPointer(at2 + 4 * i).loadUnaligned(as: SIMD4<Double>.self)
                            overlap += xi.replacing(with: wi, where: wi .< xi)
                            overlap2 += xi.replacing(with: wi2, where: wi2 .< xi)
                        }
                    } else {
                        for i in 0..<dimension {
                            let xi = SIMD4<Double>(repeating: x[i])
                            let wi = UnsafeRawPointer(at + 4 * i).loadUnaligned(as: SIMD4<Double>.self)
                            overlap += xi.replacing(with: wi, where: wi .< xi)
                        }
                    }
                    for lane in 0..<min(4, count - group) {
                        best.consider(group + lane, overlap: overlap[lane], weights: at + lane, dimension: dimension, inputSize: inputSize,
                                      vigilance: vigilance)
                    }
                    if pair {
                        for lane in 0..<min(4, count - group - 4) {
                            best.consider(group + 4 + lane, overlap: overlap2[lane], weights: at2 + lane, dimension: dimension,
                                          inputSize: inputSize, vigilance: vigilance)
                        }
                    }
                    group += pair ? 8 : 4
                }
            }
        }
        if best.resonating >= 0 {
            let j = best.resonating
            for i in 0..<dimension { weights[index(j, i)] = min(weights[index(j, i)], input[i]) }
            lastUse[j] = seen
            return (best.match, false)
        }
        var j = count
        if count < capacity {
            lastUse.append(seen)
            self.count += 1
        } else {
            j = 0
            for other in 1..<count where lastUse[other] < lastUse[j] { j = other }
            lastUse[j] = seen
        }
        for i in 0..<dimension { weights[index(j, i)] = input[i] }
        return (self.count == 1 && seen == 1 ? 0 : best.match, true)
    }

    /// Where feature i of category j is in `weights`.
    private func index(_ j: Int, _ i: Int) -> Int { ((j >> 2) * dimension + i) << 2 | (j & 3) }

    /// The best match so far, and the category of highest choice among those whose match reaches
    /// the vigilance (the first of equal choices).
    private struct Best {
        var match = 0.0
        var choice = -Double.infinity
        var resonating = -1

        /// Category j, of overlap |I ∧ w|, its weights at `weights`, `weights + 4`, …: its choice
        /// |I ∧ w| / (0.001 + |w|) is needed only when its match reaches the vigilance, and |w| is
        /// summed only then.
        @inline(__always)
        mutating func consider(_ j: Int, overlap: Double, weights: UnsafePointer<Double>, dimension: Int, inputSize: Double,
                               vigilance: Double) {
            let match = inputSize > 0 ? overlap / inputSize : 1
            self.match = max(self.match, match)
            guard match >= vigilance else { return }
            var size = 0.0
            for i in 0..<dimension { size += weights[4 * i] }
            let choice = overlap / (0.001 + size)
            if choice > self.choice {
                self.choice = choice
                resonating = j
            }
        }
    }
}

/// The Haar wavelet transform, in place and without a buffer, of the first power-of-two values
/// of `x` (a longer tail is left as is): at each level, pairs `stride` apart become their
/// normalised sum (at the first) and difference (at the second). The coefficients end up
/// interleaved rather than coarsest first, which a fuzzy ART does not see (its match is the
/// same for any fixed order of the features).
enum Haar {
    static func transform(_ x: UnsafeMutableBufferPointer<Double>) {
        var n = 1
        while n * 2 <= x.count { n *= 2 }
        let root = 2.0.squareRoot()
        var stride = 1
        while stride < n {
            for i in Swift.stride(from: 0, to: n, by: 2 * stride) {
                let a = x[i], b = x[i + stride]
                x[i] = (a + b) / root
                x[i + stride] = (a - b) / root
            }
            stride *= 2
        }
    }
}
