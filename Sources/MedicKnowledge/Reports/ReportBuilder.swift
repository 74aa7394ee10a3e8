import Foundation

/// Folds incident records, one at a time and in any order, into a `Report` of the period of
/// `kind` ending at `at`: records whose run started in `[at − period, at)` count, others are
/// left out. Memory is bounded by the number of playbooks, categories and services (plus the
/// statistics' per-playbook sample, see `OutcomeStatisticsBuilder`), never by the number of
/// records: lists keep only their first few entries in their final order.
public struct ReportBuilder: Sendable {
    /// What `add` did with a record.
    public enum Placement: Sendable, Equatable {
        case counted, outsidePeriod
        /// Its `timestamp` is not an RFC 3339 date-time: it cannot be placed in time.
        case unreadableTimestamp
    }

    public let kind: Report.Kind
    /// The period, seconds since 1970: `[from, to)`.
    public let from: Double
    public let to: Double
    public let minimumRunsForReview: Int

    private var statistics = OutcomeStatisticsBuilder()
    private var summary = Report.Summary()
    private var significant: BoundedList<Ranked>
    private var slowest: BoundedList<Ranked>
    private var failedAuto: BoundedList<Ranked>
    private var categories: [String: Int] = [:]
    private var services: [String: Int] = [:]
    private var resolution = Report.ResolutionMethods()
    private var buckets: [BucketTotals]

    private struct BucketTotals: Sendable {
        var incidents = 0, autoRemediated = 0
        var detect = RunningMean(), resolve = RunningMean()
    }

    /// `at`: the end of the period, seconds since 1970. `minimumRunsForReview`: a playbook needs
    /// at least this many attempted runs in the period to be listed for review.
    public init(kind: Report.Kind, at: Double, minimumRunsForReview: Int = 3) {
        self.kind = kind
        to = at
        from = at - kind.period
        self.minimumRunsForReview = max(1, minimumRunsForReview)
        buckets = Array(repeating: BucketTotals(), count: Int(kind.period / kind.bucket))
        // Most severe first (SEV0 before SEV1), then the earliest, then by run id.
        significant = BoundedList(limit: Report.listLimit) { a, b in
            (a.severityRank, a.time, a.runID) < (b.severityRank, b.time, b.runID)
        }
        // The longest first, then the earliest, then by run id.
        slowest = BoundedList(limit: 3) { a, b in
            let x = a.executionTime, y = b.executionTime
            return x != y ? x > y : (a.time, a.runID) < (b.time, b.runID)
        }
        failedAuto = BoundedList(limit: Report.listLimit) { a, b in (a.time, a.runID) < (b.time, b.runID) }
    }

    /// Counts `record` when its run started in the period.
    @discardableResult
    public mutating func add(_ record: IncidentRecord) -> Placement {
        guard let time = ReportTime.parse(record.timestamp) else { return .unreadableTimestamp }
        guard time >= from, time < to else { return .outsidePeriod }
        statistics.add(record)
        // A chaos experiment's run tested the playbook (its figures count it); it was no incident.
        guard record.mode != .chaos else { return .counted }
        let outcome = record.runOutcome, method = record.resolution.resolutionMethod
        let category = Self.category(of: record)
        let ranked = Ranked(record: record, time: time, severityRank: Self.severityRank(record.detection.initialSeverity))

        summary.incidents += 1
        if outcome.attempted { summary.attempted += 1 }
        if record.metadata.escalated || record.metadata.approvalRequested || outcome == .refused { summary.manualIntervention += 1 }
        if outcome != .succeeded && (record.metadata.escalated || method == .manual) { summary.open += 1 }
        switch method {
        case .autoRemediation:
            summary.autoRemediated += 1
            if record.mode != .automated { summary.autoRemediatedStartedByPeople += 1 }
            resolution.autoRemediation += 1
        case .rollback:
            summary.rolledBack += 1
            resolution.rollback += 1
        case .manual:
            resolution.manual += 1
        }

        if ranked.severityRank < 2 { significant.insert(ranked) }
        if outcome.attempted { slowest.insert(ranked) }
        if record.mode == .automated && outcome.attempted && outcome != .succeeded { failedAuto.insert(ranked) }
        categories[category, default: 0] += 1
        for service in Set(record.classification.affectedComponents) where !service.isEmpty { services[service, default: 0] += 1 }

        let index = min(buckets.count - 1, Int((time - from) / kind.bucket))
        buckets[index].incidents += 1
        if method == .autoRemediation { buckets[index].autoRemediated += 1 }
        if let ttd = record.detection.timeToDetect.flatMap(finite) { buckets[index].detect.add(ttd) }
        if let ttr = record.resolution.timeToResolution.flatMap(finite) { buckets[index].resolve.add(ttr) }
        return .counted
    }

    /// The report of the records counted so far.
    public func result() -> Report {
        let stats = statistics.result()
        let k = stats.kpis
        let kpis = [
            Report.KPI(key: "mttd", name: "MTTD (mean time to detect)", value: k.mttd, unit: .seconds, comparison: .below, target: 300),
            Report.KPI(key: "mttr", name: "MTTR (mean time to remediate)", value: k.mttr, unit: .seconds, comparison: .below, target: 900),
            Report.KPI(key: "auto_remediation_success_rate", name: "Auto-remediation success rate",
                       value: k.autoRemediationSuccessRate, unit: .ratio, comparison: .above, target: 0.8),
            Report.KPI(key: "remediation_accuracy", name: "Remediation accuracy", value: k.remediationAccuracy, unit: .ratio,
                       comparison: .above, target: 0.9),
            Report.KPI(key: "rollback_rate", name: "Rollback rate", value: k.rollbackRate, unit: .ratio, comparison: .below, target: 0.05),
            Report.KPI(key: "automation_rate", name: "Automation rate", value: k.automationRate, unit: .ratio, comparison: .above, target: 0.75),
            Report.KPI(key: "manual_intervention_rate", name: "Manual intervention rate", value: k.manualInterventionRate, unit: .ratio,
                       comparison: .below, target: 0.25),
            Report.KPI(key: "false_positive_rate", name: "False positive rate", value: k.falsePositiveRate, unit: .ratio,
                       comparison: .below, target: 0.1),
        ]
        let playbooks = stats.playbooks.map { p in
            Report.Playbook(playbookID: p.playbookID, executions: p.runs, refused: p.refused, successes: p.successes,
                            failures: p.runs - p.successes, successRate: p.successRate, rollbackRate: p.rollbackRate,
                            averageTime: p.averageExecutionTime, p95Time: p95(p))
        }
        let byUsage = playbooks.sorted { ($1.executions, $0.playbookID) < ($0.executions, $1.playbookID) }
        let failures = playbooks.filter { $0.failures > 0 }.sorted { ($1.failures, $0.playbookID) < ($0.failures, $1.playbookID) }
        let review = playbooks.filter { p in
            p.executions >= minimumRunsForReview && (p.successRate ?? 1) < Report.reviewSuccessRate
        }.sorted { a, b in
            let x = a.successRate ?? 0, y = b.successRate ?? 0
            return x != y ? x < y : (b.executions, a.playbookID) < (a.executions, b.playbookID)
        }
        let categoryCounts = Self.ranked(categories)
        let shown = Array(categoryCounts.prefix(Report.chartLimit))
        let rest = categoryCounts.dropFirst(Report.chartLimit)
        let other = rest.isEmpty ? nil
            : Report.Count(name: "\(rest.count) other categor\(rest.count == 1 ? "y" : "ies")", incidents: rest.reduce(0) { $0 + $1.incidents })
        let trend = buckets.enumerated().map { index, totals in
            let start = from + Double(index) * kind.bucket
            return Report.Bucket(start: ReportTime.format(start), end: ReportTime.format(start + kind.bucket),
                                 label: label(start), incidents: totals.incidents, autoRemediated: totals.autoRemediated,
                                 mttd: totals.detect.mean, mttr: totals.resolve.mean)
        }
        return Report(
            kind: kind, from: ReportTime.format(from), to: ReportTime.format(to), summary: summary, kpis: kpis,
            significantIncidents: .init(total: significant.total, items: significant.items.map(\.incident)),
            playbookFailures: failures, categories: shown, otherCategories: other,
            services: Array(Self.ranked(services).prefix(5)), slowestRemediations: slowest.items.map(\.incident),
            playbooksNeedingReview: review, minimumRunsForReview: minimumRunsForReview,
            failedAutoRemediations: .init(total: failedAuto.total, items: failedAuto.items.map(\.incident)),
            trend: trend, resolutionMethods: resolution, playbooks: byUsage)
    }

    private func p95(_ p: PlaybookStatistics) -> Double? { p.p95ExecutionTime.flatMap(finite) }

    private func label(_ start: Double) -> String {
        let text = ReportTime.format(start)
        return kind == .daily ? String(text.dropFirst(11).prefix(5)) : String(text.dropFirst(5).prefix(5))
    }

    /// Most incidents first, then by name (byte order, so the same in every locale).
    static func ranked(_ counts: [String: Int]) -> [Report.Count] {
        counts.map { Report.Count(name: $0.key, incidents: $0.value) }
            .sorted { $0.incidents != $1.incidents ? $0.incidents > $1.incidents : Array($0.name.utf8).lexicographicallyPrecedes(Array($1.name.utf8)) }
    }

    /// `classification.category`, `uncategorised` when absent or empty.
    static func category(of record: IncidentRecord) -> String {
        record.classification.category.flatMap { $0.isEmpty ? nil : $0 } ?? "uncategorised"
    }

    /// 0 for SEV0, 1 for SEV1 (any case, surrounding spaces ignored), 2 for anything else.
    static func severityRank(_ severity: String?) -> Int {
        switch severity?.trimmingCharacters(in: .whitespaces).uppercased() {
        case "SEV0": return 0
        case "SEV1": return 1
        default: return 2
        }
    }
}

extension KnowledgeBase {
    /// The `kind` report of the period ending at `at` (seconds since 1970) from
    /// `incident-history.jsonl`, streamed a line at a time, with the problems found: a torn last
    /// line, lines that are not incident records, records whose time cannot be read.
    public func incidentReport(_ kind: Report.Kind, at: Double, minimumRunsForReview: Int = 3) throws
        -> (report: Report, problems: [KnowledgeProblem]) {
        var builder = ReportBuilder(kind: kind, at: at, minimumRunsForReview: minimumRunsForReview)
        var undecodable: [KnowledgeProblem] = []
        let decoder = JSONDecoder()
        let file = KnowledgeFile.incidentHistory
        let problems = try LineReader.forEachLine(in: path(file), validate: false) { line, number in
            let record: IncidentRecord
            do {
                record = try IncidentRecord(fastJSON: line) ?? decoder.decode(IncidentRecord.self, from: Data(line))
            } catch {
                undecodable.append(KnowledgeProblem(kind: .corruptLine, path: path(file), line: number,
                                                    message: "not an incident record (\(Self.reason(error))); line skipped"))
                return
            }
            if builder.add(record) == .unreadableTimestamp {
                undecodable.append(KnowledgeProblem(kind: .corruptLine, path: path(file), line: number,
                                                    message: "timestamp '\(record.timestamp)' is not an RFC 3339 date-time; line skipped"))
            }
        }
        return (builder.result(), (problems + undecodable).sorted { $0.line < $1.line })
    }
}

/// An incident with what its lists sort on; the record is turned into a `Report.Incident` only
/// if it stays in a list to the end.
private struct Ranked: Sendable {
    var record: IncidentRecord
    var time: Double
    var severityRank: Int

    var runID: String { record.runID }
    var executionTime: Double { finite(record.remediation.executionTime) ?? 0 }

    var incident: Report.Incident {
        Report.Incident(
            runID: record.runID, incidentID: record.incidentID, timestamp: record.timestamp,
            playbookID: record.remediation.playbookID, severity: record.detection.initialSeverity,
            category: ReportBuilder.category(of: record), components: record.classification.affectedComponents,
            mode: record.mode, runOutcome: record.runOutcome, executionTime: executionTime,
            timeToResolution: record.resolution.timeToResolution.flatMap(finite))
    }
}

/// The first `limit` elements, in `precedes` order, of everything inserted, and how many were.
struct BoundedList<Element: Sendable>: Sendable {
    let limit: Int
    let precedes: @Sendable (Element, Element) -> Bool
    private(set) var items: [Element] = []
    private(set) var total = 0

    init(limit: Int, precedes: @escaping @Sendable (Element, Element) -> Bool) {
        self.limit = limit
        self.precedes = precedes
    }

    mutating func insert(_ element: Element) {
        total += 1
        if items.count == limit, let last = items.last, !precedes(element, last) { return }
        let index = items.firstIndex { precedes(element, $0) } ?? items.count
        items.insert(element, at: index)
        if items.count > limit { items.removeLast() }
    }
}

/// A mean kept without a sum, so huge values cannot overflow it to infinity.
struct RunningMean: Sendable {
    private(set) var count = 0
    private var value = 0.0
    mutating func add(_ x: Double) {
        count += 1
        value += (x - value) / Double(count)
    }
    var mean: Double? { count == 0 ? nil : value }
}

/// `value` when it is a finite number, else nil (JSON cannot hold the others, charts cannot scale them).
func finite(_ value: Double) -> Double? { value.isFinite ? value : nil }
