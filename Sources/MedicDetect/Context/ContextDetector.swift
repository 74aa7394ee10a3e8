/// `context`: an anomaly is a context the series has never been in, in the manner of the
/// Contextual Anomaly Detector (CAD OSE, Smirnov and Lavrentyev, NAB 2016): the recent values,
/// quantised, form a context; the contexts seen are learned; a sample whose context is new is
/// anomalous, the more so the more of it is new.
///
/// Each accepted value is quantised into `levels` equal bins over the range of the values seen
/// so far, `[min, max]` (a value beyond the range widens it and falls in the end bin). With q₀
/// the current bin and q₁ … q_s the bins of the `span` values before it, the context is made of
/// `span` facts, one per lag i, "q_i then, i samples later, q₀", plus one fact for the whole
/// sequence q_s … q₀. The novelty is the share of those facts never seen before, the whole-
/// sequence fact counting as much as all the lag facts together:
/// `n = (newLagFacts / span + newSequence) / 2`. Every fact is then learned.
///
/// Score: `0.98·n + 0.02·t`, where the tie-breaker t = `AnomalyScore.ratio` of the value's
/// distance from the previous value to the range width (0.5 at a jump of the whole range), so
/// that equal novelties rank by how far the value moved and no score reaches 1. Anomalous when
/// the score is at least `threshold`. The first `span` values only fill the context.
///
/// Memory per series: fixed at creation, `MemoryLayout<ContextDetector>.size` plus,
/// on the heap, the lag facts `span·levels²` bits, the sequence facts 2¹⁶ bits (8 KB, hashed:
/// two sequences may share a bit, which only ever lowers a novelty) and `span` bytes of recent
/// bins: 8.2 KB at the defaults (levels 8, span 7), at most 8 KB + 64·32²/8 B = 16.2 KB.
/// Work per sample: O(span).
public struct ContextDetector: StreamingDetector {
    public let levels: Int
    public let span: Int
    public let threshold: Double
    private var lagFacts: [UInt64]
    private var sequenceFacts: [UInt64]
    private var recent: [UInt8]
    private var head = 0
    private var filled = 0
    private var low = Double.infinity
    private var high = -Double.infinity
    private var previous = 0.0
    private var admission = SampleAdmission()
    private var last = Explained(novelty: 0, newLagFacts: 0, newSequence: false, bin: 0, low: 0, high: 0)

    static let sequenceBits = 1 << 16

    /// `levels` is clamped to 2...32, `span` to 1...64, `threshold` to 0...1 (NaN: 0.5).
    public init(levels: Int = 8, span: Int = 7, threshold: Double = 0.5) {
        self.levels = ParameterRange.count(levels, 2...32)
        self.span = ParameterRange.count(span, 1...64)
        self.threshold = ParameterRange.number(threshold, 0...1, default: 0.5)
        lagFacts = [UInt64](repeating: 0, count: (self.span * self.levels * self.levels + 63) / 64)
        sequenceFacts = [UInt64](repeating: 0, count: Self.sequenceBits / 64)
        recent = [UInt8](repeating: 0, count: self.span)
    }

    public mutating func observe(time: Double, value: Double) -> DetectorOutput {
        guard admission.admit(time: time, value: value) else { return .normal }
        low = min(low, value)
        high = max(high, value)
        // Halves, so that the width of values near ±Double.greatestFiniteMagnitude stays finite.
        let width = high / 2 - low / 2
        let bin = width > 0 ? Self.bin(of: (value / 2 - low / 2) / width, levels) : 0
        defer {
            recent[head] = UInt8(bin)
            head = head + 1 == span ? 0 : head + 1
            filled = min(filled + 1, span)
            previous = value
        }
        guard filled == span else { return .normal }
        var newLag = 0
        // FNV-1a over the sequence, oldest first, then the current bin.
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        let span = self.span, levels = self.levels, head = self.head
        // Through buffers: one uniqueness check of the lag facts per sample, not one per fact
        // (`auto`'s profile over 10,000 series spent 17% in such checks, about 1 point of it
        // here and the rest in the composite's boxes).
        recent.withUnsafeBufferPointer { recent in
            lagFacts.withUnsafeMutableBufferPointer { facts in
                var index = head // the oldest of the recent bins
                for step in 0..<span {
                    let then = Int(recent[index])
                    let lag = span - step
                    if Self.learn(facts, ((lag - 1) * levels + then) * levels + bin) { newLag += 1 }
                    hash = (hash ^ UInt64(then)) &* 0x100_0000_01b3
                    index = index + 1 == span ? 0 : index + 1
                }
            }
        }
        hash = (hash ^ UInt64(bin)) &* 0x100_0000_01b3
        let newSequence = sequenceFacts.withUnsafeMutableBufferPointer {
            Self.learn($0, Int(truncatingIfNeeded: (hash ^ (hash >> 29)) & UInt64(Self.sequenceBits - 1)))
        }
        let novelty = (Double(newLag) / Double(span) + (newSequence ? 1 : 0)) / 2
        let jump = AnomalyScore.ratio(deviation: abs(value / 2 - previous / 2), limit: width, reference: value)
        let score = 0.98 * novelty + 0.02 * jump
        last = Explained(novelty: novelty, newLagFacts: newLag, newSequence: newSequence, bin: bin, low: low, high: high)
        return DetectorOutput(anomalous: score >= threshold && score > 0, score: score)
    }

    /// The bin of a position in [0, 1] among `levels` equal bins (1 falls in the last).
    static func bin(of position: Double, _ levels: Int) -> Int {
        guard position > 0 else { return 0 }
        return min(levels - 1, Int(min(position, 1) * Double(levels)))
    }

    /// Sets the bit; whether it was clear (the fact is new).
    @inline(__always)
    private static func learn(_ bits: UnsafeMutableBufferPointer<UInt64>, _ bit: Int) -> Bool {
        let mask: UInt64 = 1 << UInt64(bit & 63)
        let word = bits[bit >> 6]
        bits[bit >> 6] = word | mask
        return word & mask == 0
    }

    struct Explained {
        var novelty: Double
        var newLagFacts: Int
        var newSequence: Bool
        var bin: Int
        var low: Double
        var high: Double
    }

    /// Heap bytes held (array headers of 32 bytes included); with `MemoryLayout<Self>.size`, the
    /// memory per series.
    public var heapBytes: Int { 96 + 8 * (lagFacts.count + sequenceFacts.count) + recent.count }

    /// Reads the arrays' headers, as `KNNConformalDetector.touch` does.
    @inline(__always)
    func touch() -> Int { lagFacts.count &+ sequenceFacts.count &+ recent.count }

    /// What the last scored sample had that was new, against what was learned.
    public var explanation: String {
        guard filled == span else { return "learning: the first \(span) values only fill the context" }
        let sequence = last.newSequence ? "a sequence of \(span + 1) bins never seen before" : "a sequence seen before"
        return "bin \(last.bin + 1) of \(levels) over [\(last.low), \(last.high)]: \(last.newLagFacts) of \(span) lagged "
            + "transitions new, \(sequence); novelty \(last.novelty)"
    }
}
