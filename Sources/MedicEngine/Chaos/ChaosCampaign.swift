import Foundation

/// A campaign's figures (reference §10.1): per fault type and overall, time to detect (fault →
/// incident), time to recover (fault → steady state verified), MTTR as §10.1 counts it
/// (incident → verified), the auto-remediation success rate, and the false-positive rate
/// (incidents of the quiet control periods, and incidents no injected fault explains, over all
/// incidents).
public struct ChaosCampaignSummary: Sendable, Codable {
    public struct Figures: Sendable, Codable {
        public var faultType: String
        public var experiments: Int
        public var detected: Int
        public var healed: Int
        public var reverted: Int
        public var meanTimeToDetect: Double?
        public var maxTimeToDetect: Double?
        public var meanTimeToRecover: Double?
        public var maxTimeToRecover: Double?
        public var meanTimeToRemediate: Double?
        public var successRate: Double

        private enum CodingKeys: String, CodingKey {
            case faultType = "fault_type", experiments, detected, healed, reverted, meanTimeToDetect = "mttd", maxTimeToDetect = "max_time_to_detect"
            case meanTimeToRecover = "mean_time_to_recover", maxTimeToRecover = "max_time_to_recover", meanTimeToRemediate = "mttr"
            case successRate = "success_rate"
        }
    }

    /// One of §10.1's targets (the floor), with the campaign's value.
    public struct Target: Sendable, Codable {
        public var kpi: String
        public var target: String
        public var value: Double?
        public var met: Bool
    }

    public var faults: [Figures]
    public var overall: Figures
    public var incidents: Int
    public var falsePositives: Int
    public var falsePositiveRate: Double
    public var detectionAccuracy: Double
    public var targets: [Target]
    /// Every experiment healed and was reverted (and cleaned up).
    public var passed: Bool
    public var experiments: [ChaosReport]

    private enum CodingKeys: String, CodingKey {
        case faults, overall, incidents, falsePositives = "false_positives", falsePositiveRate = "false_positive_rate"
        case detectionAccuracy = "detection_accuracy", targets, passed, experiments
    }

    public init(_ reports: [ChaosReport]) {
        experiments = reports
        let types = Array(Set(reports.map(\.faultType))).sorted()
        faults = types.map { type in Self.figures(type, reports.filter { $0.faultType == type }) }
        overall = Self.figures("all", reports)
        let all = reports.flatMap(\.incidents)
        incidents = all.count
        falsePositives = all.filter { $0.control || !$0.explained }.count
        falsePositiveRate = all.isEmpty ? 0 : Double(falsePositives) / Double(all.count)
        let injected = reports.filter { $0.faultAt != nil }
        detectionAccuracy = injected.isEmpty ? 0 : Double(injected.filter { $0.detectedAt != nil }.count) / Double(injected.count)
        targets = [
            Target(kpi: "mean_time_to_detect", target: "< 5 minutes", value: overall.meanTimeToDetect, met: (overall.meanTimeToDetect ?? .infinity) < 300),
            Target(kpi: "mean_time_to_remediate", target: "< 15 minutes", value: overall.meanTimeToRemediate,
                   met: (overall.meanTimeToRemediate ?? .infinity) < 900),
            Target(kpi: "auto_remediation_success_rate", target: "> 80%", value: overall.successRate, met: overall.successRate > 0.8),
            Target(kpi: "false_positive_rate", target: "< 10%", value: falsePositiveRate, met: falsePositiveRate < 0.1),
            Target(kpi: "detection_accuracy", target: "> 95%", value: detectionAccuracy, met: detectionAccuracy > 0.95),
        ]
        passed = !reports.isEmpty && reports.allSatisfy { $0.exitCode == 0 }
    }

    private static func figures(_ type: String, _ reports: [ChaosReport]) -> Figures {
        let detect = reports.compactMap(\.timeToDetect), recover = reports.compactMap(\.timeToRecover)
        let remediate = reports.compactMap(\.timeToRemediate)
        func mean(_ values: [Double]) -> Double? { values.isEmpty ? nil : values.reduce(0, +) / Double(values.count) }
        return Figures(faultType: type, experiments: reports.count, detected: reports.filter { $0.detectedAt != nil }.count,
                       healed: reports.filter(\.healed).count, reverted: reports.filter(\.reverted).count,
                       meanTimeToDetect: mean(detect), maxTimeToDetect: detect.max(), meanTimeToRecover: mean(recover),
                       maxTimeToRecover: recover.max(), meanTimeToRemediate: mean(remediate),
                       successRate: reports.isEmpty ? 0 : Double(reports.filter(\.healed).count) / Double(reports.count))
    }

    /// The experiment files of a campaign folder: every `.yaml`, `.yml` and `.json` file under
    /// `DIR/experiments` (else directly in `DIR`), in the order of their paths.
    public static func experimentFiles(in directory: String) -> [String] {
        var base = directory + "/experiments"
        var isDirectory: ObjCBool = false
        if !(FileManager.default.fileExists(atPath: base, isDirectory: &isDirectory) && isDirectory.boolValue) { base = directory }
        let found = (FileManager.default.enumerator(atPath: base)?.allObjects as? [String]) ?? []
        return found.filter { name in [".yaml", ".yml", ".json"].contains { name.hasSuffix($0) } && (base != directory || !name.contains("/")) }
            .sorted().map { base + "/" + $0 }
    }
}
