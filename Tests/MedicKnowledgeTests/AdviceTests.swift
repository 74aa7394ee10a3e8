import Foundation
import XCTest
@testable import MedicKnowledge

/// `AdviceBuilder` and `KnowledgeBase.advice`: each §9.2 finding with figures computed by hand,
/// the thresholds themselves not flagged, the minimum sample, the order.
final class AdviceTests: XCTestCase {
    static let since = "2024-06-01T00:00:00.000Z"
    static let old = "2024-05-01T00:00:00.000Z"
    static let recent = "2024-06-15T00:00:00.000Z"

    /// One run of `playbook` at `timestamp` with the given steps (all succeeded unless said).
    static func record(_ playbook: String, at timestamp: String = recent, steps: [IncidentRecord.StepExecuted] = [],
                       outcome: IncidentRecord.RunOutcome = .succeeded, executionTime: Double = 10, rule: String? = nil,
                       denied: Bool = false, category: String? = "infrastructure", components: [String] = [],
                       timeToResolution: Double? = nil, id: String = UUID().uuidString) -> IncidentRecord {
        IncidentRecord(
            incidentID: id, timestamp: timestamp, endedAt: timestamp, runID: id, mode: rule == nil ? .manual : .automated,
            runOutcome: outcome,
            detection: .init(method: rule == nil ? .manual : .anomalyDetection, detectionTime: timestamp, rule: rule),
            classification: .init(category: category, affectedComponents: components),
            remediation: .init(playbookID: playbook, playbookVersion: "1.0.0", executionTime: executionTime,
                               stepsExecuted: steps, outcome: outcome == .succeeded ? .success : outcome == .refused ? nil : .failed),
            impact: .init(duration: executionTime, servicesAffected: components),
            resolution: .init(resolutionMethod: outcome == .succeeded ? .autoRemediation : .manual,
                              timeToResolution: outcome == .succeeded ? (timeToResolution ?? executionTime) : nil,
                              verificationPassed: outcome == .succeeded),
            metadata: .init(escalated: false, denied: denied))
    }

    static func step(_ number: Int, _ name: String, ok: Bool = true, duration: Double? = nil) -> IncidentRecord.StepExecuted {
        .init(step: number, name: name, succeeded: ok, attempts: 1, duration: duration)
    }

    private func advise(_ records: [IncidentRecord], since: String? = since, _ configuration: AdviceConfiguration = AdviceConfiguration(),
                        declared: [String: Double] = [:]) -> [Finding] {
        var builder = AdviceBuilder(since: since, configuration: configuration, declaredAverages: declared)
        for record in records { builder.add(record) }
        return builder.result().findings
    }

    // MARK: - low_success_rate

    func testFlagsAStepThatSucceedsInLessThanEightyPercentWithItsSampleSize() {
        // Step 2 succeeds 3 times of 5: 60%. Step 1 always succeeds.
        let records = (0..<5).map { i in Self.record("web", steps: [Self.step(1, "drain"), Self.step(2, "restart", ok: i < 3)]) }
        let findings = advise(records)
        XCTAssertEqual(findings, [Finding(playbookID: "web", step: 2, stepName: "restart", issue: .lowSuccessRate,
                                          value: 0.6, threshold: 0.8, sampleSize: 5)])
        XCTAssertEqual(findings.first?.recommendation, "Review and improve step implementation")
    }

    func testExactlyEightyPercentIsNotAFinding() {
        let records = (0..<5).map { i in Self.record("web", steps: [Self.step(1, "restart", ok: i < 4)]) }
        XCTAssertEqual(advise(records), [])
    }

    func testOneFailureIsNotAFindingBelowTheMinimumExecutions() {
        let records = (0..<4).map { _ in Self.record("web", steps: [Self.step(1, "restart", ok: false)]) }
        XCTAssertEqual(advise(records), [], "4 executions < the default minimum of 5")
        XCTAssertEqual(advise(records, AdviceConfiguration(minimumExecutions: 4)).map(\.value), [0.0])
        XCTAssertEqual(advise(records, AdviceConfiguration(minimumExecutions: 4)).map(\.sampleSize), [4])
    }

    func testSuccessRateCountsOnlyTheWindow() {
        // Five old failures are outside --since; the five recent successes are all that count.
        let records = (0..<5).map { _ in Self.record("web", at: Self.old, steps: [Self.step(1, "restart", ok: false)]) }
            + (0..<5).map { _ in Self.record("web", steps: [Self.step(1, "restart")]) }
        XCTAssertEqual(advise(records), [])
        XCTAssertEqual(advise(records, since: nil).map(\.value), [0.5], "over the whole history: 5 of 10")
    }

    // MARK: - slow_execution

    func testFlagsAStepWhoseWindowMeanExceedsOneAndAHalfTimesItsHistoryMedian() {
        // History: ten old executions of 2 s, five recent of 4 s, four recent without a duration.
        // Median of the 15 timed = 2 s; threshold 1.5 x 2 = 3 s; recent mean 4 s > 3 s.
        let records = (0..<10).map { _ in Self.record("web", at: Self.old, steps: [Self.step(1, "restart", duration: 2)]) }
            + (0..<5).map { _ in Self.record("web", steps: [Self.step(1, "restart", duration: 4)]) }
            + (0..<4).map { _ in Self.record("web", steps: [Self.step(1, "restart", duration: nil)]) }
        let findings = advise(records)
        XCTAssertEqual(findings, [Finding(playbookID: "web", step: 1, stepName: "restart", issue: .slowExecution, value: 4,
                                          threshold: 3, expected: 2, baseline: .historyMedian, sampleSize: 5)])
        XCTAssertEqual(findings.first?.recommendation, "Optimize or parallelize step")
    }

    func testExactlyOneAndAHalfTimesTheMedianIsNotSlow() {
        let records = (0..<10).map { _ in Self.record("web", at: Self.old, steps: [Self.step(1, "restart", duration: 2)]) }
            + (0..<5).map { _ in Self.record("web", steps: [Self.step(1, "restart", duration: 3)]) }
        XCTAssertEqual(advise(records), [])
    }

    func testTheMedianOfAnEvenCountIsTheMeanOfTheMiddleTwo() {
        XCTAssertEqual(median([1, 7, 1, 7, 1, 7]), 4)
        XCTAssertEqual(median([5, 1, 3]), 3)
        XCTAssertNil(median([]))
        // One old execution of 1 s, five recent of 1, 1, 7, 7, 7: median of 1,1,1,7,7,7 = 4,
        // threshold 6; the recent mean 4.6 is not slow. Five recent of 1, 7, 7, 7, 7: median of
        // 1,1,7,7,7,7 = 7 → nothing either; of 1, 1, 1, 7, 20 (+ old 1): median 1, mean 6 > 1.5.
        let old = [Self.record("web", at: Self.old, steps: [Self.step(1, "s", duration: 1)])]
        let notSlow = old + [1.0, 1, 7, 7, 7].map { Self.record("web", steps: [Self.step(1, "s", duration: $0)]) }
        XCTAssertEqual(advise(notSlow), [])
        let slow = old + [1.0, 1, 1, 7, 20].map { Self.record("web", steps: [Self.step(1, "s", duration: $0)]) }
        XCTAssertEqual(advise(slow).map(\.expected), [1])
        XCTAssertEqual(advise(slow).map(\.value), [6])
    }

    func testTimedExecutionsBelowTheMinimumAreNotAFinding() {
        let records = (0..<10).map { _ in Self.record("web", at: Self.old, steps: [Self.step(1, "restart", duration: 2)]) }
            + (0..<4).map { _ in Self.record("web", steps: [Self.step(1, "restart", duration: 40)]) }
            + (0..<3).map { _ in Self.record("web", steps: [Self.step(1, "restart", duration: nil)]) }
        XCTAssertEqual(advise(records), [], "7 recent executions, only 4 timed")
    }

    func testFlagsAPlaybookWhoseRunsTakeMoreThanOneAndAHalfTimesItsDeclaredAverage() {
        // Declared 10 s; runs 20, 10, 15, 20, 15: mean 16 s > 15 s. A refused run does not count.
        let times: [Double] = [20, 10, 15, 20, 15]
        let records = times.map { Self.record("web", executionTime: $0) } + [Self.record("web", outcome: .refused, executionTime: 500)]
        XCTAssertEqual(advise(records, declared: ["web": 10]),
                       [Finding(playbookID: "web", issue: .slowExecution, value: 16, threshold: 15, expected: 10,
                                baseline: .declaredAverage, sampleSize: 5)])
        XCTAssertEqual(advise(records, declared: [:]), [], "no declared average, no comparison")
        let atThreshold = [20.0, 10, 15, 15, 15].map { Self.record("web", executionTime: $0) }
        XCTAssertEqual(advise(atThreshold, declared: ["web": 10]), [], "mean exactly 15 s")
    }

    // MARK: - high_false_positive_rate

    func testFlagsAPlaybookWhoseDetectionsAreDeniedMoreThanTwentyPercent() {
        // 5 detected incidents, 2 denied: 40%. A manual run, denied, is not a detection.
        let records = (0..<5).map { i in Self.record("web", outcome: i < 2 ? .refused : .succeeded, rule: "high-cpu", denied: i < 2) }
            + [Self.record("web", outcome: .refused, denied: true)]
        let findings = advise(records)
        XCTAssertEqual(findings, [Finding(playbookID: "web", issue: .highFalsePositiveRate, value: 0.4, threshold: 0.2, sampleSize: 5)])
        XCTAssertEqual(findings.first?.recommendation, "Add more specific pre-conditions")
    }

    func testExactlyTwentyPercentFalsePositivesIsNotAFinding() {
        let records = (0..<5).map { i in Self.record("web", outcome: i < 1 ? .refused : .succeeded, rule: "high-cpu", denied: i < 1) }
        XCTAssertEqual(advise(records), [])
        let fewer = (0..<4).map { _ in Self.record("web", outcome: .refused, rule: "high-cpu", denied: true) }
        XCTAssertEqual(advise(fewer), [], "4 detected incidents < the minimum")
    }

    // MARK: - order

    func testFindingsAreSortedByPlaybookStepAndIssueWhateverTheRecordOrder() {
        var records: [IncidentRecord] = []
        for playbook in ["zeta", "alpha"] {
            records += (0..<10).map { _ in Self.record(playbook, at: Self.old, steps: [Self.step(2, "b", duration: 1)]) }
            records += (0..<5).map { i in
                Self.record(playbook, outcome: i < 2 ? .refused : .succeeded, executionTime: 100, rule: "r", denied: i < 2)
            }
            records += (0..<5).map { _ in Self.record(playbook, steps: [Self.step(2, "b", ok: false, duration: 9), Self.step(1, "a", ok: false)]) }
        }
        let expected: [(String, Int?, Finding.Issue)] = [
            ("alpha", nil, .highFalsePositiveRate), ("alpha", nil, .slowExecution), ("alpha", 1, .lowSuccessRate),
            ("alpha", 2, .lowSuccessRate), ("alpha", 2, .slowExecution),
            ("zeta", nil, .highFalsePositiveRate), ("zeta", nil, .slowExecution), ("zeta", 1, .lowSuccessRate),
            ("zeta", 2, .lowSuccessRate), ("zeta", 2, .slowExecution),
        ]
        let declared = ["alpha": 10.0, "zeta": 10.0]
        let forward = advise(records, declared: declared)
        XCTAssertEqual(forward.map { "\($0.playbookID) \($0.step.map(String.init) ?? "-") \($0.issue)" },
                       expected.map { "\($0.0) \($0.1.map(String.init) ?? "-") \($0.2)" })
        XCTAssertEqual(advise(records.reversed(), declared: declared), forward)
    }

    // MARK: - from the file

    func testAdviceReadsTheHistoryFileAndReportsLinesThatAreNotRecords() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("advice-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let base = try KnowledgeBase(directory: directory)
        let records = (0..<5).map { i in Self.record("web", steps: [Self.step(1, "restart", ok: i < 2)]) }
        try base.appendBatch(encoding: Array(records.prefix(2)), to: .incidentHistory)
        try base.append(Array(#"{"not":"an incident"}"#.utf8), to: .incidentHistory)
        try base.appendBatch(encoding: Array(records.dropFirst(2)), to: .incidentHistory)
        let (advice, problems) = try base.advice(since: Self.since)
        XCTAssertEqual(advice.findings.map(\.value), [0.4])
        XCTAssertEqual(advice.findings.map(\.sampleSize), [5])
        XCTAssertEqual(problems.map(\.line), [3])
        XCTAssertEqual(problems.map(\.kind), [.corruptLine])
    }

    func testTheJSONOfAFindingUsesTheDocumentedKeys() throws {
        let finding = Finding(playbookID: "web", step: 2, stepName: "restart", issue: .lowSuccessRate, value: 0.6, threshold: 0.8,
                              sampleSize: 5)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        XCTAssertEqual(String(decoding: try encoder.encode(finding), as: UTF8.self),
                       #"{"issue":"low_success_rate","playbook_id":"web","recommendation":"Review and improve step implementation","#
                       + #""sample_size":5,"step":2,"step_name":"restart","threshold":0.8,"value":0.6}"#)
    }
}
