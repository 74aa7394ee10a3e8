import Foundation

/// A daily or weekly self-healing report (reference §10.3) over the incident history of one
/// period: what `ReportBuilder` folds the records into, and what `MarkdownReport` and `HTMLReport`
/// render. Every list has a stable order with tie-breaks, so the same records and the same end of
/// period always give the same report. Definitions are in docs/reports.md.
public struct Report: Sendable, Equatable, Encodable {
    public enum Kind: String, Sendable, Equatable, Codable, CaseIterable {
        case daily, weekly

        /// The length of the period, seconds.
        public var period: Double { self == .daily ? 86_400 : 7 * 86_400 }
        /// The trend's bucket: an hour in a daily report, a day in a weekly one.
        public var bucket: Double { self == .daily ? 3600 : 86_400 }
        public var title: String { self == .daily ? "Daily self-healing report" : "Weekly self-healing report" }
    }

    /// The counts of §10.3's summary.
    public struct Summary: Sendable, Equatable, Encodable {
        /// Incident records whose run started in the period (refused runs too).
        public var incidents = 0
        /// Runs whose steps were attempted (every outcome but `refused`).
        public var attempted = 0
        /// Resolved by the playbook's run: resolution method `auto_remediation`.
        public var autoRemediated = 0
        /// Of `autoRemediated`, the runs a person started (`medic run`, mode `manual`): resolved by
        /// the playbook, yet not counted by the auto-remediation success rate, which counts only
        /// the runs Medic started itself.
        public var autoRemediatedStartedByPeople = 0
        /// People had to act after the start: escalated, approval asked, or refused.
        public var manualIntervention = 0
        /// Handed to people and not resolved by the run: not `succeeded`, and escalated or with
        /// resolution method `manual`. Medic does not know when people close them.
        public var open = 0
        /// Resolution method `rollback`: the change was undone.
        public var rolledBack = 0

        public init(incidents: Int = 0, attempted: Int = 0, autoRemediated: Int = 0, manualIntervention: Int = 0, open: Int = 0,
                    rolledBack: Int = 0) {
            self.incidents = incidents
            self.attempted = attempted
            self.autoRemediated = autoRemediated
            self.manualIntervention = manualIntervention
            self.open = open
            self.rolledBack = rolledBack
        }
    }

    /// One KPI of §10.1 against its target.
    public struct KPI: Sendable, Equatable, Encodable {
        public enum Unit: String, Sendable, Equatable, Encodable { case seconds, ratio }
        /// Met when the value is strictly below (`<`) or above (`>`) the target.
        public enum Comparison: String, Sendable, Equatable, Encodable {
            case below = "<", above = ">"
        }
        public enum Status: String, Sendable, Equatable, Encodable {
            case met, missed
            /// Nothing to count in the period (the rate's denominator is 0).
            case noData = "no_data"
        }

        /// The name in `medic kb stats --json` (`mttr`, `rollback_rate` …).
        public var key: String
        public var name: String
        public var value: Double?
        public var unit: Unit
        public var comparison: Comparison
        public var target: Double
        public var status: Status

        public init(key: String, name: String, value: Double?, unit: Unit, comparison: Comparison, target: Double) {
            self.key = key
            self.name = name
            self.value = value
            self.unit = unit
            self.comparison = comparison
            self.target = target
            if let value, !value.isNaN {
                let met = comparison == .below ? value < target : value > target
                status = met ? .met : .missed
            } else {
                status = .noData
            }
        }
    }

    /// One incident as the report's lists show it.
    public struct Incident: Sendable, Equatable, Encodable {
        public var runID: String
        public var incidentID: String
        /// The run's start, as recorded.
        public var timestamp: String
        public var playbookID: String
        public var severity: String?
        public var category: String
        public var components: [String]
        public var mode: IncidentRecord.Mode
        public var runOutcome: IncidentRecord.RunOutcome
        /// Seconds from the run's start to its end.
        public var executionTime: Double
        public var timeToResolution: Double?
    }

    /// The first `items` of a list (in its order) and how many there were in all.
    public struct IncidentList: Sendable, Equatable, Encodable {
        public var total = 0
        public var items: [Incident] = []
    }

    /// A name and how many incidents have it (a category, a service).
    public struct Count: Sendable, Equatable, Encodable {
        public var name: String
        public var incidents: Int
    }

    /// One playbook's runs in the period.
    public struct Playbook: Sendable, Equatable, Encodable {
        public var playbookID: String
        /// Attempted runs (every outcome but `refused`).
        public var executions: Int
        public var refused: Int
        public var successes: Int
        /// Attempted runs that did not succeed.
        public var failures: Int
        public var successRate: Double?
        public var rollbackRate: Double?
        /// Seconds, over the attempted runs.
        public var averageTime: Double?
        public var p95Time: Double?
    }

    /// One step of the trend: an hour (daily) or a day (weekly), `[start, end)`.
    public struct Bucket: Sendable, Equatable, Encodable {
        public var start: String
        public var end: String
        /// `14:00` (an hour, UTC) or `11-17` (a day starting at the same time of day as the period).
        public var label: String
        public var incidents = 0
        public var autoRemediated = 0
        /// Mean time to detect of the bucket's incidents that have one, seconds.
        public var mttd: Double?
        /// Mean time to remediate of the bucket's resolved incidents, seconds.
        public var mttr: Double?
    }

    /// §10.2's resolution methods: incidents by `resolution.resolution_method`.
    public struct ResolutionMethods: Sendable, Equatable, Encodable {
        public var autoRemediation = 0
        public var rollback = 0
        public var manual = 0
        public var total: Int { autoRemediation + rollback + manual }

        public init(autoRemediation: Int = 0, rollback: Int = 0, manual: Int = 0) {
            self.autoRemediation = autoRemediation
            self.rollback = rollback
            self.manual = manual
        }
    }

    public var kind: Kind
    /// The period, `[from, to)`, RFC 3339 UTC: incidents whose run started in it.
    public var from: String
    public var to: String
    public var summary: Summary
    public var kpis: [KPI]
    /// Initial severity SEV0 or SEV1, most severe first, then by time (at most `listLimit`).
    public var significantIncidents: IncidentList
    /// Playbooks with attempted runs that did not succeed: most failures first, then by id.
    public var playbookFailures: [Playbook]
    /// The most common categories (`uncategorised` when absent): most incidents first, then by
    /// name; at most `chartLimit`, the rest summed in `otherCategories`.
    public var categories: [Count]
    public var otherCategories: Count?
    /// Services (affected components) with most incidents, at most 5, then by name.
    public var services: [Count]
    /// The longest attempted runs, at most 3: longest first, then by time, then by run id.
    public var slowestRemediations: [Incident]
    /// Success rate below `reviewSuccessRate` with at least `minimumRunsForReview` runs: lowest
    /// rate first, then most runs, then by id.
    public var playbooksNeedingReview: [Playbook]
    public var minimumRunsForReview: Int
    /// Automated runs that were attempted and did not succeed, by time then run id.
    public var failedAutoRemediations: IncidentList
    public var trend: [Bucket]
    public var resolutionMethods: ResolutionMethods
    /// Every playbook that ran: most executions first, then by id.
    public var playbooks: [Playbook]

    public static let reviewSuccessRate = 0.8
    public static let listLimit = 20
    public static let chartLimit = 10

    /// The report as one JSON object (keys sorted, snake_case; absent values left out).
    public func json() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return try encoder.encode(self)
    }

    /// The file name of this report without its extension: `medic-report-daily-2026-11-23`
    /// (the UTC date of the period's end).
    public var baseName: String {
        "medic-report-\(kind.rawValue)-\(ReportTime.date(ReportTime.parse(to) ?? 0))"
    }
}
