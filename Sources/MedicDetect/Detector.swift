import MedicModel

/// What a detector says about one sample: whether it is anomalous, and how anomalous on a
/// scale of 0 (normal) to 1 (as anomalous as the detector can say), so that detectors can be
/// combined (composite) and scored (NAB) and not only switched on and off.
public struct DetectorOutput: Sendable, Hashable {
    public var anomalous: Bool
    /// In [0, 1]; NaN never leaves a detector.
    public var score: Double

    public init(anomalous: Bool, score: Double) {
        self.anomalous = anomalous
        self.score = score.isNaN ? 0 : min(1, max(0, score))
    }

    public static let normal = DetectorOutput(anomalous: false, score: 0)
}

/// A detector over one series that sees one sample at a time, in arrival order, and keeps
/// bounded state (documented per detector). `time` is in seconds (epoch seconds for live and
/// replayed feeds); durations inside detectors are measured on these timestamps, never on the
/// wall clock, so a replayed file behaves as the live feed did.
public protocol StreamingDetector: Sendable {
    mutating func observe(time: Double, value: Double) -> DetectorOutput
}
