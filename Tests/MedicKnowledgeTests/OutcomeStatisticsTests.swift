import Foundation
import MedicKnowledge
import XCTest

/// Per-playbook statistics and the §10.1 KPIs against values computed by hand (the arithmetic is
/// beside each assertion).
final class OutcomeStatisticsTests: XCTestCase {
    private func record(_ playbook: String, _ mode: IncidentRecord.Mode, _ outcome: IncidentRecord.RunOutcome,
                        at timestamp: String = "2026-03-02T10:00:00.000Z", detected: Bool, ttd: Double? = nil,
                        ttr: Double? = nil, time: Double, steps: [(Int, Bool)] = [], escalated: Bool = false,
                        approval: Bool = false, denied: Bool = false) -> IncidentRecord {
        IncidentRecord(
            incidentID: UUID().uuidString, timestamp: timestamp, endedAt: timestamp, runID: UUID().uuidString, mode: mode,
            runOutcome: outcome,
            detection: .init(method: detected ? .anomalyDetection : .manual, detectionTime: timestamp, timeToDetect: ttd),
            classification: .init(),
            remediation: .init(playbookID: playbook, playbookVersion: "1.0.0", executionTime: time,
                               stepsExecuted: steps.map { .init(step: $0.0, name: "s\($0.0)", succeeded: $0.1, attempts: 1) },
                               outcome: outcome == .succeeded ? .success : .failed),
            impact: .init(duration: nil),
            resolution: .init(resolutionMethod: outcome == .succeeded ? .autoRemediation : .manual, timeToResolution: ttr,
                              verificationPassed: outcome == .succeeded),
            metadata: .init(escalated: escalated, approvalRequested: approval, denied: denied))
    }

    /// Six incidents since 2026-03-01 (and one older, left out):
    /// 1. A automated succeeded  detected ttd 60  ttr 300 time 100 steps 1 ok, 2 ok
    /// 2. A automated succeeded  detected ttd 120 ttr 500 time 200 steps 1 ok, 2 ok
    /// 3. A automated rolled_back detected ttd 30         time 400 steps 1 ok, 2 failed
    /// 4. B manual    succeeded  manual           ttr 60  time 50  steps 1 ok
    /// 5. B manual    failed     manual, escalated        time 30  steps 1 failed
    /// 6. A automated refused    detected ttd 90, approval asked and denied, time 0
    /// 7. B manual succeeded on 2026-02-01: before `since`.
    private var history: [IncidentRecord] {
        [
            record("A", .automated, .succeeded, detected: true, ttd: 60, ttr: 300, time: 100, steps: [(1, true), (2, true)]),
            record("A", .automated, .succeeded, detected: true, ttd: 120, ttr: 500, time: 200, steps: [(1, true), (2, true)]),
            record("A", .automated, .rolledBack, detected: true, ttd: 30, time: 400, steps: [(1, true), (2, false)]),
            record("B", .manual, .succeeded, detected: false, ttr: 60, time: 50, steps: [(1, true)]),
            record("B", .manual, .failed, detected: false, time: 30, steps: [(1, false)], escalated: true),
            record("A", .automated, .refused, detected: true, ttd: 90, time: 0, approval: true, denied: true),
            record("B", .manual, .succeeded, at: "2026-02-01T00:00:00.000Z", detected: false, ttr: 9999, time: 9999, steps: [(1, true)]),
        ]
    }

    private func statistics() -> OutcomeStatistics {
        var builder = OutcomeStatisticsBuilder(since: "2026-03-01T00:00:00.000Z")
        for record in history { builder.add(record) }
        return builder.result()
    }

    func testKPIsMatchHandComputedValues() throws {
        let k = statistics().kpis
        XCTAssertEqual(k.incidents, 6)                                       // record 7 is older than since
        XCTAssertEqual(k.attempted, 5)                                       // all but the refused 6
        XCTAssertEqual(try XCTUnwrap(k.mttd), 75, accuracy: 1e-9)            // (60 + 120 + 30 + 90) / 4
        XCTAssertEqual(try XCTUnwrap(k.mttr), 860.0 / 3, accuracy: 1e-9)     // (300 + 500 + 60) / 3 resolved
        XCTAssertEqual(try XCTUnwrap(k.autoRemediationSuccessRate), 2.0 / 6, accuracy: 1e-9) // 1, 2 of 6
        XCTAssertEqual(try XCTUnwrap(k.remediationAccuracy), 0.6, accuracy: 1e-9)          // 1, 2, 4 of 5 attempted
        XCTAssertEqual(try XCTUnwrap(k.rollbackRate), 0.2, accuracy: 1e-9)                 // 3 of 5 attempted
        XCTAssertEqual(try XCTUnwrap(k.automationRate), 3.0 / 6, accuracy: 1e-9)           // 1, 2, 3 of 6 (6 asked a person)
        XCTAssertEqual(try XCTUnwrap(k.manualInterventionRate), 2.0 / 6, accuracy: 1e-9)   // 5 escalated, 6 asked/refused
        XCTAssertEqual(try XCTUnwrap(k.falsePositiveRate), 0.25, accuracy: 1e-9)           // 6 denied of 1, 2, 3, 6 detected
    }

    func testAnAutomatedRunAPersonApprovedIsManualInterventionNotAutomation() throws {
        // A watched run that waited for approval and was approved, then succeeded: a person
        // acted, so it is not "resolved without human intervention".
        var builder = OutcomeStatisticsBuilder()
        builder.add(record("A", .automated, .succeeded, detected: true, ttd: 5, ttr: 60, time: 10, steps: [(1, true)], approval: true))
        var k = builder.result().kpis
        XCTAssertEqual(k.manualInterventionRate, 1)
        XCTAssertEqual(k.automationRate, 0)
        XCTAssertEqual(k.autoRemediationSuccessRate, 0)
        // The two rates count disjoint incidents, whatever the mix.
        builder.add(record("A", .automated, .succeeded, detected: true, time: 10, steps: [(1, true)]))
        builder.add(record("A", .automated, .failed, detected: true, time: 10, steps: [(1, false)], escalated: true))
        builder.add(record("B", .manual, .succeeded, detected: false, time: 10, steps: [(1, true)]))
        k = builder.result().kpis
        XCTAssertEqual(k.automationRate, 0.25)          // the second only
        XCTAssertEqual(k.manualInterventionRate, 0.5)   // approved, escalated
        XCTAssertEqual(k.autoRemediationSuccessRate, 0.25)
    }

    func testPlaybookStatisticsMatchHandComputedValues() throws {
        let books = statistics().playbooks
        XCTAssertEqual(books.map(\.playbookID), ["A", "B"])
        let a = books[0], b = books[1]
        XCTAssertEqual([a.runs, a.refused, a.successes], [3, 1, 2])           // 1, 2, 3 attempted; 6 refused
        XCTAssertEqual(try XCTUnwrap(a.successRate), 2.0 / 3, accuracy: 1e-9)
        XCTAssertEqual(try XCTUnwrap(a.rollbackRate), 1.0 / 3, accuracy: 1e-9)
        XCTAssertEqual(try XCTUnwrap(a.falsePositiveRate), 0.25, accuracy: 1e-9)       // 6 denied of 4 detected
        XCTAssertEqual(try XCTUnwrap(a.averageExecutionTime), 700.0 / 3, accuracy: 1e-9) // (100 + 200 + 400) / 3
        XCTAssertEqual(a.p95ExecutionTime, 400)                               // n = 3, rank ceil(2.85) = 3
        XCTAssertEqual(a.steps.map(\.executions), [3, 3])
        XCTAssertEqual(a.steps.map(\.successes), [3, 2])
        XCTAssertEqual(a.steps[1].successRate ?? 0, 2.0 / 3, accuracy: 1e-9)
        XCTAssertEqual([b.runs, b.refused, b.successes], [2, 0, 1])
        XCTAssertEqual(b.successRate, 0.5)
        XCTAssertEqual(b.rollbackRate, 0)
        XCTAssertNil(b.falsePositiveRate, "no detected incident: nothing to count")
        XCTAssertEqual(b.averageExecutionTime, 40)                            // (50 + 30) / 2
        XCTAssertEqual(b.p95ExecutionTime, 50)                                // n = 2, rank ceil(1.9) = 2
        XCTAssertEqual(b.steps.map(\.successRate), [0.5])                     // 1 of 2
    }

    func testNearestRankPercentile() {
        XCTAssertEqual(nearestRankPercentile(0.95, of: (1...100).map(Double.init)), 95) // rank ceil(95) = 95
        XCTAssertEqual(nearestRankPercentile(0.95, of: (1...20).map(Double.init)), 19)  // rank ceil(19) = 19
        XCTAssertEqual(nearestRankPercentile(0.95, of: [7]), 7)
        XCTAssertNil(nearestRankPercentile(0.95, of: []))
    }

    func testBeyondTheReservoirTheAverageStaysExactAndTheP95Close() throws {
        var builder = OutcomeStatisticsBuilder()
        let count = OutcomeStatisticsBuilder.reservoirCapacity * 5 / 2
        for i in 0..<count { builder.add(record("A", .manual, .succeeded, detected: false, time: Double(i % 100))) }
        let a = try XCTUnwrap(builder.result().playbooks.first)
        XCTAssertEqual(a.runs, count)
        XCTAssertEqual(try XCTUnwrap(a.averageExecutionTime), 49.5, accuracy: 1e-9) // 0...99 evenly
        XCTAssertEqual(try XCTUnwrap(a.p95ExecutionTime), 94, accuracy: 2)         // exact: rank 95 of 0...99
    }

    func testTheKnowledgeBaseStreamsTheFileAndReportsRecordsThatAreNotIncidents() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("medic-stats-\(UUID().uuidString)").path
        addTeardownBlock { try? FileManager.default.removeItem(atPath: dir) }
        let knowledge = try KnowledgeBase(directory: dir)
        let records = history
        try knowledge.appendBatch(encoding: Array(records[0..<3]), to: .incidentHistory)
        try knowledge.append(Array(#"{"not":"an incident"}"#.utf8), to: .incidentHistory)
        try knowledge.appendBatch(encoding: Array(records[3...]), to: .incidentHistory)
        let (statistics, problems) = try knowledge.incidentStatistics(since: "2026-03-01T00:00:00.000Z")
        XCTAssertEqual(statistics, self.statistics())
        XCTAssertEqual(problems.map(\.line), [4])
        XCTAssertEqual(problems.first?.kind, .corruptLine)
        // A line that is not JSON at all (written past the store, which refuses it) is skipped
        // and reported too, though statistics read the lines without the store's JSON check.
        let file = try XCTUnwrap(FileHandle(forWritingAtPath: knowledge.path(.incidentHistory)))
        try file.seekToEnd()
        try file.write(contentsOf: Data("{\"v\":1, broken\n".utf8))
        try file.close()
        try knowledge.appendBatch(encoding: Array(records[0..<1]), to: .incidentHistory)
        let (_, later) = try knowledge.incidentStatistics()
        XCTAssertEqual(later.map(\.line), [4, records.count + 2])
        XCTAssertTrue(later.allSatisfy { $0.kind == .corruptLine })
    }

    /// A chaos experiment's run counts in its playbook's figures and not as an incident: the same
    /// KPIs as without it, `chaos_runs` 1 — whether the scanner or the decoder reads the line.
    func testAChaosRunCountsForItsPlaybookButNotInTheKPIs() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("medic-chaos-\(UUID().uuidString)").path
        addTeardownBlock { try? FileManager.default.removeItem(atPath: dir) }
        let knowledge = try KnowledgeBase(directory: dir)
        let chaos = record("B", .chaos, .succeeded, detected: false, ttr: 7, time: 70, steps: [(1, true)])
        try knowledge.appendBatch(encoding: history + [chaos], to: .incidentHistory)
        let (withChaos, problems) = try knowledge.incidentStatistics(since: "2026-03-01T00:00:00.000Z")
        XCTAssertEqual(problems, [])
        var kpis = withChaos.kpis
        XCTAssertEqual(kpis.chaosRuns, 1)
        kpis.chaosRuns = 0
        XCTAssertEqual(kpis, statistics().kpis, "MTTR, rates and counts as if the chaos run were not there")
        let b = try XCTUnwrap(withChaos.playbooks.first { $0.playbookID == "B" })
        XCTAssertEqual([b.runs, b.successes], [3, 2])                          // 4, 5 and the chaos run; 4 and it succeeded
        XCTAssertEqual(try XCTUnwrap(b.averageExecutionTime), 50, accuracy: 1e-9) // (50 + 30 + 70) / 3
        XCTAssertEqual(b.steps.map(\.executions), [3])
        // Read through JSONDecoder (the builder's other way in) it is the same.
        var builder = OutcomeStatisticsBuilder(since: "2026-03-01T00:00:00.000Z")
        for r in history + [chaos] { builder.add(try JSONDecoder().decode(IncidentRecord.self, from: JSONEncoder().encode(r))) }
        XCTAssertEqual(builder.result(), withChaos)
    }
}
