import Foundation

/// A chaos vaccination campaign as `medic chaos campaign` recorded it: one line of
/// `<knowledge base>/chaos-campaigns.jsonl`, `{"finished_at", "directory", "summary"}`, the summary
/// being the campaign's figures per fault type and overall against reference §10.1's targets
/// (docs/chaos.md). Read here for the report pages, which show the campaigns that finished in
/// their period.
public struct ChaosCampaignOutcome: Sendable, Equatable, Decodable {
    public static let fileName = "chaos-campaigns.jsonl"

    /// One fault type's figures (or `all`'s); seconds.
    public struct Figures: Sendable, Equatable, Decodable {
        public var faultType: String
        public var experiments: Int
        public var detected: Int
        public var healed: Int
        public var reverted: Int
        /// Fault → incident.
        public var meanTimeToDetect: Double?
        /// Fault → steady state verified.
        public var meanTimeToRecover: Double?
        /// Incident → verified (§10.1's MTTR).
        public var meanTimeToRemediate: Double?
        public var successRate: Double

        private enum CodingKeys: String, CodingKey {
            case faultType = "fault_type", experiments, detected, healed, reverted, meanTimeToDetect = "mttd"
            case meanTimeToRecover = "mean_time_to_recover", meanTimeToRemediate = "mttr", successRate = "success_rate"
        }
    }

    public struct Target: Sendable, Equatable, Decodable {
        public var kpi: String
        public var target: String
        public var value: Double?
        public var met: Bool
    }

    public struct Summary: Sendable, Equatable, Decodable {
        public var faults: [Figures]
        public var overall: Figures
        public var incidents: Int
        public var falsePositives: Int
        public var falsePositiveRate: Double
        public var targets: [Target]
        public var passed: Bool

        private enum CodingKeys: String, CodingKey {
            case faults, overall, incidents, falsePositives = "false_positives", falsePositiveRate = "false_positive_rate", targets, passed
        }
    }

    /// RFC 3339.
    public var finishedAt: String
    /// The campaign folder it ran.
    public var directory: String
    public var summary: Summary

    private enum CodingKeys: String, CodingKey { case finishedAt = "finished_at", directory, summary }

    /// The campaigns of `knowledgeDirectory` that finished in [`from`, `to`), oldest first, and the
    /// lines that are not campaigns (skipped, with their line numbers). No file: none.
    public static func finished(in knowledgeDirectory: String, from: Double, to: Double) throws
        -> (campaigns: [ChaosCampaignOutcome], problems: [KnowledgeProblem]) {
        let path = (knowledgeDirectory as NSString).appendingPathComponent(fileName)
        guard FileManager.default.fileExists(atPath: path) else { return ([], []) }
        // Read, never repaired: the file is small, and its writer ends a torn last line itself.
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw KnowledgeError("cannot read \(path): \(KnowledgeBase.reason(error))")
        }
        var campaigns: [ChaosCampaignOutcome] = []
        var problems: [KnowledgeProblem] = []
        let decoder = JSONDecoder()
        let lines = data.split(separator: 0x0A, omittingEmptySubsequences: false)
        for (index, line) in lines.enumerated() where !line.isEmpty {
            guard let campaign = try? decoder.decode(ChaosCampaignOutcome.self, from: Data(line)),
                  let finished = ReportTime.parse(campaign.finishedAt) else {
                // A last line without its newline is still being written.
                if index < lines.count - 1 {
                    problems.append(KnowledgeProblem(kind: .corruptLine, path: path, line: index + 1, message: "not a campaign record; line skipped"))
                }
                continue
            }
            if finished >= from && finished < to { campaigns.append(campaign) }
        }
        return (campaigns.sorted { (ReportTime.parse($0.finishedAt) ?? 0) < (ReportTime.parse($1.finishedAt) ?? 0) }, problems)
    }
}
