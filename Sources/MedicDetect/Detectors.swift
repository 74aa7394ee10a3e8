import MedicModel

/// Builds detectors from their specs (as the loader fills them, defaults included), for the
/// rule engine, the NAB scorer and `medic detect`.
public enum Detectors {
    /// A fresh detector for one series.
    public static func make(_ spec: DetectorSpec) -> any StreamingDetector {
        switch spec {
        case .threshold(let op, let value):
            ThresholdDetector(op: op, value: value)
        case .movingAverage(let window, let k):
            MovingAverageDetector(window: window, k: k)
        case .ewma(let alpha, let threshold, let warmup):
            EWMADetector(alpha: alpha, threshold: threshold, warmup: warmup)
        case .iqr(let window, let multiplier):
            IQRDetector(window: window, multiplier: multiplier)
        case .rateOfChange(let change, let within, let direction):
            RateOfChangeDetector(change: change, within: within, direction: direction)
        case .seasonal(let low, let high, let minSamples):
            SeasonalDetector(low: low, high: high, minSamples: minSamples)
        case .composite(let components, let threshold, let refractory):
            composite(components.map { .init(make($0.detector), weight: $0.weight, gate: $0.gate) }, threshold: threshold,
                      refractory: refractory?.seconds ?? 0)
        case .context(let levels, let span, let threshold):
            ContextDetector(levels: levels, span: span, threshold: threshold)
        case .relativeEntropy(let window, let bins, let models, let confidence):
            RelativeEntropyDetector(window: window, bins: bins, models: models, confidence: confidence)
        case .knnConformal(let dimension, let training, let calibration, let k, let threshold):
            KNNConformalDetector(dimension: dimension, training: training, calibration: calibration, k: k, threshold: threshold)
        case .adaptiveResonance(let step, let window, let levels, let learning, let capacity, let threshold):
            AdaptiveResonanceDetector(step: step, window: window, levels: levels, learning: learning, capacity: capacity,
                                      threshold: threshold)
        case .range(let tolerance, let warmup):
            RangeDetector(tolerance: tolerance, warmup: warmup)
        case .periodic(let block, let alpha, let threshold, let warmup):
            PeriodicDetector(block: block.seconds, alpha: alpha, threshold: threshold, warmup: warmup)
        }
    }

    /// A composite of these components: an `AutoEnsembleDetector` when they have `auto`'s shape
    /// (the same scores, without a box per component), else a `CompositeDetector`. The loader
    /// refuses a composite inside a composite; one built by hand still works.
    public static func composite(_ components: [CompositeDetector.Component], threshold: Double, refractory: Double)
        -> any StreamingDetector {
        if let ensemble = AutoEnsembleDetector(components, threshold: threshold, refractory: refractory) { return ensemble }
        return CompositeDetector(components, threshold: threshold, refractory: refractory)
    }

    /// A fresh detector for one series of `rule`: its detector, held for the rule's `for`
    /// (none: fires on the first anomalous sample).
    public static func make(_ rule: AnomalyRule) -> SustainedDetector {
        SustainedDetector(make(rule.detector), for: rule.sustain?.seconds ?? 0)
    }
}
