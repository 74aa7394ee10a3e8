import Foundation
import MedicEngine
import MedicKnowledge
import MedicModel
import XCTest

/// What `medic chaos campaign` records for the report pages (`ChaosCampaignSummary.record`) is
/// what they read (`ChaosCampaignOutcome`) and render: figures per fault type and overall.
final class ChaosCampaignRecordTests: XCTestCase {
    private func report(_ id: String, fault: String, healed: Bool, detectAfter: Double, verifyAfter: Double) -> ChaosReport {
        let experiment = ChaosExperiment(id: id, title: id, format: .medic, file: "\(id).yaml", faultType: fault, pattern: fault,
                                         targets: [TargetSpec(name: "t")])
        var report = ChaosReport(experiment, outcome: healed ? .healed : .notHealed, reason: "r", startedAt: 1000, journal: "j")
        report.faultAt = 1010
        report.detectedAt = 1010 + detectAfter
        if healed { report.verifiedAt = 1010 + verifyAfter }
        return report
    }

    func testARecordedCampaignIsReadBackAndRenderedWithItsFigures() throws {
        let state = FileManager.default.temporaryDirectory.appendingPathComponent("medic-campaign-\(UUID().uuidString)")
        addTeardownBlock { try? FileManager.default.removeItem(at: state) }
        let summary = ChaosCampaignSummary([
            report("a", fault: "latency", healed: true, detectAfter: 2, verifyAfter: 12),
            report("b", fault: "latency", healed: false, detectAfter: 4, verifyAfter: 0),
            report("c", fault: "service-killed", healed: true, detectAfter: 1.5, verifyAfter: 31.5),
        ])
        let finished = Date(timeIntervalSince1970: 1_800_000_000.25)
        try summary.record(inState: state.path, campaignDirectory: "examples/chaos", finishedAt: finished)
        try summary.record(inState: state.path, campaignDirectory: "later", finishedAt: finished + 86_400)

        let knowledge = KnowledgeBase.defaultDirectory(inState: state.path)
        let (campaigns, problems) = try ChaosCampaignOutcome.finished(in: knowledge, from: 1_800_000_000, to: 1_800_000_001)
        XCTAssertEqual(problems, [])
        XCTAssertEqual(campaigns.count, 1, "the later one is outside the period")
        let outcome = try XCTUnwrap(campaigns.first)
        XCTAssertEqual(outcome.finishedAt, "2027-01-15T08:00:00.250Z")
        XCTAssertEqual(outcome.directory, "examples/chaos")
        XCTAssertEqual(outcome.summary.faults.map(\.faultType), ["latency", "service-killed"])
        XCTAssertEqual(outcome.summary.faults.map(\.meanTimeToDetect), [3, 1.5])
        XCTAssertEqual(outcome.summary.faults.map(\.meanTimeToRecover), [12, 31.5])
        XCTAssertEqual(outcome.summary.faults.map(\.meanTimeToRemediate), [10, 30])
        XCTAssertEqual(outcome.summary.faults.map(\.successRate), [0.5, 1])
        XCTAssertEqual(outcome.summary.overall.experiments, 3)
        XCTAssertEqual(outcome.summary.overall.healed, 2)
        XCTAssertEqual(outcome.summary.passed, false)
        XCTAssertEqual(outcome.summary.targets.map(\.kpi), summary.targets.map(\.kpi))
        XCTAssertEqual(outcome.summary.targets.map(\.met), summary.targets.map(\.met))
        let line = try String(contentsOfFile: knowledge + "/" + ChaosCampaignSummary.recordFileName, encoding: .utf8)
        XCTAssertTrue(line.contains("\"experiments\":[]"), "the experiments are in chaos-experiments.jsonl already")

        let html = CampaignReportSection.html(campaigns)
        XCTAssertTrue(html.contains("<title>MTTD latency: 3.0 s</title>"), html)
        XCTAssertTrue(html.contains("<title>MTTR service-killed: 30.0 s</title>"), html)
        XCTAssertTrue(html.contains("<title>Success rate latency: 50.0%</title>"), html)
        XCTAssertTrue(html.contains("<tr class=\"missed\"><td>auto_remediation_success_rate</td><td class=\"num\">66.7%</td>"), html)
        XCTAssertEqual(CampaignReportSection.html([]), "")
    }
}
