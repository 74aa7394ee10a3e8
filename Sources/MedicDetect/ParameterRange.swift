/// The public inits accept any numbers, so that no caller can make a detector trap: a value
/// outside the range the loader enforces (docs/format.md, "Detectors and their params") is
/// clamped into it, and NaN takes the documented default.
enum ParameterRange {
    static func count(_ value: Int, _ range: ClosedRange<Int>) -> Int {
        min(max(value, range.lowerBound), range.upperBound)
    }

    static func number(_ value: Double, _ range: ClosedRange<Double>, default fallback: Double) -> Double {
        value.isNaN ? fallback : min(max(value, range.lowerBound), range.upperBound)
    }

    /// The largest window the loader accepts (moving_average and iqr `window`).
    static let maxWindow = 1_000_000
    /// Multipliers (k, threshold, m) above this are "never": kept finite so that `k · 0` stays 0.
    static let maxMultiplier = 1e12
}
