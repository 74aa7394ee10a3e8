/// How one detector did on a corpus under one profile, at one threshold.
///
/// The counts are NAB's events, not rows: a window is one true positive however many of its
/// rows pass the threshold, and every passing row outside the windows is one false positive.
/// (NAB's own results files count rows inside windows; the raw score does not depend on it.)
public struct NABProfileScore: Sendable, Hashable, Codable {
    public var profile: NABProfile
    /// Rows whose score is at or above this are detections. Above every score (NAB's 1.1, or
    /// just above the highest score when that is higher) when detecting nothing scores best.
    public var threshold: Double
    /// The sum over the corpus of the window credits, the missed windows' costs and the false
    /// positives' costs.
    public var raw: Double
    /// The raw score of a detector that detects nothing: every window missed.
    public var nullRaw: Double
    /// The raw score of a detector that detects every window at its left edge and nothing else.
    public var perfectRaw: Double
    /// `100 × (raw − nullRaw) / (perfectRaw − nullRaw)`: 0 for the null detector, 100 for the
    /// perfect one, negative when worse than detecting nothing. 0 when the corpus has no window.
    public var normalised: Double
    /// Windows with at least one detection.
    public var truePositives: Int
    /// Windows without a detection.
    public var falseNegatives: Int
    /// Detections outside every window.
    public var falsePositives: Int

    public init(profile: NABProfile, threshold: Double, raw: Double, nullRaw: Double, perfectRaw: Double,
                truePositives: Int, falseNegatives: Int, falsePositives: Int) {
        self.profile = profile
        self.threshold = threshold
        self.raw = raw
        self.nullRaw = nullRaw
        self.perfectRaw = perfectRaw
        let span = perfectRaw - nullRaw
        self.normalised = span == 0 ? 0 : 100 * (raw - nullRaw) / span
        self.truePositives = truePositives
        self.falseNegatives = falseNegatives
        self.falsePositives = falsePositives
    }
}

/// A detector's scores on a corpus, one per profile of the corpus, in the corpus's order.
public struct NABResult: Sendable, Hashable, Codable {
    public var scores: [NABProfileScore]

    public init(scores: [NABProfileScore]) {
        self.scores = scores
    }

    /// The score under the profile of that name (`standard`, `reward_low_FP_rate`, ...).
    public subscript(profile name: String) -> NABProfileScore? {
        scores.first { $0.profile.name == name }
    }
}
