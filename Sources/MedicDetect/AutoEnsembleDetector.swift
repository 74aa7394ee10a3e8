/// A composite of `auto`'s shape — `knn_conformal`, `context` and `periodic` averaged, `range` as a
/// gate, in that order, with any parameters and weights — holding its components as their own
/// types instead of in existential boxes. `Detectors.make` builds one for every composite of that
/// shape (the preset `auto`, or a rule that spells the same components out).
///
/// It scores exactly as `CompositeDetector` with the same components, to the last bit (the same
/// admission, shares, order of sums, gate mapping and refractory period: `CompositeScoring`);
/// `AutoEnsembleTests` holds the two equal. What makes it faster (1.24-1.36 times the composite
/// over 10,000 series, docs/benchmarks.md) is `touch`: over many series each one's state is out
/// of cache when its sample comes, and reading every component's array headers and first
/// values before running any of them starts those loads together instead of one after another.
/// Holding the four detectors as fields of one value, without a box each, gained nothing by
/// itself (0.97 times), and the same reads made by the general composite through each
/// component's box gained nothing either (each read waits for its box first): the two together
/// are what helps.
///
/// Memory per series: `MemoryLayout<AutoEnsembleDetector>.size` inline (the four detectors'
/// fields, the shares, the refractory state) plus the components' own heap (`heapBytes`).
public struct AutoEnsembleDetector: StreamingDetector {
    private var knn: KNNConformalDetector
    private var context: ContextDetector
    private var periodic: PeriodicDetector
    private var range: RangeDetector
    /// The averaged components' shares (as `CompositeDetector.shares` gives them), and whether
    /// the gate counts (its weight is positive).
    private let knnShare: Double, contextShare: Double, periodicShare: Double
    private let gateOn: Bool
    private var admission = SampleAdmission()
    private var scoring: CompositeScoring
    /// What the reads at the start of a sample gave (kept, so that they are made).
    private var touched = 0
    /// The components' weights, in order (knn_conformal, context, periodic, range).
    public let weights: [Double]

    /// The ensemble of these components, or nil when they are not, in this order, a
    /// `KNNConformalDetector`, a `ContextDetector` and a `PeriodicDetector` (none a gate) and a
    /// `RangeDetector` marked as a gate. `threshold` and `refractory` as `CompositeDetector`'s.
    public init?(_ components: [CompositeDetector.Component], threshold: Double = 0.5, refractory: Double = 0) {
        guard components.count == 4,
              let knn = components[0].detector as? KNNConformalDetector, !components[0].gate,
              let context = components[1].detector as? ContextDetector, !components[1].gate,
              let periodic = components[2].detector as? PeriodicDetector, !components[2].gate,
              let range = components[3].detector as? RangeDetector, components[3].gate
        else { return nil }
        self.knn = knn
        self.context = context
        self.periodic = periodic
        self.range = range
        let shares = CompositeDetector.shares(components)
        (knnShare, contextShare, periodicShare) = (shares[0], shares[1], shares[2])
        gateOn = shares[3] > 0
        scoring = CompositeScoring(threshold: threshold, refractory: refractory)
        weights = components.map(\.weight)
    }

    public var threshold: Double { scoring.threshold }
    public var refractory: Double { scoring.refractory }

    /// Heap bytes per series: the components' own (range has none); the weights' array is one
    /// per detector built, shared by its copies, and counted too.
    public var heapBytes: Int { knn.heapBytes + context.heapBytes + periodic.heapBytes + 32 + 8 * weights.count }

    public mutating func observe(time: Double, value: Double) -> DetectorOutput {
        guard admission.admit(time: time, value: value) else { return .normal }
        // Over many series each one's state is out of cache when its sample comes. Reading the
        // components' array headers and periodic's two reference slots first starts those loads
        // together, instead of one after another as each component reaches its own.
        touched = knn.touch() &+ context.touch() &+ periodic.touch(time: time)
        let knnScore = knn.observe(time: time, value: value).score
        let contextScore = context.observe(time: time, value: value).score
        let periodicScore = periodic.observe(time: time, value: value).score
        let rangeScore = range.observe(time: time, value: value).score
        // The composite's loop, unrolled: the sums in the components' order, from 0.
        var weighted = 0.0
        weighted += knnShare * knnScore
        weighted += contextShare * contextScore
        weighted += periodicShare * periodicScore
        let gated = gateOn ? max(0, scoring.gateScore(rangeScore)) : 0
        return scoring.output(weighted: weighted, gated: gated, time: time)
    }
}
