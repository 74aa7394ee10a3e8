import MedicModel

/// `threshold`: the value compared with a fixed bound (`> 85`).
///
/// Anomalous when `value op bound` holds. Score: 0 when it does not hold; when it holds,
/// 0.5 at the bound rising with the distance past it, `0.5 + 0.5·d / (d + scale)` with
/// `d = |value − bound|` and `scale = |bound|` (1 when the bound is 0): 0.75 when the value is
/// twice a positive bound, approaching 1. `==` scores 1 when it holds (equality has no "how
/// far"). The bound is the quantity's magnitude in its base unit: `90%` is 90, `2s` is 2,
/// `100MB` is 100,000,000, so the series must be in the same unit.
///
/// Work per sample O(1). Memory per series: `MemoryLayout<ThresholdDetector>.size`
/// (32 bytes), no heap.
public struct ThresholdDetector: StreamingDetector {
    public let op: ComparisonOperator
    public let bound: Double
    private let scale: Double
    private var admission = SampleAdmission()

    public init(op: ComparisonOperator, value: Double) {
        self.op = op
        // A NaN bound would hold for nothing but `!=`; 0 is the only neutral choice.
        self.bound = value.isNaN ? 0 : value
        let magnitude = abs(self.bound)
        self.scale = magnitude > 0 && magnitude.isFinite ? magnitude : 1
    }

    public init(op: ComparisonOperator, value: Quantity) {
        self.init(op: op, value: value.magnitude)
    }

    public mutating func observe(time: Double, value: Double) -> DetectorOutput {
        guard admission.admit(time: time, value: value), op.holds(value, bound) else { return .normal }
        if op == .equal { return DetectorOutput(anomalous: true, score: 1) }
        // An infinite bound can only be "held" by `!=` or the far side, where the distance is infinite.
        let distance = abs(value - bound)
        return DetectorOutput(anomalous: true, score: distance.isFinite ? AnomalyScore.beyond(distance: distance, scale: scale) : 1)
    }
}
