import MedicModel

/// The `auto` ensemble: one detector configuration for any series, chosen once on the 31-series
/// NAB subset by leave-one-corpus-out cross-validation (docs/detection.md, "The auto preset",
/// says how and gives the folds).
///
/// A composite of three detectors that see different things: `periodic` (a value unlike the one
/// before it and unlike the same time a day and a week before: a break in the daily or weekly
/// pattern), the nearest-neighbour conformal detector (a stretch of values unlike the recent
/// stretches, ranked against its own recent history, so that its scores mean the same on every
/// series) and the context detector (a sequence of quantised values never seen before), weighted
/// 3, 1, 1. A gate counts alone at its limit instead of in the mean: `range` (a value outside
/// every value seen so far), which the mean would dilute. The refractory period turns a lasting
/// anomaly into one alert.
///
/// `Detectors.make` builds it as an `AutoEnsembleDetector` (the four detectors as fields of one
/// value; the same scores as the general composite, to the last bit). Memory per series: the
/// components' (knn_conformal 2.2 KB, context 8.2 KB, periodic 5.3 KB, range 64 B) and the
/// weights: `heapBytes` + `MemoryLayout<AutoEnsembleDetector>.stride`: 16,727 bytes. Work per
/// sample: dominated by knn_conformal's 50 sliding distances and its ranking against 100
/// calibration values, on state that is out of cache when there are many series.
public enum AutoPreset {
    // The components, as the preset defines them (`DetectorPreset`, the one definition).
    public static let knn = DetectorPreset.autoKNN
    public static let context = DetectorPreset.autoContext
    public static let periodic = DetectorPreset.autoPeriodic
    public static let range = DetectorPreset.autoRange
    /// The slow EWMA of the previous `auto` (and of `ewma-nab`), a candidate component still.
    public static let ewma = DetectorPreset.nabEWMA

    /// The ensemble's components with their weights, its threshold and its refractory period:
    /// the preset `auto` (`DetectorPreset`, where it is defined once).
    public static let auto = DetectorPreset.autoEnsemble

    /// Heap bytes per series of `auto` (an `AutoEnsembleDetector`): its components' own heap and
    /// its weights' array.
    public static var heapBytes: Int {
        (Detectors.make(auto) as? AutoEnsembleDetector)?.heapBytes ?? compositeHeapBytes
    }

    /// `auto`'s components in the general `CompositeDetector` (a box each), which scores as
    /// `auto` does: for comparison (`MedicBench detect-throughput`, `AutoEnsembleTests`).
    public static func composite() -> CompositeDetector {
        guard case .composite(let components, let threshold, let refractory) = auto else { preconditionFailure("auto is a composite") }
        return CompositeDetector(components.map { .init(Detectors.make($0.detector), weight: $0.weight, gate: $0.gate) },
                                 threshold: threshold, refractory: refractory?.seconds ?? 0)
    }

    /// Heap bytes per series of `composite()`: each component's own heap and its box (a 16-byte
    /// header and the detector: these are larger than an existential's inline buffer), the
    /// composite's component array (a 32-byte header and a `Component` each) and its shares
    /// (32 + 8 each).
    public static var compositeHeapBytes: Int {
        let boxes = 4 * 16 + MemoryLayout<KNNConformalDetector>.size + MemoryLayout<ContextDetector>.size
            + MemoryLayout<PeriodicDetector>.size + MemoryLayout<RangeDetector>.size
        return boxes + KNNConformalDetector().heapBytes + ContextDetector().heapBytes + PeriodicDetector().heapBytes
            + 32 + MemoryLayout<CompositeDetector.Component>.stride * 4 + 32 + 8 * 4
    }
}
