import Foundation

/// The hostile-input rules, in one place: every detector of this module (and the sustained and
/// composite wrappers) passes each sample through one `SampleAdmission` before anything else.
///
/// A sample is **ignored** — the detector returns `DetectorOutput.normal` and its state is
/// exactly as before — when:
/// - its value is NaN or ±infinity (a broken scrape is not a measurement);
/// - its time is NaN or ±infinity;
/// - its time is older than the last accepted sample's (out of order: the series has moved on);
/// - its time equals the last accepted sample's (a duplicate: the first sample of a timestamp wins).
///
/// Gaps are not an error: samples may be any distance apart. Detectors that measure durations
/// (rate of change, `for`) measure them on these timestamps, so after a long pause a rate of
/// change compares only samples within its span, and a pending `for` keeps its start.
///
/// Cost: one comparison per sample; memory: 8 bytes (the last accepted time).
public struct SampleAdmission: Sendable, Hashable {
    /// The time of the last accepted sample; -infinity before the first.
    public private(set) var lastTime: Double = -.infinity

    public init() {}

    /// Whether the sample is to be used; when it is, it becomes the last accepted sample.
    public mutating func admit(time: Double, value: Double) -> Bool {
        // `time > lastTime` is false for a NaN time; +infinity is refused explicitly so that a
        // series cannot be closed for ever by one absurd timestamp.
        guard value.isFinite, time.isFinite, time > lastTime else { return false }
        lastTime = time
        return true
    }
}

/// How far past its limit a sample is, as a score in [0, 1], shared by the detectors so that
/// 0.5 means "at the limit" everywhere: a normal sample scores at most 0.5, an anomalous one
/// more than 0.5 (at least 0.5 for an inclusive bound such as `>=`).
enum AnomalyScore {
    /// A deviation measured against a limit it must exceed (k·σ, m·IQR, a change in percent):
    /// `r = deviation / limit`; the score is `r / 2` up to the limit (0 ... 0.5) and
    /// `1 − 1 / (2r)` beyond it (0.5 at the limit, 0.75 at twice the limit, approaching 1), so
    /// that large anomalies still rank above small ones. A limit of 0 (a flat history, or a
    /// multiplier of 0) makes any deviation anomalous; it is then scored against the size of
    /// the values compared, `beyond(distance: deviation, scale: magnitude(reference))`, so that
    /// a jump off a flat line still ranks by how far it jumps instead of saturating at 1.
    static func ratio(deviation: Double, limit: Double, reference: Double) -> Double {
        guard deviation > 0 else { return 0 }
        guard limit > 0 else { return beyond(distance: deviation, scale: magnitude(reference)) }
        let r = deviation / limit
        if r <= 1 { return r / 2 }
        return r <= exactRatio ? 1 - 1 / (2 * r) : farTail(logRatio: log(deviation) - log(limit))
    }

    /// A value that is past a bound (a threshold, a percentile band) by `distance` ≥ 0, against
    /// a `scale` (the bound's magnitude, the band's width): 0.5 at the bound, 0.75 one scale
    /// beyond it, approaching 1. A zero scale makes any positive distance 1.
    static func beyond(distance: Double, scale: Double) -> Double {
        guard scale > 0 else { return distance > 0 ? 1 : 0.5 }
        // `0.5 + 0.5·d/(d + s)` is `1 − 1/(2r)` with r = (d + s)/s.
        guard distance / scale + 1 > exactRatio else { return 0.5 + 0.5 * distance / (distance + scale) }
        return farTail(logRatio: log(distance) + log1p(scale / distance) - log(scale))
    }

    /// Up to this ratio `1 − 1/(2r)` is used as is; beyond, `farTail`. In double precision
    /// `1 − 1/(2r)` rounds to exactly 1 once r passes 2⁵³, and a long run of zeros makes an
    /// EWMA's σ decay far enough for r to reach 10⁹⁰: every such row would tie at 1.
    static let exactRatio = 67_108_864.0  // 2²⁶

    /// `1 − 1/(2R) / (1 + ln(r/R))` for r > R = `exactRatio`, from ln r (so that r itself cannot
    /// overflow): continuous with `1 − 1/(2r)` at R, increasing, and for any finite deviation
    /// at least 5·10⁻¹² below 1 (ln r ≤ 1455), so such rows still rank by size. An infinite
    /// deviation scores 1.
    static func farTail(logRatio: Double) -> Double {
        1 - (0.5 / exactRatio) / (1 + max(0, logRatio - log(exactRatio)))
    }

    /// |x| as a scale: 1 when x is 0 (or not finite), so that a scale is never 0.
    static func magnitude(_ x: Double) -> Double {
        let m = abs(x)
        return m > 0 && m.isFinite ? m : 1
    }

    /// Deviations this small next to the values compared are rounding error of the running
    /// statistics (a mean that cannot reach a flat line's value by one ulp), not change.
    static func isRounding(_ deviation: Double, _ a: Double, _ b: Double) -> Bool {
        deviation <= 1e-12 * max(abs(a), abs(b))
    }
}
