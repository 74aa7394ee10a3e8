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

        public init(_ detector: any StreamingDetector, weight: Double = 1) {
            self.detector = detector
            self.weight = weight.isNaN ? 0 : max(0, min(weight, Double.greatestFiniteMagnitude))
        }
    }

    public let threshold: Double
    /// Seconds after an alert during which lower scores are halved (0: never).
    public let refractory: Double
    private var components: [Component]
    /// Each component's weight over the total (Σ = 1), or all 0 when no weight is positive.
    private let shares: [Double]
    private var admission = SampleAdmission()
    /// The time of the last anomalous sample (−∞: none) and the episode's highest score.
    private var lastAlert = -Double.infinity
    private var peak = 0.0

    /// `threshold` is clamped to 0...1 (NaN: 0.5), `refractory` to ≥ 0 (NaN: 0).
    public init(_ components: [Component], threshold: Double = 0.5, refractory: Double = 0) {
        self.components = components
        self.threshold = ParameterRange.number(threshold, 0...1, default: 0.5)
        self.refractory = ParameterRange.number(refractory, 0...Double.greatestFiniteMagnitude, default: 0)
        // Scaled by the largest weight first, so that no sum of huge weights overflows.
        let largest = components.map(\.weight).max() ?? 0
        let scaled = components.map { largest > 0 ? $0.weight / largest : 0 }
        let total = scaled.reduce(0, +)
        self.shares = scaled.map { total > 0 ? $0 / total : 0 }
    }

    public var weights: [Double] { components.map(\.weight) }

    public mutating func observe(time: Double, value: Double) -> DetectorOutput {
        guard admission.admit(time: time, value: value) else { return .normal }
        var weighted = 0.0
        for index in components.indices {
            weighted += shares[index] * components[index].detector.observe(time: time, value: value).score
        }
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
