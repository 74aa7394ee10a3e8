/// `periodic`: a value unlike the one just before it and unlike the same time of day a day and a
/// week before — a break in the series' daily or weekly pattern, or a sudden move that the pattern
/// does not explain.
///
/// Time is cut into blocks of `block` seconds (by sample timestamps, UTC, from the epoch); each
/// finished block leaves its mean in a ring that reaches one week back. A sample in block k is
/// compared with three references: the previous accepted value, the mean of block k − day/block
/// (the same time a day before) and the mean of block k − week/block (a week before), each when
/// it exists (a gap leaves none). Its residual r is the distance to the **nearest** of them, so a
/// value is unusual only when it is unlike all three: a weekday after a weekend is like the same
/// day a week before, a daily peak is like yesterday's, a slow drift is like the previous value.
///
/// r is then scored as `ewma` scores a deviation: against `threshold` times σ, the running root
/// mean square of the residuals (σ² ← (1 − alpha)·(σ² + alpha·r²)), a *ratio* (0.5 at the limit,
/// towards 1 far past it; anomalous above it). Should r² or σ² pass Double's range (residuals
/// above about 1e154), σ is kept from then on instead of σ², by the same update scaled by the
/// larger of σ and r, so that such a series is judged against its own spread rather than
/// against a spread that stopped growing. Nothing is scored before the first day's
/// reference exists and `warmup` residuals have been seen; a residual below rounding (1e-12 of
/// the values compared) counts as 0. The residual joins σ after it is scored.
///
/// Work O(1) per sample. Memory fixed at creation: the ring, one mean and one block number per
/// block of a week plus one (`week/block + 1`): **5.3 KB** at the default block of 30 minutes,
/// at most 31.5 KB (block 5 minutes); `heapBytes`.
public struct PeriodicDetector: StreamingDetector {
    /// Seconds per block: a day divided by a whole number of blocks, 300...86,400 (a value given
    /// that does not divide a day is moved to the nearest that does, so that "a day before" and
    /// "a week before" are exactly that).
    public let block: Double
    public let alpha: Double
    public let threshold: Double
    public let warmup: Int
    /// Blocks in a day and in a week (each at least 1).
    let dayBlocks: Int64
    let weekBlocks: Int64
    /// A week of blocks and one more, as a ring: each slot's block number and mean side by side,
    /// so that looking a reference up reads one cache line.
    private var ring: [Slot]
    /// The block being filled (nil before the first sample with a representable block), its sum
    /// and count.
    private var current: Int64?
    private var sum = 0.0
    private var count = 0
    private var previous: Double?
    private var variance = 0.0
    /// σ itself, once σ² or a residual's square has passed Double's range (nil until then).
    private var sigma: Double?
    private var seen = 0
    private var admission = SampleAdmission()
    private var last = Explained()

    public static let day = 86_400.0
    public static let week = 604_800.0

    public init(block: Double = 1_800, alpha: Double = 0.01, threshold: Double = 3, warmup: Int = 100) {
        let given = ParameterRange.number(block, 300...Self.day, default: 1_800)
        self.block = Self.day / (Self.day / given).rounded()
        self.alpha = alpha > 0 ? min(alpha, 1) : 0.01
        self.threshold = ParameterRange.number(threshold, 0...ParameterRange.maxMultiplier, default: 3)
        self.warmup = max(1, warmup)
        dayBlocks = max(1, Int64((Self.day / self.block).rounded()))
        weekBlocks = max(1, Int64((Self.week / self.block).rounded()))
        ring = [Slot](repeating: Slot(), count: Int(weekBlocks) + 1)
    }

    public mutating func observe(time: Double, value: Double) -> DetectorOutput {
        guard admission.admit(time: time, value: value) else { return .normal }
        // A block number far beyond any real clock (|t| > 2^53 blocks) has no references.
        let quotient = (time / block).rounded(.down)
        let k: Int64? = abs(quotient) < 9.0e15 ? Int64(quotient) : nil
        if let k, let open = current, k != open {
            let mean = sum / Double(count)
            // A block whose values' sum passed Double's range (values near ±1e308, many to a
            // block) leaves no reference rather than an infinite one.
            ring[slot(open)] = Slot(block: mean.isFinite ? open : .min, mean: mean)
            sum = 0
            count = 0
        }
        if let k { current = k } else { current = nil; sum = 0; count = 0 }
        var residual = Double.infinity
        var found = Explained(value: value)
        if let k {
            if let mean = reference(k - dayBlocks) {
                found.dayBefore = mean
                residual = min(residual, distance(value, mean))
            }
            if let mean = reference(k - weekBlocks) {
                found.weekBefore = mean
                residual = min(residual, distance(value, mean))
            }
            // Halves, so that a sum of two values near ±Double.greatestFiniteMagnitude stays
            // finite; a longer one may not, and its block is then left out (above).
            sum += value / 2
            count += 1
        }
        let before = previous
        previous = value
        // Only a sample with a seasonal reference is judged; the previous value alone is not.
        guard residual.isFinite else {
            last = found
            return .normal
        }
        if let before {
            found.previous = before
            residual = min(residual, distance(value, before))
        }
        var output = DetectorOutput.normal
        if seen >= warmup {
            let limit = threshold * (sigma ?? variance.squareRoot())
            let score = AnomalyScore.ratio(deviation: residual, limit: limit, reference: value)
            output = DetectorOutput(anomalous: residual > limit, score: score)
            found.limit = limit
        } else {
            seen += 1
        }
        found.residual = residual
        last = found
        learn(residual)
        return output
    }

    /// The residual joins the running mean square: σ² while it stays within Double's range, σ
    /// (scaled by the larger of σ and r, so that nothing squared can overflow) from then on.
    private mutating func learn(_ residual: Double) {
        if sigma == nil {
            let next = (1 - alpha) * (variance + alpha * residual * residual)
            if next.isFinite {
                variance = next < Double.leastNormalMagnitude ? 0 : next
                return
            }
            sigma = variance.squareRoot()
        }
        guard let old = sigma else { return }
        let scale = max(old, residual)
        guard scale > 0 else { return }
        let (s, r) = (old / scale, residual / scale)
        let next = scale * ((1 - alpha) * (s * s + alpha * r * r)).squareRoot()
        sigma = next < Double.leastNormalMagnitude ? 0 : next
    }

    /// The distance between two values, 0 when it is below their rounding.
    private func distance(_ a: Double, _ b: Double) -> Double {
        let d = abs(a - b)
        guard d.isFinite else { return .greatestFiniteMagnitude }
        return AnomalyScore.isRounding(d, a, b) ? 0 : d
    }

    private func slot(_ k: Int64) -> Int {
        let size = Int64(ring.count)
        return Int(((k % size) + size) % size)
    }

    /// The mean of block `k` when the ring holds it (the sum was kept in halves).
    private func reference(_ k: Int64) -> Double? {
        let slot = ring[self.slot(k)]
        return slot.block == k ? 2 * slot.mean : nil
    }

    public var heapBytes: Int { 32 + MemoryLayout<Slot>.stride * ring.count }

    /// Reads the ring's header and the slots of a day and a week before `time`'s block (what
    /// `observe` will look up), as `KNNConformalDetector.touch` does.
    @inline(__always)
    func touch(time: Double) -> Int {
        let quotient = (time / block).rounded(.down)
        guard abs(quotient) < 9.0e15 else { return ring.count }
        let k = Int64(quotient)
        return Int(truncatingIfNeeded: ring[slot(k - dayBlocks)].block &+ ring[slot(k - weekBlocks)].block)
    }

    /// A ring slot: the block it holds (`Int64.min`, never a block number: none yet) and that
    /// block's mean (in halves, as the sum is kept).
    struct Slot {
        var block = Int64.min
        var mean = 0.0
    }

    struct Explained {
        var value = 0.0
        var previous: Double?
        var dayBefore: Double?
        var weekBefore: Double?
        var residual: Double?
        var limit: Double?
    }

    public var explanation: String {
        guard let residual = last.residual else {
            return "not judged: no sample in the same \(Int(block)) s block a day or a week before (the first day, or a gap)"
        }
        var references = [String]()
        if let p = last.previous { references.append("the previous value \(p)") }
        if let d = last.dayBefore { references.append("the mean a day before \(d)") }
        if let w = last.weekBefore { references.append("the mean a week before \(w)") }
        let nearest = "\(last.value) is \(residual) from the nearest of " + references.joined(separator: ", ")
        guard let limit = last.limit else { return nearest + "; learning: \(seen) of \(warmup) residuals seen" }
        return nearest + "; the limit is \(limit) (\(threshold) × the residuals' running RMS)"
    }
}
