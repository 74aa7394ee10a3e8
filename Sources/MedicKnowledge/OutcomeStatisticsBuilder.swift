import Foundation

/// Folds incident records, one at a time, into `OutcomeStatistics`: memory is bounded by the
/// number of playbooks and steps, plus at most `reservoirCapacity` execution times per playbook
/// for the p95 (exact up to that many runs; beyond, a uniform reservoir sample (Algorithm R)
/// with a fixed seed, so the same file always gives the same figure).
public struct OutcomeStatisticsBuilder: Sendable {
    public static let reservoirCapacity = 10_000

    /// Records before this time (RFC 3339, compared as text: the records' times are UTC in one
    /// fixed-width spelling) are left out.
    public let since: String?

    private struct Playbook: Sendable {
        var runs = 0, refused = 0, successes = 0, rollbacks = 0, detected = 0, denied = 0
        var totalTime = 0.0
        var seen = 0
        var times: [Double] = []
        var steps: [Int: (name: String, executions: Int, successes: Int)] = [:]
    }

    private var playbooks: [String: Playbook] = [:]
    private var incidents = 0, attempted = 0, succeeded = 0, rollbacks = 0, automated = 0, autoResolved = 0
    private var needingPeople = 0, detected = 0, denied = 0
    private var detectTotal = 0.0, detectCount = 0, resolveTotal = 0.0, resolveCount = 0
    private var random = SplitMix64(seed: 0x6d65_6469_63)

    public init(since: String? = nil) { self.since = since }

    /// Counts `record`, unless it is older than `since`.
    public mutating func add(_ record: IncidentRecord) {
        if let since, record.timestamp < since { return }
        let outcome = record.runOutcome
        let isDetected = record.detection.method != .manual
        incidents += 1
        if record.mode == .automated { automated += 1 }
        if record.mode == .automated && outcome == .succeeded { autoResolved += 1 }
        if record.metadata.escalated || record.metadata.approvalRequested || outcome == .refused { needingPeople += 1 }
        if isDetected {
            detected += 1
            if record.metadata.denied { denied += 1 }
        }
        if let ttd = record.detection.timeToDetect {
            detectTotal += ttd
            detectCount += 1
        }
        if let ttr = record.resolution.timeToResolution {
            resolveTotal += ttr
            resolveCount += 1
        }
        var book = playbooks[record.remediation.playbookID] ?? Playbook()
        if isDetected {
            book.detected += 1
            if record.metadata.denied { book.denied += 1 }
        }
        if outcome.attempted {
            attempted += 1
            book.runs += 1
            if outcome == .succeeded {
                succeeded += 1
                book.successes += 1
            }
            if outcome.rolledBack {
                rollbacks += 1
                book.rollbacks += 1
            }
            book.totalTime += record.remediation.executionTime
            book.seen += 1
            if book.times.count < Self.reservoirCapacity {
                book.times.append(record.remediation.executionTime)
            } else {
                let slot = Int(random.next() % UInt64(book.seen))
                if slot < Self.reservoirCapacity { book.times[slot] = record.remediation.executionTime }
            }
            for step in record.remediation.stepsExecuted {
                var entry = book.steps[step.step] ?? (step.name, 0, 0)
                entry.executions += 1
                if step.succeeded { entry.successes += 1 }
                book.steps[step.step] = entry
            }
        } else {
            book.refused += 1
        }
        playbooks[record.remediation.playbookID] = book
    }

    /// The statistics of the records added so far.
    public func result() -> OutcomeStatistics {
        let kpis = KPIs(
            incidents: incidents, attempted: attempted,
            mttd: detectCount == 0 ? nil : detectTotal / Double(detectCount),
            mttr: resolveCount == 0 ? nil : resolveTotal / Double(resolveCount),
            autoRemediationSuccessRate: rate(autoResolved, incidents),
            remediationAccuracy: rate(succeeded, attempted),
            rollbackRate: rate(rollbacks, attempted),
            automationRate: rate(automated, incidents),
            manualInterventionRate: rate(needingPeople, incidents),
            falsePositiveRate: rate(denied, detected))
        let books = playbooks.keys.sorted().map { id -> PlaybookStatistics in
            let book = playbooks[id]!
            return PlaybookStatistics(
                playbookID: id, runs: book.runs, refused: book.refused, successes: book.successes,
                successRate: rate(book.successes, book.runs), rollbackRate: rate(book.rollbacks, book.runs),
                falsePositiveRate: rate(book.denied, book.detected),
                averageExecutionTime: book.runs == 0 ? nil : book.totalTime / Double(book.runs),
                p95ExecutionTime: nearestRankPercentile(0.95, of: book.times),
                steps: book.steps.keys.sorted().map { n in
                    let s = book.steps[n]!
                    return .init(step: n, name: s.name, executions: s.executions, successes: s.successes,
                                 successRate: rate(s.successes, s.executions))
                })
        }
        return OutcomeStatistics(since: since, kpis: kpis, playbooks: books)
    }
}

extension KnowledgeBase {
    /// The statistics of `incident-history.jsonl` (records at or after `since`), streamed a line
    /// at a time, with the problems found (a torn last line, lines that are not incident records).
    public func incidentStatistics(since: String? = nil) throws -> (statistics: OutcomeStatistics, problems: [KnowledgeProblem]) {
        var builder = OutcomeStatisticsBuilder(since: since)
        var undecodable: [KnowledgeProblem] = []
        let decoder = JSONDecoder()
        let file = KnowledgeFile.incidentHistory
        // Every line goes through a parser that refuses anything not an incident record (the
        // small one, else JSONDecoder), so the store's own JSON check would only scan each line
        // a second time: the lines are read without it, and a line neither accepts is reported.
        let problems = try LineReader.forEachLine(in: path(file), validate: false) { line, number in
            do {
                builder.add(try IncidentRecord(fastJSON: line) ?? decoder.decode(IncidentRecord.self, from: Data(line)))
            } catch {
                undecodable.append(KnowledgeProblem(kind: .corruptLine, path: path(file), line: number,
                                                    message: "not an incident record (\(Self.reason(error))); line skipped"))
            }
        }
        return (builder.result(), (problems + undecodable).sorted { $0.line < $1.line })
    }
}

/// A small deterministic generator (Steele, Lea & Flood's SplitMix64) for the reservoir.
struct SplitMix64: Sendable {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
