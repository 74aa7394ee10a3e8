import Foundation
import MedicKnowledge
import XCTest

/// The daily and weekly reports against figures computed by hand (the arithmetic is beside each
/// assertion), their escaping, and the edges: an empty period, one point, huge values.
final class ReportTests: XCTestCase {
    /// The end of the period of every test: the daily one is [2026-11-22T08:00Z, 2026-11-23T08:00Z).
    private let at = ReportTime.parse("2026-11-23T08:00:00Z")!
    private static let odd = "<script>&\"'|x"

    private func record(_ run: String, _ timestamp: String, _ playbook: String, _ mode: IncidentRecord.Mode,
                        _ outcome: IncidentRecord.RunOutcome, ttd: Double? = nil, ttr: Double? = nil, time: Double,
                        category: String? = nil, components: [String] = [], severity: String? = "SEV3",
                        escalated: Bool = false, approval: Bool = false, denied: Bool = false) -> IncidentRecord {
        let method: IncidentRecord.ResolutionMethod = outcome == .succeeded ? .autoRemediation : outcome == .rolledBack ? .rollback : .manual
        return IncidentRecord(
            incidentID: "i-" + run, timestamp: timestamp, endedAt: timestamp, runID: run, mode: mode, runOutcome: outcome,
            detection: .init(method: mode == .automated ? .anomalyDetection : .manual, detectionTime: timestamp, timeToDetect: ttd,
                             initialSeverity: severity),
            classification: .init(category: category, affectedComponents: components),
            remediation: .init(playbookID: playbook, playbookVersion: "1.0.0", executionTime: time, stepsExecuted: [],
                               outcome: outcome == .succeeded ? .success : outcome == .refused ? nil : .failed),
            impact: .init(duration: nil, servicesAffected: components),
            resolution: .init(resolutionMethod: method, timeToResolution: ttr, verificationPassed: outcome == .succeeded),
            metadata: .init(escalated: escalated, approvalRequested: approval, denied: denied))
    }

    /// Seven incidents in the day, three outside it:
    /// r9 08:00:00.000 B manual    succeeded        ttr 60   time 50  network  [api]      (first instant: in)
    /// r1 09:10        A automated succeeded ttd 60  ttr 300  time 200 network  [api, db] SEV1
    /// r2 09:40        A automated succeeded ttd 120 ttr 500  time 200 network  [api]
    /// r3 12:00        A automated rolled_back ttd 30         time 400 database [db]      SEV0
    /// r4 15:30        odd manual  failed, escalated          time 30  (none)   [web]
    /// r6 20:00        B automated refused ttd 90, approval asked, denied     network []
    /// r5 07:59:59.999 B automated failed ttd 10, escalated   time 50  database [db]      SEV1
    /// r7 at the end (2026-11-23T08:00:00.000Z, out), r8 a millisecond before the start (out),
    /// r10 on 2026-11-18 (out of the day, in the week).
    private var history: [IncidentRecord] {
        [
            record("r9", "2026-11-22T08:00:00.000Z", "pb-b", .manual, .succeeded, ttr: 60, time: 50, category: "network", components: ["api"]),
            record("r1", "2026-11-22T09:10:00.000Z", "pb-a", .automated, .succeeded, ttd: 60, ttr: 300, time: 200, category: "network",
                   components: ["api", "db"], severity: "SEV1"),
            record("r2", "2026-11-22T09:40:00.000Z", "pb-a", .automated, .succeeded, ttd: 120, ttr: 500, time: 200, category: "network",
                   components: ["api"]),
            record("r3", "2026-11-22T12:00:00.000Z", "pb-a", .automated, .rolledBack, ttd: 30, time: 400, category: "database",
                   components: ["db"], severity: "SEV0"),
            record("r4", "2026-11-22T15:30:00.000Z", Self.odd, .manual, .failed, time: 30, components: ["web"], severity: "SEV2",
                   escalated: true),
            record("r6", "2026-11-22T20:00:00.000Z", "pb-b", .automated, .refused, ttd: 90, time: 0, category: "network",
                   approval: true, denied: true),
            record("r5", "2026-11-23T07:59:59.999Z", "pb-b", .automated, .failed, ttd: 10, time: 50, category: "database",
                   components: ["db"], severity: "sev1", escalated: true),
            record("r7", "2026-11-23T08:00:00.000Z", "pb-c", .automated, .succeeded, ttd: 1, ttr: 1, time: 1, category: "late"),
            record("r8", "2026-11-22T07:59:59.999Z", "pb-c", .manual, .succeeded, ttr: 1000, time: 1, category: "early"),
            record("r10", "2026-11-18T10:00:00.000Z", "pb-c", .manual, .succeeded, ttr: 120, time: 10, category: "early"),
        ]
    }

    private func report(_ kind: Report.Kind = .daily, _ records: [IncidentRecord]? = nil, minimumRuns: Int = 2) -> Report {
        var builder = ReportBuilder(kind: kind, at: at, minimumRunsForReview: minimumRuns)
        for record in records ?? history { builder.add(record) }
        return builder.result()
    }

    func testSummaryCountsOnlyTheRecordsOfThePeriod() {
        let r = report()
        XCTAssertEqual(r.from, "2026-11-22T08:00:00.000Z")
        XCTAssertEqual(r.to, "2026-11-23T08:00:00.000Z")
        XCTAssertEqual(r.summary.incidents, 7)          // r7 (at the end), r8 (before the start), r10 left out
        XCTAssertEqual(r.summary.attempted, 6)          // all but the refused r6
        XCTAssertEqual(r.summary.autoRemediated, 3)     // r9, r1, r2
        XCTAssertEqual(r.summary.rolledBack, 1)         // r3
        XCTAssertEqual(r.summary.manualIntervention, 3) // r4, r5 escalated; r6 approval asked and refused
        XCTAssertEqual(r.summary.open, 3)               // r4, r5 escalated, r6 manual; r3 was rolled back, not handed over
        XCTAssertEqual(r.resolutionMethods, .init(autoRemediation: 3, rollback: 1, manual: 3))
        XCTAssertEqual(r.baseName, "medic-report-daily-2026-11-23")
    }

    func testKPIsAreMetOrMissedAgainstTheTargetsOfSection10_1() throws {
        let kpis = Dictionary(uniqueKeysWithValues: report().kpis.map { ($0.key, $0) })
        XCTAssertEqual(try XCTUnwrap(kpis["mttd"]?.value), 62, accuracy: 1e-9)            // (60+120+30+90+10)/5
        XCTAssertEqual(kpis["mttd"]?.status, .met)                                           // < 300 s
        XCTAssertEqual(try XCTUnwrap(kpis["mttr"]?.value), 860.0 / 3, accuracy: 1e-9)     // (60+300+500)/3
        XCTAssertEqual(kpis["mttr"]?.status, .met)                                           // < 900 s
        XCTAssertEqual(try XCTUnwrap(kpis["auto_remediation_success_rate"]?.value), 2.0 / 7, accuracy: 1e-9) // r1, r2
        XCTAssertEqual(kpis["auto_remediation_success_rate"]?.status, .missed)
        XCTAssertEqual(try XCTUnwrap(kpis["remediation_accuracy"]?.value), 0.5, accuracy: 1e-9) // 3 of 6 attempted
        XCTAssertEqual(try XCTUnwrap(kpis["rollback_rate"]?.value), 1.0 / 6, accuracy: 1e-9)
        XCTAssertEqual(try XCTUnwrap(kpis["automation_rate"]?.value), 3.0 / 7, accuracy: 1e-9) // r1 r2 r3 (r5 escalated, r6 asked)
        XCTAssertEqual(kpis["automation_rate"]?.status, .missed)                                // not > 75%
        XCTAssertEqual(try XCTUnwrap(kpis["manual_intervention_rate"]?.value), 3.0 / 7, accuracy: 1e-9)
        XCTAssertEqual(try XCTUnwrap(kpis["false_positive_rate"]?.value), 0.2, accuracy: 1e-9) // r6 of 5 detected
        XCTAssertEqual(kpis["false_positive_rate"]?.status, .missed)
        XCTAssertEqual(report().kpis.map(\.key), ["mttd", "mttr", "auto_remediation_success_rate", "remediation_accuracy",
                                                  "rollback_rate", "automation_rate", "manual_intervention_rate", "false_positive_rate"])
    }

    func testATargetIsMetOnlyStrictlyBeyondIt() {
        XCTAssertEqual(Report.KPI(key: "k", name: "k", value: 0.8, unit: .ratio, comparison: .above, target: 0.8).status, .missed)
        XCTAssertEqual(Report.KPI(key: "k", name: "k", value: 0.81, unit: .ratio, comparison: .above, target: 0.8).status, .met)
        XCTAssertEqual(Report.KPI(key: "k", name: "k", value: 900, unit: .seconds, comparison: .below, target: 900).status, .missed)
        XCTAssertEqual(Report.KPI(key: "k", name: "k", value: 899.9, unit: .seconds, comparison: .below, target: 900).status, .met)
        XCTAssertEqual(Report.KPI(key: "k", name: "k", value: nil, unit: .ratio, comparison: .below, target: 0.1).status, .noData)
    }

    func testHighlightsTopIssuesAndActionItemsAreOrderedWithTieBreaks() {
        let r = report()
        // SEV0 first, then SEV1 by time; "sev1" counts as SEV1.
        XCTAssertEqual(r.significantIncidents.items.map(\.runID), ["r3", "r1", "r5"])
        XCTAssertEqual(r.significantIncidents.total, 3)
        // One failure each: by id ('<' sorts before 'p').
        XCTAssertEqual(r.playbookFailures.map(\.playbookID), [Self.odd, "pb-a", "pb-b"])
        XCTAssertEqual(r.playbookFailures.map(\.failures), [1, 1, 1])
        XCTAssertEqual(r.categories.map(\.name), ["network", "database", "uncategorised"])
        XCTAssertEqual(r.categories.map(\.incidents), [4, 2, 1])
        XCTAssertNil(r.otherCategories)
        // api and db both 3 (r1 counts for both): by name.
        XCTAssertEqual(r.services.map(\.name), ["api", "db", "web"])
        XCTAssertEqual(r.services.map(\.incidents), [3, 3, 1])
        // r3 400 s; r1 and r2 200 s each: the earlier first.
        XCTAssertEqual(r.slowestRemediations.map(\.runID), ["r3", "r1", "r2"])
        // With at least 2 runs: pb-b 1/2 before pb-a 2/3; the odd playbook has 1 run, too few.
        XCTAssertEqual(r.playbooksNeedingReview.map(\.playbookID), ["pb-b", "pb-a"])
        XCTAssertEqual(report(minimumRuns: 3).playbooksNeedingReview.map(\.playbookID), ["pb-a"])
        // Automated, attempted, not succeeded: r3 and r5 (the refused r6 was never attempted).
        XCTAssertEqual(r.failedAutoRemediations.items.map(\.runID), ["r3", "r5"])
        // By executions (pb-a 3, pb-b 2 attempted of 3, odd 1).
        XCTAssertEqual(r.playbooks.map(\.playbookID), ["pb-a", "pb-b", Self.odd])
        XCTAssertEqual(try XCTUnwrap(r.playbooks[0].averageTime), 800.0 / 3, accuracy: 1e-9)
    }

    func testDailyTrendHasTwentyFourHourlyBuckets() throws {
        let trend = report().trend
        XCTAssertEqual(trend.count, 24)
        XCTAssertEqual(trend.first?.label, "08:00")
        XCTAssertEqual(trend.last?.label, "07:00")
        XCTAssertEqual(trend.map(\.incidents).reduce(0, +), 7)
        XCTAssertEqual(trend[0].incidents, 1)                 // r9 at the first instant
        XCTAssertEqual(trend[0].mttr, 60)
        XCTAssertNil(trend[0].mttd)                            // a manual run has no time to detect
        XCTAssertEqual(trend[1].incidents, 2)                 // r1, r2
        XCTAssertEqual(trend[1].autoRemediated, 2)
        XCTAssertEqual(try XCTUnwrap(trend[1].mttd), 90, accuracy: 1e-9)   // (60+120)/2
        XCTAssertEqual(try XCTUnwrap(trend[1].mttr), 400, accuracy: 1e-9)  // (300+500)/2
        XCTAssertEqual(trend[4].mttd, 30)                     // r3 at 12:00
        XCTAssertNil(trend[4].mttr)                           // rolled back: not resolved
        XCTAssertEqual(trend[23].incidents, 1)                // r5 a millisecond before the end
        XCTAssertEqual(trend[23].start, "2026-11-23T07:00:00.000Z")
        XCTAssertEqual(trend[2].incidents, 0)
        XCTAssertNil(trend[2].mttr)
    }

    func testWeeklyTrendHasSevenDailyBuckets() throws {
        let r = report(.weekly)
        XCTAssertEqual(r.from, "2026-11-16T08:00:00.000Z")
        XCTAssertEqual(r.summary.incidents, 9)                    // the day's 7, r8 and r10; r7 at the end is out
        XCTAssertEqual(r.trend.map(\.label), ["11-16", "11-17", "11-18", "11-19", "11-20", "11-21", "11-22"])
        XCTAssertEqual(r.trend.map(\.incidents), [0, 0, 1, 0, 0, 1, 7])
        XCTAssertEqual(r.trend[2].mttr, 120)                      // r10
        XCTAssertEqual(r.trend[5].mttr, 1000)                     // r8
        XCTAssertEqual(try XCTUnwrap(r.trend[6].mttr), 860.0 / 3, accuracy: 1e-9)
        XCTAssertEqual(r.baseName, "medic-report-weekly-2026-11-23")
        let markdown = MarkdownReport.render(r)
        XCTAssertTrue(markdown.contains("## Trends per day"))
        XCTAssertTrue(markdown.contains("| 2026-11-18T08:00:00.000Z | 1 | 1 | - | 2.0 min |"))
        XCTAssertTrue(markdown.contains("## Playbook performance"))
        XCTAssertTrue(markdown.contains("| pb-a | 3 | 0 | 2 | 66.7% | 33.3% | 4.4 min | 6.7 min |"))
        XCTAssertFalse(MarkdownReport.render(report()).contains("## Trends per day"))
    }

    func testTheSameRecordsInAnyOrderGiveTheSameBytes() {
        let forward = report(), backward = report(.daily, history.reversed())
        XCTAssertEqual(forward, backward)
        XCTAssertEqual(HTMLReport.render(forward), HTMLReport.render(backward))
        XCTAssertEqual(MarkdownReport.render(forward), MarkdownReport.render(backward))
    }

    func testTextFromRecordsIsEscapedInHTMLSVGAndMarkdown() throws {
        let category = "<b>cat&\"'|</b>"
        var records = history
        records.append(record("r11", "2026-11-22T10:00:00.000Z", Self.odd, .automated, .failed, ttd: 5, time: 5, category: category))
        let r = report(.daily, records)
        let html = HTMLReport.render(r)
        XCTAssertFalse(html.contains("<script"))
        XCTAssertFalse(html.contains("<b>"))
        XCTAssertTrue(html.contains("&lt;script&gt;&amp;&quot;&#39;|x"))
        let svgs = Self.svgs(in: html)
        XCTAssertEqual(svgs.count, 4)
        // The category chart names it, escaped.
        XCTAssertTrue(svgs.contains { $0.contains("&lt;b&gt;cat&amp;&quot;&#39;|&lt;/b&gt;") })
        let markdown = MarkdownReport.render(r)
        XCTAssertTrue(markdown.contains("\\<script>&\"'\\|x"))
        XCTAssertFalse(markdown.replacingOccurrences(of: "\\<", with: "").contains("<script"))
        XCTAssertTrue(markdown.contains("\\<b>cat&\"'\\|\\</b>"))
        // Every row of every table has as many unescaped pipes as its header.
        var columns: Int?
        for line in markdown.split(separator: "\n", omittingEmptySubsequences: false) {
            guard line.hasPrefix("|") else { columns = nil; continue }
            let pipes = Self.unescapedPipes(String(line))
            if let columns { XCTAssertEqual(pipes, columns, "\(line)") } else { columns = pipes }
        }
    }

    func testMarkdownEscapesOnlyWhatCouldBecomeMarkup() {
        XCTAssertEqual(ReportFormat.markdown("a|b"), "a\\|b")
        XCTAssertEqual(ReportFormat.markdown("< 5 min"), "< 5 min")
        XCTAssertEqual(ReportFormat.markdown("<b>&amp; &#60; & x"), "\\<b>\\&amp; \\&#60; & x")
        XCTAssertEqual(ReportFormat.markdown("*a* _b_ `c` [d](e) ~~f~~ \\"), "\\*a\\* \\_b\\_ \\`c\\` \\[d\\](e) \\~\\~f\\~\\~ \\\\")
        XCTAssertEqual(ReportFormat.markdown("line\nbreak"), "line break")
        XCTAssertEqual(ReportFormat.html("<a href='x'>&\"</a>"), "&lt;a href=&#39;x&#39;&gt;&amp;&quot;&lt;/a&gt;")
    }

    func testAnEmptyPeriodSaysSoInsteadOfDrawing() throws {
        let r = report(.daily, [])
        XCTAssertEqual(r.summary, .init())
        XCTAssertTrue(r.kpis.allSatisfy { $0.status == .noData })
        let html = HTMLReport.render(r)
        let svgs = Self.svgs(in: html)
        XCTAssertEqual(svgs.count, 4)
        XCTAssertTrue(svgs.allSatisfy { $0.contains("No incidents in this period") })
        XCTAssertFalse(svgs.contains { $0.contains("<path") || $0.contains("<circle") || $0.contains("<rect") })
        XCTAssertFalse(Self.hasNonNumber(html))
        XCTAssertTrue(MarkdownReport.render(r).contains("| 0 | 0 | 0 | 0 | 0 |"))
        XCTAssertNoThrow(try r.json())
    }

    func testOnePointAndHugeValuesStayOnTheChart() throws {
        let one = report(.daily, [record("r1", "2026-11-22T09:10:00.000Z", "pb", .automated, .succeeded, ttd: 60, ttr: 300, time: 20)])
        let line = try XCTUnwrap(Self.svgs(in: HTMLReport.render(one)).first)
        XCTAssertEqual(line.components(separatedBy: "<circle").count - 1, 2)  // MTTD and MTTR, one point each
        XCTAssertEqual(HTMLReport.render(one).components(separatedBy: "stroke-dasharray").count - 1, 1) // one slice: the whole ring
        let huge = report(.daily, [
            record("h1", "2026-11-22T09:10:00.000Z", "pb", .automated, .succeeded, ttd: 1e300, ttr: 1.7e308, time: 1.7e308),
            record("h2", "2026-11-22T10:10:00.000Z", "pb", .automated, .succeeded, ttd: 1, ttr: 1.7e308, time: 1.7e308),
        ])
        let html = HTMLReport.render(huge)
        XCTAssertFalse(Self.hasNonNumber(html))
        for svg in Self.svgs(in: html) {
            for number in Self.coordinates(in: svg) {
                XCTAssertTrue(number.isFinite && number >= -1 && number <= 1000, "coordinate \(number) off the chart")
            }
        }
        // The MTTR KPI's sum overflows; the report still encodes and says so.
        XCTAssertTrue(html.contains("overflow"))
        XCTAssertNoThrow(try huge.json())
    }

    func testAKnowledgeBaseIsReadWithItsProblemsReportedByLine() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("medic-report-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let base = try KnowledgeBase(directory: dir.path)
        for record in history.prefix(3) { try base.append(encoding: record, to: .incidentHistory) }
        var badTime = history[3]
        badTime.timestamp = "yesterday"
        try base.append(encoding: badTime, to: .incidentHistory)   // line 4
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: base.path(.incidentHistory)))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data("not json\n{\"v\": 1}\n".utf8))  // lines 5 and 6
        try handle.close()
        for record in history.dropFirst(4) { try base.append(encoding: record, to: .incidentHistory) }

        let (r, problems) = try base.incidentReport(.daily, at: at, minimumRunsForReview: 2)
        XCTAssertEqual(problems.map(\.line), [4, 5, 6])
        XCTAssertTrue(problems[0].message.contains("timestamp 'yesterday'"))
        var expected = history
        expected.remove(at: 3)
        XCTAssertEqual(r, report(.daily, expected))
        XCTAssertEqual(r.summary.incidents, 6)
        // No file: an empty report, no problem.
        let empty = try KnowledgeBase(directory: dir.appendingPathComponent("none").path)
        let (nothing, none) = try empty.incidentReport(.weekly, at: at)
        XCTAssertEqual(nothing.summary.incidents, 0)
        XCTAssertTrue(none.isEmpty)
    }

    func testChartScalesEndOnRoundNumbers() {
        XCTAssertEqual(SVGChart.niceDuration(1000), 1200)     // 16.7 min -> 20 min: ticks of 5 min
        XCTAssertEqual(SVGChart.niceDuration(45), 60)         // 45 s -> 60 s
        XCTAssertEqual(SVGChart.niceDuration(30), 40)         // 30 s -> 40 s: ticks of 10 s
        XCTAssertEqual(SVGChart.niceDuration(5 * 3600), 6 * 3600)
        XCTAssertEqual(SVGChart.niceDuration(0), 1)
        XCTAssertEqual(SVGChart.niceCeiling(5), 6)
        XCTAssertEqual(SVGChart.niceCeiling(1.7e308), 1.7e308)  // 2e308 would be infinite
    }

    func testDurationsUnderASecondAreSpelledInMilliseconds() {
        // A chart of quick remediations: its ticks must not all read 0.0 s.
        XCTAssertEqual([0, 0.0025, 0.005, 0.075, 0.25, 1.5, 90].map { ReportFormat.duration($0) },
                       ["0 s", "2.50 ms", "5.00 ms", "75.0 ms", "250 ms", "1.5 s", "1.5 min"])
        XCTAssertEqual(ReportFormat.duration(0.0000004), "0.0004 ms")
        XCTAssertEqual(ReportFormat.duration(nil), "-")
    }

    func testTimesAreReadAndWrittenAsRFC3339() {
        XCTAssertEqual(ReportTime.parse("1970-01-01T00:00:00Z"), 0)
        XCTAssertEqual(ReportTime.parse("2026-11-23T09:00:00.250+01:00"), ReportTime.parse("2026-11-23T08:00:00.250Z"))
        XCTAssertEqual(ReportTime.format(ReportTime.parse("2024-02-29T23:59:59.999Z")!), "2024-02-29T23:59:59.999Z")
        XCTAssertEqual(ReportTime.format(-1), "1969-12-31T23:59:59.000Z")
        XCTAssertEqual(ReportTime.format(ReportTime.parse("1969-12-31T23:59:59.975Z")!), "1969-12-31T23:59:59.975Z")
        XCTAssertEqual(ReportTime.format(.nan), "-")
        for bad in ["2026-11-23", "2026-13-01T00:00:00Z", "2025-02-29T00:00:00Z", "2026-11-23T08:00:00", "2026-11-23T08:00:00Zx", ""] {
            XCTAssertNil(ReportTime.parse(bad), bad)
        }
    }

    // MARK: - Helpers

    static func svgs(in html: String) -> [String] {
        html.components(separatedBy: "<svg").dropFirst().map { "<svg" + $0.components(separatedBy: "</svg>")[0] + "</svg>" }
    }

    /// Every number in a geometry attribute or path of `svg`.
    static func coordinates(in svg: String) -> [Double] {
        let pattern = try! NSRegularExpression(pattern: #"\b(?:x|y|x1|x2|y1|y2|cx|cy|r|width|height|d)="([^"]*)""#)
        var numbers: [Double] = []
        for match in pattern.matches(in: svg, range: NSRange(svg.startIndex..., in: svg)) {
            let value = String(svg[Range(match.range(at: 1), in: svg)!])
            for token in value.split(whereSeparator: { "ML ".contains($0) }) {
                numbers.append(Double(token) ?? .nan)
            }
        }
        return numbers
    }

    /// A NaN or an infinity spelled out anywhere (a number that escaped the guards).
    static func hasNonNumber(_ text: String) -> Bool {
        text.range(of: #"\b(nan|inf|infinity)\b"#, options: [.regularExpression, .caseInsensitive]) != nil
    }

    static func unescapedPipes(_ line: String) -> Int {
        var count = 0, escaped = false
        for character in line {
            if escaped { escaped = false; continue }
            if character == "\\" { escaped = true } else if character == "|" { count += 1 }
        }
        return count
    }
}
