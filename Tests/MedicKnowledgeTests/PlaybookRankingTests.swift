import Foundation
import MedicKnowledge
import MedicModel
import XCTest

/// §6.2's ranking: each part against hand-computed values, the immune memory's cure first,
/// configurable weights, ties; and the incremental track records it reads.
final class PlaybookRankingTests: XCTestCase {
    private let now = Date(timeIntervalSince1970: 1_800_000_000)

    private func track(runs: Int, successes: Int, meanTime: Double, lastSuccessDaysAgo: Double?) -> PlaybookTrackRecord {
        var record = PlaybookTrackRecord()
        record.runs = runs
        record.successes = successes
        record.totalExecutionTime = meanTime * Double(runs)
        record.lastSuccess = lastSuccessDaysAgo.map { now.addingTimeInterval(-$0 * 86_400) }
        return record
    }

    /// A: 8 of 10 succeeded, 20 s on average, last success 15 days ago, declares single_service.
    /// B: never ran, declares 90% and 40 s, single_instance. The incident reaches one instance.
    private var candidates: [RankingCandidate] {
        [RankingCandidate(playbookID: "a-001", blastRadius: .singleService),
         RankingCandidate(playbookID: "b-001", blastRadius: .singleInstance, declaredSuccessRate: 0.9, declaredExecutionTime: 40)]
    }
    private var records: [String: PlaybookTrackRecord] {
        ["a-001": track(runs: 10, successes: 8, meanTime: 20, lastSuccessDaysAgo: 15)]
    }

    func testEachPartOfTheReferenceWeightsAgainstHandComputedValues() throws {
        let records = records
        let ranked = PlaybookRanker.rank(candidates, records: { records[$0] }, incidentRadius: .singleInstance, now: now)
        XCTAssertEqual(ranked.map(\.playbookID), ["a-001", "b-001"])
        XCTAssertEqual(ranked.map(\.rank), [1, 2])
        let a = ranked[0], b = ranked[1]
        func part(_ entry: RankedPlaybook, _ name: String) throws -> ScorePart {
            try XCTUnwrap(entry.parts.first { $0.criterion == name })
        }
        // success_rate 0.4: A 8/10 = 0.8 -> 0.32; B declared 0.9 -> 0.36.
        XCTAssertEqual(try part(a, "success_rate").score, 0.8, accuracy: 1e-12)
        XCTAssertEqual(try part(a, "success_rate").contribution, 0.32, accuracy: 1e-12)
        XCTAssertEqual(try part(a, "success_rate").basis, "8 of 10 run(s) succeeded")
        XCTAssertEqual(try part(b, "success_rate").contribution, 0.36, accuracy: 1e-12)
        XCTAssertTrue(try part(b, "success_rate").basis.contains("metadata.success_rate"))
        // avg_execution_time 0.2: fastest 20 s; A 20/20 = 1 -> 0.2; B 20/40 = 0.5 -> 0.1.
        XCTAssertEqual(try part(a, "avg_execution_time").value, 20)
        XCTAssertEqual(try part(a, "avg_execution_time").contribution, 0.2, accuracy: 1e-12)
        XCTAssertEqual(try part(b, "avg_execution_time").score, 0.5, accuracy: 1e-12)
        // blast_radius_match 0.3: A one level off of five -> 0.75 -> 0.225; B exact -> 0.3.
        XCTAssertEqual(try part(a, "blast_radius_match").value, 1)
        XCTAssertEqual(try part(a, "blast_radius_match").contribution, 0.225, accuracy: 1e-12)
        XCTAssertEqual(try part(b, "blast_radius_match").contribution, 0.3, accuracy: 1e-12)
        // recency 0.1: A 0.5^(15/30) = 0.7071 -> 0.07071; B never succeeded -> 0.
        XCTAssertEqual(try part(a, "recency").score, 0.5.squareRoot(), accuracy: 1e-9)
        XCTAssertEqual(try part(b, "recency").score, 0)
        XCTAssertEqual(a.score, 0.32 + 0.2 + 0.225 + 0.1 * 0.5.squareRoot(), accuracy: 1e-9)
        XCTAssertEqual(b.score, 0.36 + 0.1 + 0.3, accuracy: 1e-9)
    }

    func testTheImmuneMemorysCureIsProposedFirstWhateverItsScore() {
        var candidates = candidates
        candidates[1].remembered = true
        let records = records
        let ranked = PlaybookRanker.rank(candidates, records: { records[$0] }, incidentRadius: .singleInstance, now: now)
        XCTAssertEqual(ranked.map(\.playbookID), ["b-001", "a-001"], "b scores lower (0.76 < 0.816) but cured this fault before")
        XCTAssertTrue(ranked[0].remembered)
    }

    func testWeightsAreConfigurableAndDividedByTheirSum() {
        let records = records
        // Success rate alone: B's declared 90% beats A's 80%.
        let policy = PlaybookSelectionPolicy(successRate: 2, avgExecutionTime: 0, blastRadiusMatch: 0, recency: 0)
        let ranked = PlaybookRanker.rank(candidates, records: { records[$0] }, incidentRadius: .singleInstance, policy: policy, now: now)
        XCTAssertEqual(ranked.map(\.playbookID), ["b-001", "a-001"])
        XCTAssertEqual(ranked[0].score, 0.9, accuracy: 1e-12, "a weight of 2 out of 2 in all: the score is the part's")
        // Recency with a 15-day half-life: A's success 15 days ago counts 0.5.
        let recent = PlaybookSelectionPolicy(successRate: 0, avgExecutionTime: 0, blastRadiusMatch: 0, recency: 1,
                                             recencyHalfLife: Interval(seconds: 15 * 86_400))
        let byRecency = PlaybookRanker.rank(candidates, records: { records[$0] }, incidentRadius: .singleInstance, policy: recent, now: now)
        XCTAssertEqual(byRecency[0].playbookID, "a-001")
        XCTAssertEqual(byRecency[0].score, 0.5, accuracy: 1e-12)
    }

    func testEqualScoresKeepTheRulesOrderAndUnknownsAreNeutral() {
        let plain = [RankingCandidate(playbookID: "z-001"), RankingCandidate(playbookID: "y-001")]
        let ranked = PlaybookRanker.rank(plain, records: { _ in nil }, incidentRadius: .singleInstance, now: now)
        XCTAssertEqual(ranked.map(\.playbookID), ["z-001", "y-001"], "a tie keeps the order the rule lists them in")
        // No history, nothing declared: success 0.5, time 0.5, radius 1 (single_instance), recency 0.
        XCTAssertEqual(ranked[0].score, 0.4 * 0.5 + 0.2 * 0.5 + 0.3 * 1 + 0, accuracy: 1e-12)
        // The whole range of blast radius distance: single_instance vs multi_region is 0.
        let far = PlaybookRanker.rank([RankingCandidate(playbookID: "x-001", blastRadius: .multiRegion)], records: { _ in nil },
                                      incidentRadius: .singleInstance, now: now)
        XCTAssertEqual(far[0].parts.first { $0.criterion == "blast_radius_match" }?.score, 0)
    }

    // MARK: - Track records from the incident history

    private func knowledgeBase() throws -> KnowledgeBase {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("medic-rank-\(UUID().uuidString)")
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        return try KnowledgeBase(directory: dir.path)
    }

    private func incident(_ playbook: String, _ outcome: IncidentRecord.RunOutcome, seconds: Double, ended: String) -> IncidentRecord {
        IncidentRecord(
            incidentID: UUID().uuidString, timestamp: ended, endedAt: ended, runID: UUID().uuidString, mode: .manual, runOutcome: outcome,
            detection: .init(method: .manual, detectionTime: ended), classification: .init(),
            remediation: .init(playbookID: playbook, playbookVersion: "1", executionTime: seconds, stepsExecuted: [],
                               outcome: outcome == .succeeded ? .success : outcome == .refused ? nil : .failed),
            impact: .init(duration: seconds),
            resolution: .init(resolutionMethod: outcome == .succeeded ? .autoRemediation : .manual,
                              timeToResolution: outcome == .succeeded ? seconds : nil, verificationPassed: outcome == .succeeded),
            metadata: .init(escalated: false))
    }

    func testTrackRecordsReadOnlyWhatWasAppendedAndSkipTornAndCorruptLines() throws {
        let kb = try knowledgeBase()
        let history = PlaybookHistory(knowledgeBase: kb.directory)
        XCTAssertEqual(history.refresh(), 0)
        XCTAssertNil(history.record(for: "a-001"), "no history file yet")
        try kb.append(encoding: incident("a-001", .succeeded, seconds: 10, ended: "2027-01-15T08:00:00.000Z"), to: .incidentHistory)
        try kb.append(encoding: incident("a-001", .failed, seconds: 30, ended: "2027-01-16T08:00:00.000Z"), to: .incidentHistory)
        try kb.append(encoding: incident("a-001", .refused, seconds: 0, ended: "2027-01-17T08:00:00.000Z"), to: .incidentHistory)
        history.refresh()
        var a = try XCTUnwrap(history.record(for: "a-001"))
        XCTAssertEqual(a.runs, 2, "a refused run never ran")
        XCTAssertEqual(a.successes, 1)
        XCTAssertEqual(a.averageExecutionTime, 20)
        XCTAssertEqual(a.lastSuccess, ISO8601DateFormatter().date(from: "2027-01-15T08:00:00Z"))

        // A line being written (no newline yet) waits; a corrupt line is skipped and counted.
        let path = kb.directory + "/" + KnowledgeFile.incidentHistory.rawValue
        let next = try JSONEncoder().encode(incident("a-001", .succeeded, seconds: 50, ended: "2027-01-18T08:00:00.000Z"))
        let handle = try XCTUnwrap(FileHandle(forWritingAtPath: path))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data("not json\n".utf8) + next.prefix(40))
        XCTAssertEqual(history.refresh(), 1, "the corrupt line")
        a = try XCTUnwrap(history.record(for: "a-001"))
        XCTAssertEqual(a.runs, 2, "the torn line is not read yet")
        try handle.write(contentsOf: next.dropFirst(40) + Data("\n".utf8))
        try handle.close()
        history.refresh()
        a = try XCTUnwrap(history.record(for: "a-001"))
        XCTAssertEqual(a.runs, 3, "completed, it is read once")
        XCTAssertEqual(a.successes, 2)
        XCTAssertEqual(a.lastSuccess, ISO8601DateFormatter().date(from: "2027-01-18T08:00:00Z"))

        // A history that shrank (replaced) is read again from its start.
        try Data(try JSONEncoder().encode(incident("b-001", .succeeded, seconds: 5, ended: "2027-01-19T08:00:00.000Z")) + Data("\n".utf8))
            .write(to: URL(fileURLWithPath: path))
        history.refresh()
        XCTAssertNil(history.record(for: "a-001"))
        XCTAssertEqual(history.record(for: "b-001")?.runs, 1)
    }
}
