import MedicModel

/// The `auto` ensemble: one detector configuration for any series, chosen once on the 31-series
/// NAB subset by leave-one-corpus-out cross-validation (docs/detection.md, "The auto preset",
/// says how and gives the folds).
///
/// A composite of three detectors that see different things: a slow EWMA (a value far from the
/// series' long-run level), the nearest-neighbour conformal detector (a stretch of values unlike
/// the recent stretches, ranked against its own recent history, so that its scores mean the same
/// on every series) and the context detector (a sequence of quantised values never seen before).
/// A gate counts alone at its limit instead of in the mean: `range` (a value outside every value
/// seen so far), which the mean would dilute. The refractory period turns a lasting anomaly into
/// one alert.
///
/// Memory per series: the components' (EWMA 56 B, knn_conformal 2.3 KB, context 8.2 KB, range
/// 64 B), their boxes and the composite's arrays: `heapBytes` + `MemoryLayout<CompositeDetector>.size`,
/// about 11.5 KB. Work per sample: dominated by knn_conformal's 50 sliding distances and its
/// ranking against 100 calibration values.
public enum AutoPreset {
    // The components, as the preset defines them (`DetectorPreset`, the one definition).
    public static let ewma = DetectorPreset.nabEWMA
    public static let knn = DetectorPreset.autoKNN
    public static let context = DetectorPreset.autoContext
    public static let range = DetectorPreset.autoRange

    /// The ensemble's components with their weights, its threshold and its refractory period:
    /// the preset `auto` (`DetectorPreset`, where it is defined once).
    public static let auto = DetectorPreset.autoEnsemble

    /// Heap bytes per series of `auto`: each component's own heap and its box (a 16-byte header
    /// and the detector: these are larger than an existential's inline buffer), the composite's
    /// component array (a 32-byte header and a `Component` each) and its shares (32 + 8 each).
    public static var heapBytes: Int {
        let boxes = 4 * 16 + MemoryLayout<EWMADetector>.size + MemoryLayout<KNNConformalDetector>.size
            + MemoryLayout<ContextDetector>.size + MemoryLayout<RangeDetector>.size
        return boxes + KNNConformalDetector().heapBytes + ContextDetector().heapBytes + 32 + MemoryLayout<CompositeDetector.Component>.stride * 4
            + 32 + 8 * 4
    }
}
