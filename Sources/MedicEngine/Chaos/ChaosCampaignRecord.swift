import Foundation
import MedicKnowledge

extension ChaosCampaignSummary {
    /// Where campaigns are recorded, in the knowledge base beside `chaos-experiments.jsonl`.
    public static let recordFileName = ChaosCampaignOutcome.fileName

    /// Appends the campaign's outcome to `<knowledge base>/chaos-campaigns.jsonl` as one line,
    /// `{"finished_at", "directory", "summary": {this summary, its experiments left out}}`, for
    /// the report pages (`medic report`, docs/reports.md) to show. The experiments themselves are
    /// in `chaos-experiments.jsonl` already.
    public func record(inState stateDirectory: String, campaignDirectory: String, finishedAt: Date) throws {
        let directory = KnowledgeBase.defaultDirectory(inState: stateDirectory)
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        var summary = self
        summary.experiments = []
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let line = try encoder.encode(Line(finishedAt: ReportTime.format(finishedAt.timeIntervalSince1970), directory: campaignDirectory,
                                           summary: summary))
        try ChaosJournal.appendLine(line, to: directory + "/" + Self.recordFileName)
    }

    private struct Line: Encodable {
        var finishedAt: String
        var directory: String
        var summary: ChaosCampaignSummary

        private enum CodingKeys: String, CodingKey { case finishedAt = "finished_at", directory, summary }
    }
}
