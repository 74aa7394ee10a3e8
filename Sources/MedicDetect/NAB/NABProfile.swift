/// A NAB scoring profile: the weights of the cost matrix in NAB's `profiles.json`. The true
/// negative weight is not listed because NAB never uses it.
public struct NABProfile: Sendable, Hashable, Codable {
    /// NAB's profile name (`standard`, `reward_low_FP_rate`, `reward_low_FN_rate`).
    public var name: String
    /// Credit for a window detected at its left edge; later detections earn less.
    public var truePositiveWeight: Double
    /// Cost of one detection far from any window; detections just after a window cost less.
    public var falsePositiveWeight: Double
    /// Cost of a window with no detection.
    public var falseNegativeWeight: Double

    public init(name: String, truePositiveWeight: Double, falsePositiveWeight: Double, falseNegativeWeight: Double) {
        self.name = name
        self.truePositiveWeight = truePositiveWeight
        self.falsePositiveWeight = falsePositiveWeight
        self.falseNegativeWeight = falseNegativeWeight
    }

    public static let standard = NABProfile(
        name: "standard", truePositiveWeight: 1, falsePositiveWeight: 0.11, falseNegativeWeight: 1)
    public static let rewardLowFalsePositives = NABProfile(
        name: "reward_low_FP_rate", truePositiveWeight: 1, falsePositiveWeight: 0.22, falseNegativeWeight: 1)
    public static let rewardLowFalseNegatives = NABProfile(
        name: "reward_low_FN_rate", truePositiveWeight: 1, falsePositiveWeight: 0.11, falseNegativeWeight: 2)

    /// The three profiles NAB publishes its scoreboard with, in the scoreboard's column order.
    public static let published: [NABProfile] = [.standard, .rewardLowFalsePositives, .rewardLowFalseNegatives]
}
