import Foundation

/// Folds incident records, one at a time, into `Advice`. The whole history is added (the
/// expected duration of a step is its median over all of it); rates and means are taken over
/// the records at or after `since` (the window).
///
/// Memory is bounded per playbook step: counters, plus at most `reservoirCapacity` durations for
/// the median (exact up to that many; beyond, a uniform reservoir sample with a fixed seed, as
/// `OutcomeStatisticsBuilder` keeps its execution times, so the same file gives the same advice).
public struct AdviceBuilder: Sendable {
    public static let reservoirCapacity = OutcomeStatisticsBuilder.reservoirCapacity

    public let since: String?
    public let configuration: AdviceConfiguration
    /// Seconds, by playbook id: `metadata.avg_execution_time` of the playbooks that declare one.
    public let declaredAverages: [String: Double]

    private struct Step: Sendable {
        var name = ""
        var executions = 0, successes = 0
        var windowTimed = 0
        var windowTotal = 0.0
        var seenTimed = 0
        var durations: [Double] = []
    }

    private struct Playbook: Sendable {
        var detected = 0, denied = 0
        var runs = 0
        var totalTime = 0.0
        var steps: [Int: Step] = [:]
    }

    private var playbooks: [String: Playbook] = [:]
    private var random = SplitMix64(seed: 0x6164_7669_6365)

    public init(since: String? = nil, configuration: AdviceConfiguration = AdviceConfiguration(),
                declaredAverages: [String: Double] = [:]) {
        self.since = since
        self.configuration = configuration
        self.declaredAverages = declaredAverages
    }

    /// Counts `record`: its step durations into the history, the rest only when in the window.
    public mutating func add(_ record: IncidentRecord) {
        let inWindow = since.map { record.timestamp >= $0 } ?? true
        var book = playbooks[record.remediation.playbookID] ?? Playbook()
        if inWindow && record.detection.method != .manual {
            book.detected += 1
            if record.metadata.denied { book.denied += 1 }
        }
        if inWindow && record.runOutcome.attempted {
            book.runs += 1
            book.totalTime += record.remediation.executionTime
        }
        for executed in record.remediation.stepsExecuted {
            var step = book.steps[executed.step] ?? Step()
            step.name = executed.name
            if inWindow {
                step.executions += 1
                if executed.succeeded { step.successes += 1 }
            }
            if let duration = executed.duration {
                if inWindow {
                    step.windowTimed += 1
                    step.windowTotal += duration
                }
                step.seenTimed += 1
                if step.durations.count < Self.reservoirCapacity {
                    step.durations.append(duration)
                } else {
                    let slot = Int(random.next() % UInt64(step.seenTimed))
                    if slot < Self.reservoirCapacity { step.durations[slot] = duration }
                }
            }
            book.steps[executed.step] = step
        }
        playbooks[record.remediation.playbookID] = book
    }

    /// The findings of the records added so far, in `Finding.precedes` order.
    public func result() -> Advice {
        let c = configuration
        var findings: [Finding] = []
        for (id, book) in playbooks {
            if book.detected > 0, book.detected >= c.minimumExecutions {
                let fpRate = Double(book.denied) / Double(book.detected)
                if fpRate > c.maximumFalsePositiveRate {
                    findings.append(Finding(playbookID: id, issue: .highFalsePositiveRate, value: fpRate,
                                            threshold: c.maximumFalsePositiveRate, sampleSize: book.detected))
                }
            }
            if let declared = declaredAverages[id], book.runs > 0, book.runs >= c.minimumExecutions {
                let mean = book.totalTime / Double(book.runs)
                if mean > c.slowFactor * declared {
                    findings.append(Finding(playbookID: id, issue: .slowExecution, value: mean, threshold: c.slowFactor * declared,
                                            expected: declared, baseline: .declaredAverage, sampleSize: book.runs))
                }
            }
            for (number, step) in book.steps {
                if step.executions > 0, step.executions >= c.minimumExecutions {
                    let successRate = Double(step.successes) / Double(step.executions)
                    if successRate < c.minimumSuccessRate {
                        findings.append(Finding(playbookID: id, step: number, stepName: step.name, issue: .lowSuccessRate,
                                                value: successRate, threshold: c.minimumSuccessRate, sampleSize: step.executions))
                    }
                }
                if step.windowTimed > 0, step.windowTimed >= c.minimumExecutions, let expected = median(step.durations) {
                    let mean = step.windowTotal / Double(step.windowTimed)
                    if mean > c.slowFactor * expected {
                        findings.append(Finding(playbookID: id, step: number, stepName: step.name, issue: .slowExecution,
                                                value: mean, threshold: c.slowFactor * expected, expected: expected,
                                                baseline: .historyMedian, sampleSize: step.windowTimed))
                    }
                }
            }
        }
        return Advice(since: since, configuration: c, findings: findings.sorted(by: Finding.precedes))
    }
}

/// The median of `values`: the middle one, or the mean of the two middle ones; nil for none.
func median(_ values: [Double]) -> Double? {
    guard !values.isEmpty else { return nil }
    let sorted = values.sorted()
    let middle = sorted.count / 2
    return sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
}

extension KnowledgeBase {
    /// Calls `body` with each incident record of `incident-history.jsonl`, streamed a line at a
    /// time, and returns the problems found (a torn last line, lines that are not incident
    /// records: skipped and reported with their line numbers).
    public func forEachIncident(_ body: (_ record: IncidentRecord, _ line: Int) throws -> Void) throws -> [KnowledgeProblem] {
        var undecodable: [KnowledgeProblem] = []
        let decoder = JSONDecoder()
        let file = KnowledgeFile.incidentHistory
        let problems = try forEachLine(in: file) { line, number in
            let record: IncidentRecord
            do {
                record = try IncidentRecord(fastJSON: line) ?? decoder.decode(IncidentRecord.self, from: Data(line))
            } catch {
                undecodable.append(KnowledgeProblem(kind: .corruptLine, path: path(file), line: number,
                                                    message: "not an incident record (\(Self.reason(error))); line skipped"))
                return
            }
            try body(record, number)
        }
        return (problems + undecodable).sorted { $0.line < $1.line }
    }

    /// The optimisation hints of the incident history (see `AdviceBuilder`), with the problems found.
    public func advice(since: String? = nil, configuration: AdviceConfiguration = AdviceConfiguration(),
                       declaredAverages: [String: Double] = [:]) throws -> (advice: Advice, problems: [KnowledgeProblem]) {
        var builder = AdviceBuilder(since: since, configuration: configuration, declaredAverages: declaredAverages)
        let problems = try forEachIncident { record, _ in builder.add(record) }
        return (builder.result(), problems)
    }
}
