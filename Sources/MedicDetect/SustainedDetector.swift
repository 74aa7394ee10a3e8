/// A detector with a `for` duration, with the semantics of Prometheus's `for:`.
///
/// States: **inactive** → **pending** on the first anomalous sample (its time is `pendingSince`)
/// → **firing** on an anomalous sample at least `duration` seconds after `pendingSince`
/// (a duration of 0 fires on the first anomalous sample). The first normal sample, in either
/// state, goes back to inactive and forgets `pendingSince`: a recovery resets the clock.
/// Durations are measured on sample timestamps, so a gap does not reset a pending anomaly: the
/// next anomalous sample after the gap fires if the gap made it long enough; only a normal
/// sample resets. Ignored samples (SampleAdmission's rules: NaN, out of order, duplicates)
/// return `.normal` and change nothing.
///
/// Output: anomalous only while firing; the score is the inner detector's, so a pending
/// anomaly still shows how anomalous it is.
///
/// Work per sample: the inner detector's plus O(1). Memory per series: the inner detector's
/// plus `MemoryLayout<SustainedDetector>.size` (80 bytes; an inner detector larger than
/// 24 bytes lives in its own heap box).
public struct SustainedDetector: StreamingDetector {
    public enum State: String, Sendable, Hashable {
        case inactive, pending, firing
    }

    public private(set) var state: State = .inactive
    /// The time of the first anomalous sample of the current episode (kept while firing);
    /// nil while inactive.
    public private(set) var pendingSince: Double?
    /// The `for` duration, in seconds.
    public let duration: Double
    private var inner: any StreamingDetector
    private var admission = SampleAdmission()

    /// `duration` is clamped to ≥ 0 (NaN: 0).
    public init(_ inner: any StreamingDetector, for duration: Double) {
        self.inner = inner
        self.duration = ParameterRange.number(duration, 0...Double.greatestFiniteMagnitude, default: 0)
    }

    public mutating func observe(time: Double, value: Double) -> DetectorOutput {
        guard admission.admit(time: time, value: value) else { return .normal }
        let output = inner.observe(time: time, value: value)
        guard output.anomalous else {
            state = .inactive
            pendingSince = nil
            return DetectorOutput(anomalous: false, score: output.score)
        }
        let since = pendingSince ?? time
        pendingSince = since
        state = time - since >= duration ? .firing : .pending
        return DetectorOutput(anomalous: state == .firing, score: output.score)
    }
}
