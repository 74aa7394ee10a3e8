public enum DetectorKind: String, Sendable, Hashable, Codable, CaseIterable {
    case threshold
    case movingAverage = "moving_average"
    case ewma
    case iqr
    case rateOfChange = "rate_of_change"
    case seasonal
    case composite
    case context
    case relativeEntropy = "relative_entropy"
    case knnConformal = "knn_conformal"
    case adaptiveResonance = "adaptive_resonance"
    case range
    case periodic
}

public enum ChangeDirection: String, Sendable, Hashable, Codable, CaseIterable {
    case increase, decrease, both
}

/// A detector with its parameters, defaults filled in.
public indirect enum DetectorSpec: Sendable, Hashable, Codable {
    case threshold(op: ComparisonOperator, value: Quantity)
    case movingAverage(window: Int, k: Double)
    case ewma(alpha: Double, threshold: Double, warmup: Int)
    case iqr(window: Int, multiplier: Double)
    case rateOfChange(change: Percentage, within: Interval, direction: ChangeDirection)
    case seasonal(low: Double, high: Double, minSamples: Int)
    /// `refractory`: after an anomalous score, how long later scores not above it are damped
    /// (nil: never).
    case composite(components: [WeightedDetector], threshold: Double, refractory: Interval? = nil)
    case context(levels: Int, span: Int, threshold: Double)
    case relativeEntropy(window: Int, bins: Int, models: Int, confidence: Double)
    case knnConformal(dimension: Int, training: Int, calibration: Int, k: Int, threshold: Double)
    case adaptiveResonance(step: Int, window: Int, levels: Int, learning: Int, capacity: Int, threshold: Double)
    case range(tolerance: Double, warmup: Int)
    /// Blocks of `block` (300 s ... 1 day), against the previous value and the same block a day and a week before.
    case periodic(block: Interval, alpha: Double, threshold: Double, warmup: Int)

    public struct WeightedDetector: Sendable, Hashable, Codable {
        public var detector: DetectorSpec
        public var weight: Double
        /// A gate is not averaged with the others: at its own limit it makes the composite
        /// anomalous alone (`CompositeDetector`).
        public var gate: Bool

        public init(detector: DetectorSpec, weight: Double, gate: Bool = false) {
            self.detector = detector
            self.weight = weight
            self.gate = gate
        }

        private enum CodingKeys: String, CodingKey { case detector, weight, gate }

        // `gate` is written only when set, and absent reads as false, so that the encoding of
        // every composite written before gates existed is unchanged.
        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            detector = try container.decode(DetectorSpec.self, forKey: .detector)
            weight = try container.decode(Double.self, forKey: .weight)
            gate = try container.decodeIfPresent(Bool.self, forKey: .gate) ?? false
        }

        public func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(detector, forKey: .detector)
            try container.encode(weight, forKey: .weight)
            if gate { try container.encode(gate, forKey: .gate) }
        }
    }

    public var kind: DetectorKind {
        switch self {
        case .threshold: .threshold
        case .movingAverage: .movingAverage
        case .ewma: .ewma
        case .iqr: .iqr
        case .rateOfChange: .rateOfChange
        case .seasonal: .seasonal
        case .composite: .composite
        case .context: .context
        case .relativeEntropy: .relativeEntropy
        case .knnConformal: .knnConformal
        case .adaptiveResonance: .adaptiveResonance
        case .range: .range
        case .periodic: .periodic
        }
    }
}

/// An anomaly rule: a detector over a metric series that may start a playbook (§1).
public struct AnomalyRule: Sendable, Hashable, Codable {
    public var name: String
    public var description: String?
    public var metric: MetricSelector
    public var detector: DetectorSpec
    public var sustain: Interval?
    public var severity: Severity
    /// The playbook to start (the first of `playbook:` when it lists several).
    public var playbook: String?
    /// The other playbooks `playbook:` lists: candidates ranked with the first by the knowledge
    /// base (§6.2); the first is only the tie-breaker.
    public var alternatives: [String] = []
    public var parameters: [StepArgument]
    /// Playbook parameter name -> label whose value it takes (`paths: path`).
    public var parametersFromLabels: [String: String]
    public var cooldown: Interval?
    public var groupBy: [String]
    public var location: SourceLocation
    public var playbookLocation: SourceLocation?

    public init(name: String, description: String? = nil, metric: MetricSelector, detector: DetectorSpec,
                sustain: Interval? = nil, severity: Severity, playbook: String? = nil, parameters: [StepArgument] = [],
                parametersFromLabels: [String: String] = [:], cooldown: Interval? = nil, groupBy: [String] = [],
                location: SourceLocation, playbookLocation: SourceLocation? = nil) {
        self.name = name
        self.description = description
        self.metric = metric
        self.detector = detector
        self.sustain = sustain
        self.severity = severity
        self.playbook = playbook
        self.parameters = parameters
        self.parametersFromLabels = parametersFromLabels
        self.cooldown = cooldown
        self.groupBy = groupBy
        self.location = location
        self.playbookLocation = playbookLocation
    }

    /// Every playbook the rule names, in the order written.
    public var playbooks: [String] { (playbook.map { [$0] } ?? []) + alternatives }
}
