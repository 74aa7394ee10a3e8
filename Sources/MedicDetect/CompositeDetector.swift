import MedicModel

/// `composite` (§1.4): the weighted mean of its components' scores.
///
/// Every component sees every accepted sample; the score is `Σ weightᵢ·scoreᵢ / Σ weightᵢ`,
/// anomalous when it is at least `threshold` (and above 0: a composite whose components all say
/// 0 is never anomalous, even with threshold 0). Components whose weight is 0, negative or NaN
/// count as weight 0; with no positive weight at all the score is 0 and nothing fires. Since
/// each component scores 0.5 at its own limit, a threshold of 0.5 fires when the weighted
/// components are, on average, at their limits.
///
/// A component marked `gate` is not in the mean: its score `s` is mapped so that its own limit
/// lands on the composite's threshold — `threshold + (1 − threshold)·(s − 0.5)/0.5` from 0.5 up,
/// `threshold·s/0.5` below — and the composite's score is the larger of the mean of the other
/// components and every gate's mapped score. So a gate at its limit makes the composite
/// anomalous on its own, graded by how far past its limit it is, while below its limit it cannot
/// lift the mean: a detector strong on one kind of series counts there without diluting, or
/// being diluted by, the others. A gate's weight only switches it on (> 0) or off; the mapped
/// score is below 1 whenever the gate's is.
///
/// `refractory` (seconds of sample time, default 0: off) damps the alerts that follow an alert.
/// After an anomalous sample, for `refractory` seconds after it, a score that is not above the
/// highest score of the episode is halved: it stays graded, but ranks below any fresh anomaly,
/// so one lasting anomaly is one alert instead of a run of them, while a larger anomaly inside
/// the period is reported whole. Each anomalous sample (damped or not) extends the period; the
/// episode's peak is the highest score reported whole. The same idea as a rule's cooldown, but
/// on the score, so a scorer that ranks scores (NAB) sees it.
///
/// Work per sample: the components' work. Memory per series: the components' memory plus
/// `MemoryLayout<CompositeDetector>.size` (56 bytes) and, on the heap, 64 + 56 bytes per
/// component (its existential and weight, its share); a component larger than 24 bytes lives
/// in a heap box of its own.
public struct CompositeDetector: StreamingDetector {
    public struct Component: Sendable {
        public var detector: any StreamingDetector
        public var weight: Double
        public var gate: Bool

        public init(_ detector: any StreamingDetector, weight: Double = 1, gate: Bool = false) {
            self.detector = detector
            self.weight = weight.isNaN ? 0 : max(0, min(weight, Double.greatestFiniteMagnitude))
            self.gate = gate
        }
    }

    public var threshold: Double { scoring.threshold }
    /// Seconds after an alert during which lower scores are halved (0: never).
    public var refractory: Double { scoring.refractory }
    private var components: [Component]
    /// Each averaged component's weight over their total (Σ = 1), or all 0 when no weight is
    /// positive; a gate's share is 1 when its weight is positive, else 0.
    private let shares: [Double]
    private var admission = SampleAdmission()
    private var scoring: CompositeScoring

    /// `threshold` is clamped to 0...1 (NaN: 0.5), `refractory` to ≥ 0 (NaN: 0).
    public init(_ components: [Component], threshold: Double = 0.5, refractory: Double = 0) {
        self.components = components
        self.scoring = CompositeScoring(threshold: threshold, refractory: refractory)
        self.shares = Self.shares(components)
    }

    /// Each component's share of the score: an averaged component's weight over the averaged
    /// components' total (scaled by the largest weight first, so that no sum of huge weights
    /// overflows), a gate's 1 when its weight is positive; all 0 without a positive weight.
    static func shares(_ components: [Component]) -> [Double] {
        let averaged = components.filter { !$0.gate }
        let largest = averaged.map(\.weight).max() ?? 0
        let total = averaged.reduce(0) { $0 + (largest > 0 ? $1.weight / largest : 0) }
        return components.map { component in
            if component.gate { return component.weight > 0 ? 1 : 0 }
            return total > 0 ? component.weight / largest / total : 0
        }
    }

    public var weights: [Double] { components.map(\.weight) }

    public mutating func observe(time: Double, value: Double) -> DetectorOutput {
        guard admission.admit(time: time, value: value) else { return .normal }
        var weighted = 0.0, gated = 0.0
        for index in components.indices {
            let score = components[index].detector.observe(time: time, value: value).score
            if components[index].gate {
                if shares[index] > 0 { gated = max(gated, scoring.gateScore(score)) }
            } else {
                weighted += shares[index] * score
            }
        }
        return scoring.output(weighted: weighted, gated: gated, time: time)
    }
}

/// What a composite makes of its components' scores (shared by `CompositeDetector` and
/// `AutoEnsembleDetector`, so that both give the same score to the last bit): the larger of the
/// weighted mean and the gates' mapped scores, then the refractory period.
struct CompositeScoring: Sendable {
    let threshold: Double
    let refractory: Double
    /// The time of the last anomalous sample (−∞: none) and the episode's highest score.
    private var lastAlert = -Double.infinity
    private var peak = 0.0

    /// `threshold` is clamped to 0...1 (NaN: 0.5), `refractory` to ≥ 0 (NaN: 0).
    init(threshold: Double, refractory: Double) {
        self.threshold = ParameterRange.number(threshold, 0...1, default: 0.5)
        self.refractory = ParameterRange.number(refractory, 0...Double.greatestFiniteMagnitude, default: 0)
    }

    /// The composite's output for an accepted sample, from the weighted mean of the averaged
    /// components and the highest mapped score of the gates (0 without any).
    mutating func output(weighted mean: Double, gated: Double, time: Double) -> DetectorOutput {
        var weighted = max(mean, gated)
        guard refractory > 0 else {
            return DetectorOutput(anomalous: weighted > 0 && weighted >= threshold, score: weighted)
        }
        let inPeriod = time - lastAlert < refractory
        if inPeriod && weighted <= peak { weighted /= 2 }
        let anomalous = weighted > 0 && weighted >= threshold
        if anomalous {
            peak = inPeriod ? max(peak, weighted) : weighted
            lastAlert = time
        }
        return DetectorOutput(anomalous: anomalous, score: weighted)
    }

    /// A gate's score on the composite's scale: its limit 0.5 on `threshold`, 1 on 1, 0 on 0.
    func gateScore(_ score: Double) -> Double {
        score >= 0.5 ? threshold + (1 - threshold) * (score - 0.5) / 0.5 : threshold * score / 0.5
    }
}

/// The severity of a composite score (§1.4): critical above 0.9, high above 0.75, medium above
/// 0.5, low above 0.3, info above 0.1; a score of 0.1 or less has none.
public enum CompositeSeverity: String, Sendable, Hashable, CaseIterable, Comparable {
    case info, low, medium, high, critical

    public init?(score: Double) {
        switch score {
        case let s where s > 0.9: self = .critical
        case let s where s > 0.75: self = .high
        case let s where s > 0.5: self = .medium
        case let s where s > 0.3: self = .low
        case let s where s > 0.1: self = .info
        default: return nil
        }
    }

    /// The lowest score of this severity (exclusive): the score must be above it.
    public var threshold: Double {
        switch self {
        case .critical: 0.9
        case .high: 0.75
        case .medium: 0.5
        case .low: 0.3
        case .info: 0.1
        }
    }

    /// The catalog's severity of the same name (critical = SEV0 ... low = SEV3, info).
    public var severity: Severity {
        switch self {
        case .critical: .sev0
        case .high: .sev1
        case .medium: .sev2
        case .low: .sev3
        case .info: .info
        }
    }

    public static func < (a: CompositeSeverity, b: CompositeSeverity) -> Bool { a.threshold < b.threshold }
}
