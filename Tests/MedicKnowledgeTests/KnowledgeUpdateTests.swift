import Foundation
import XCTest
@testable import MedicKnowledge

/// `KnowledgeBase.update`: the §9.3 files derived from hand-made incident records, figures
/// computed by hand; appends only, root-causes.json replaced whole, the watermark.
final class KnowledgeUpdateTests: XCTestCase {
    typealias R = AdviceTests
    /// 2024-06-30T12:00:00Z; the 30-day window starts 2024-05-31T12:00:00Z.
    static let now = Date(timeIntervalSince1970: 1_719_748_800)

    /// restart-web (application, web-1, rule high-latency): four runs in the window at 03:10,
    /// 03:20, 03:05 and 15:00 UTC (one failed, one without a step duration) and one old run.
    /// scale-db (database, db-1, manual): three successes at 01:00, 02:00, 03:00.
    /// flush-cache (database, cache-1, manual): an old failure, a failure, a success, and a
    /// refused (denied) run naming no component.
    static func history() -> [IncidentRecord] {
        func web(_ at: String, ok: Bool = true, duration: Double?, ttr: Double) -> IncidentRecord {
            R.record("restart-web", at: at, steps: [R.step(1, "restart", ok: ok, duration: duration)], outcome: ok ? .succeeded : .failed,
                     rule: "high-latency", category: "application", components: ["web-1"], timeToResolution: ttr)
        }
        func db(_ at: String) -> IncidentRecord {
            R.record("scale-db", at: at, steps: [R.step(1, "scale", duration: 1)], category: "database", components: ["db-1"])
        }
        func cache(_ at: String, _ outcome: IncidentRecord.RunOutcome) -> IncidentRecord {
            R.record("flush-cache", at: at, steps: outcome == .refused ? [] : [R.step(1, "flush", ok: outcome == .succeeded)],
                     outcome: outcome, denied: outcome == .refused, category: "database",
                     components: outcome == .refused ? [] : ["cache-1"])
        }
        return [
            web("2024-04-01T03:00:00.000Z", duration: 4, ttr: 30),
            cache("2024-04-02T00:00:00.000Z", .failed),
            db("2024-06-05T01:00:00.000Z"), db("2024-06-06T02:00:00.000Z"), db("2024-06-07T03:00:00.000Z"),
            cache("2024-06-08T00:00:00.000Z", .failed), cache("2024-06-09T00:00:00.000Z", .succeeded),
            cache("2024-06-09T06:00:00.000Z", .refused),
            web("2024-06-10T03:10:00.000Z", duration: 2, ttr: 60), web("2024-06-11T03:20:00.000Z", duration: 4, ttr: 120),
            web("2024-06-12T03:05:00.000Z", ok: false, duration: 6, ttr: 0), web("2024-06-20T15:00:00.000Z", duration: nil, ttr: 90),
        ]
    }

    static let configuration: KnowledgeUpdateConfiguration = {
        var c = KnowledgeUpdateConfiguration(minimumRuns: 3)
        c.advice.minimumExecutions = 3
        return c
    }()

    private func knowledgeBase(with records: [IncidentRecord] = history()) throws -> KnowledgeBase {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("kb-update-\(UUID().uuidString)").path
        addTeardownBlock { try? FileManager.default.removeItem(atPath: directory) }
        let base = try KnowledgeBase(directory: directory)
        try base.appendBatch(encoding: records, to: .incidentHistory)
        return base
    }

    private func bytes(_ path: String) -> Data? { FileManager.default.contents(atPath: path) }

    func testPlaybookPerformanceSnapshotsCountTheWholeHistory() throws {
        let base = try knowledgeBase()
        let summary = try base.update(at: Self.now, configuration: Self.configuration)
        XCTAssertTrue(summary.updated)
        XCTAssertEqual(summary.incidents, 12)
        let (snapshots, problems) = try base.playbookPerformance()
        XCTAssertEqual(problems, [])
        XCTAssertEqual(snapshots, summary.derivation?.performance)
        XCTAssertEqual(snapshots.map(\.playbookID), ["flush-cache", "restart-web", "scale-db"])
        XCTAssertEqual(Set(snapshots.map(\.at)), ["2024-06-30T12:00:00.000Z"])
        XCTAssertEqual(Set(snapshots.map(\.v)), [1])

        let web = snapshots[1]
        XCTAssertEqual(web.totalExecutions, 5)
        XCTAssertEqual(web.successRate, 0.8)
        XCTAssertEqual(web.avgExecutionTime, 10)
        XCTAssertEqual(web.falsePositiveRate, 0, "5 detected, none denied")
        // Durations 4, 2, 4, 6 (one run has none): mean 4.
        XCTAssertEqual(web.stepPerformance, ["1": .init(name: "restart", executions: 5, successRate: 0.8, avgDuration: 4)])
        XCTAssertEqual(web.failureModes, [.init(outcome: "failed", count: 1)])
        // The advice over the 30 days: step 1 succeeded 3 times of 4 (75%); its mean (2+4+6)/3 = 4
        // equals the history median of 2, 4, 4, 6 — not slow.
        XCTAssertEqual(web.optimizationHistory, [Finding(playbookID: "restart-web", step: 1, stepName: "restart",
                                                         issue: .lowSuccessRate, value: 0.75, threshold: 0.8, sampleSize: 4)])

        let cache = snapshots[0]
        XCTAssertEqual(cache.totalExecutions, 3, "the refused run is not an execution")
        XCTAssertEqual(cache.successRate, 1.0 / 3)
        XCTAssertNil(cache.falsePositiveRate, "no detected incident")
        XCTAssertEqual(cache.failureModes, [.init(outcome: "failed", count: 2), .init(outcome: "refused", count: 1)])
        XCTAssertEqual(cache.stepPerformance["1"], .init(name: "flush", executions: 3, successRate: 1.0 / 3, avgDuration: nil))
        XCTAssertEqual(cache.optimizationHistory, [], "2 executions in the window < 3")
        XCTAssertEqual(snapshots[2].failureModes, [])
    }

    func testRemediationEffectivenessPerPlaybookAndCategory() throws {
        let base = try knowledgeBase()
        try base.update(at: Self.now, configuration: Self.configuration)
        let (lines, _) = try base.remediationEffectiveness()
        XCTAssertEqual(lines.map { "\($0.remediationAction)/\($0.problemCategory)" },
                       ["flush-cache/database", "restart-web/application", "scale-db/database"])
        let cache = lines[0], web = lines[1], db = lines[2]
        XCTAssertEqual([cache.runs, cache.successes], [3, 1])
        XCTAssertEqual(cache.avgTimeToResolution, 10)
        XCTAssertEqual(cache.recommendedFor, [])
        XCTAssertEqual(cache.notRecommendedFor, ["database"], "1 of 3 < 50%")
        XCTAssertEqual([web.runs, web.successes], [5, 4])
        XCTAssertEqual(web.successRate, 0.8)
        XCTAssertEqual(web.avgTimeToResolution, 75, "(30 + 60 + 120 + 90) / 4 resolved runs")
        XCTAssertEqual(web.recommendedFor, ["application"], "exactly 80% is recommended")
        XCTAssertEqual(db.successRate, 1)
        XCTAssertEqual(db.recommendedFor, ["database"])
        XCTAssertEqual(db.sideEffects, [])
        XCTAssertEqual(db.prerequisites, [])

        var strict = Self.configuration
        strict.minimumRuns = 4
        let other = try knowledgeBase()
        try other.update(at: Self.now, configuration: strict)
        let judged = try other.remediationEffectiveness().records
        XCTAssertEqual(judged.map(\.recommendedFor), [[], ["application"], []], "3 runs are too few to judge")
        XCTAssertEqual(judged.map(\.notRecommendedFor), [[], [], []])
    }

    func testRecurringAndTemporalPatternsInTheWindow() throws {
        let base = try knowledgeBase()
        try base.update(at: Self.now, configuration: Self.configuration)
        let patterns = try base.incidentPatterns().records
        XCTAssertEqual(patterns.count, 2, "cache-1 has 2 occurrences in the window, the refused run 1")

        let web = try XCTUnwrap(patterns.first { $0.signal == "high-latency" })
        XCTAssertEqual(web.patternID, "7e7384d6db9e3f44", "sha256('4:rule,12:high-latency,1:1,5:web-1,') prefix")
        XCTAssertEqual(web.signalKind, .rule)
        XCTAssertEqual(web.affectedComponent, "web-1")
        XCTAssertEqual(web.occurrences, 4, "the April run is outside the 30 days")
        XCTAssertEqual(web.patternType, .temporal, "3 of 4 at 03:xx UTC: 75% >= 70%")
        XCTAssertEqual(web.peakHour, 3)
        XCTAssertEqual(web.peakHourShare, 0.75)
        XCTAssertTrue(web.seasonal)
        XCTAssertTrue(web.predictable)
        XCTAssertEqual(web.frequency, 4.0 / 30)
        XCTAssertEqual(web.windowDays, 30)
        XCTAssertEqual(web.firstSeen, "2024-06-10T03:10:00.000Z")
        XCTAssertEqual(web.lastSeen, "2024-06-20T15:00:00.000Z")
        XCTAssertEqual(web.earlyWarningSignals, ["high-latency"])
        XCTAssertEqual(web.description, "rule 'high-latency' on web-1: 4 times in 30 days, 75% of them between 03:00 and 04:00 UTC")

        let db = try XCTUnwrap(patterns.first { $0.signal == "database" })
        XCTAssertEqual(db.signalKind, .category)
        XCTAssertEqual(db.affectedComponent, "db-1")
        XCTAssertEqual(db.occurrences, 3)
        XCTAssertEqual(db.patternType, .recurring, "one at each of 01:00, 02:00, 03:00")
        XCTAssertEqual(db.peakHour, 1, "ties go to the earliest hour")
        XCTAssertEqual(db.peakHourShare, 1.0 / 3)
        XCTAssertFalse(db.seasonal)
        XCTAssertFalse(db.predictable)
        XCTAssertEqual(db.earlyWarningSignals, [])
        XCTAssertEqual(IncidentPattern.id(kind: .category, signal: "database", component: nil), "e211cb4415fb1c4a")
        XCTAssertNotEqual(IncidentPattern.id(kind: .category, signal: "database", component: ""),
                          IncidentPattern.id(kind: .category, signal: "database", component: nil))
    }

    func testTheRootCauseLibraryIsKeyedByCategory() throws {
        let base = try knowledgeBase()
        try base.update(at: Self.now, configuration: Self.configuration)
        let library = try XCTUnwrap(try base.rootCauseLibrary())
        XCTAssertEqual(library.v, 1)
        XCTAssertEqual(library.updatedAt, "2024-06-30T12:00:00.000Z")
        XCTAssertEqual(library.rootCauses.keys.sorted(), ["application", "database"])
        let app = try XCTUnwrap(library.rootCauses["application"])
        XCTAssertEqual(app.rootCauseID, "rc-application")
        XCTAssertEqual(app.frequency, 5)
        XCTAssertEqual(app.symptoms, ["high-latency"])
        XCTAssertEqual(app.detectionMethods, ["anomaly_detection"])
        XCTAssertEqual(app.remediationPlaybooks, ["restart-web"])
        let database = try XCTUnwrap(library.rootCauses["database"])
        XCTAssertEqual(database.frequency, 7, "3 scale-db + 4 flush-cache, the refused one too")
        XCTAssertEqual(database.symptoms, [])
        XCTAssertEqual(database.detectionMethods, ["manual"])
        XCTAssertEqual(database.remediationPlaybooks, ["scale-db", "flush-cache"], "3 of 3 before 1 of 3")
        XCTAssertEqual(database.preventionStrategies, [])
        // One pretty JSON document, keys sorted.
        let text = try XCTUnwrap(String(data: try XCTUnwrap(bytes(base.path(.rootCauses))), encoding: .utf8))
        XCTAssertTrue(text.hasPrefix("{\n  \"root_causes\" : {\n    \"application\" : {"), text)
    }

    func testASecondUpdateWithoutNewIncidentsWritesNothingAndANewIncidentAppendsSnapshots() throws {
        let base = try knowledgeBase()
        try base.update(at: Self.now, configuration: Self.configuration)
        let files = [base.path(.playbookPerformance), base.path(.remediationEffectiveness), base.path(.incidentPatterns),
                     base.path(.rootCauses), base.updateStatePath]
        let first = files.map(bytes)
        XCTAssertFalse(first.contains(nil))
        XCTAssertEqual(try base.updateState(),
                       KnowledgeUpdateState(updatedAt: "2024-06-30T12:00:00.000Z", incidentLines: 12,
                                            lastIncidentID: try lastID(base),
                                            lastIncidentTimestamp: "2024-06-20T15:00:00.000Z"))

        let again = try base.update(at: Self.now.addingTimeInterval(3600), configuration: Self.configuration)
        XCTAssertFalse(again.updated)
        XCTAssertNil(again.derivation)
        XCTAssertEqual(again.incidents, 12)
        XCTAssertEqual(files.map(bytes), first, "nothing appended, nothing replaced")

        // One more scale-db success: the next update appends a second snapshot per playbook after
        // the first ones (the lines before are untouched) and replaces the root causes.
        try base.append(encoding: R.record("scale-db", at: "2024-06-29T00:00:00.000Z", category: "database", components: ["db-1"]),
                        to: .incidentHistory)
        let later = Self.now.addingTimeInterval(86_400)
        let third = try base.update(at: later, configuration: Self.configuration)
        XCTAssertTrue(third.updated)
        XCTAssertEqual(third.incidents, 13)
        for (index, path) in files.prefix(3).enumerated() {
            let now = try XCTUnwrap(bytes(path)), before = try XCTUnwrap(first[index])
            XCTAssertEqual(now.prefix(before.count), before, "\(path) only grew")
            XCTAssertGreaterThan(now.count, before.count)
        }
        let snapshots = try base.playbookPerformance().records
        XCTAssertEqual(snapshots.count, 6)
        XCTAssertEqual(snapshots.filter { $0.playbookID == "scale-db" }.map(\.totalExecutions), [3, 4])
        let library = try XCTUnwrap(try base.rootCauseLibrary())
        XCTAssertEqual(library.updatedAt, "2024-07-01T12:00:00.000Z")
        XCTAssertEqual(library.rootCauses["database"]?.frequency, 8)
        XCTAssertEqual(try base.updateState()?.incidentLines, 13)
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: base.directory).filter { $0.contains(".new-") }
        XCTAssertEqual(leftovers, [], "the documents are replaced through a temporary file renamed over them")
    }

    func testAnEmptyHistoryWritesNothing() throws {
        let base = try knowledgeBase(with: [])
        let summary = try base.update(at: Self.now)
        XCTAssertFalse(summary.updated)
        XCTAssertEqual(summary.incidents, 0)
        XCTAssertNil(try base.rootCauseLibrary())
        XCTAssertNil(try base.updateState())
        XCTAssertEqual(try base.playbookPerformance().records, [])
    }

    func testACorruptRootCauseLibraryIsReportedNotRead() throws {
        let base = try knowledgeBase()
        try Data("{\"v\": 1}".utf8).write(to: URL(fileURLWithPath: base.path(.rootCauses)))
        XCTAssertThrowsError(try base.rootCauseLibrary()) { error in
            XCTAssertTrue("\(error)".contains("root-causes.json is not valid"), "\(error)")
        }
        // An update replaces it whole.
        try base.update(at: Self.now, configuration: Self.configuration)
        XCTAssertEqual(try base.rootCauseLibrary()?.rootCauses.count, 2)
    }

    private func lastID(_ base: KnowledgeBase) throws -> String {
        try XCTUnwrap(try base.read(IncidentRecord.self, from: .incidentHistory).records.last).incidentID
    }
}
