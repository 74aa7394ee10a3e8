import Foundation

/// The questions the gates, `watch` and the breaker ask about the runs of a state directory,
/// each answered without reading every run: runs started since a time (rate limits: of a
/// playbook, an action, a target), runs without an outcome, damaged runs, whether a playbook
/// has ever succeeded here (safe mode), a playbook's finished runs in order (the breaker).
///
/// `refresh()` brings the answers up to date; the questions then answer from what it read, so
/// one gate evaluation sees one state. A database implementation answers the same questions
/// with queries on indexed columns (start time, playbook, status).
public protocol RunHistory: Sendable {
    /// Reads what changed since the last look (a database: a query over the network).
    func refresh() async
    /// Runs whose `run_started` is at or after `since`, oldest first.
    func runs(startedSince since: Date) -> [IndexedRun]
    /// Runs with no outcome (running, interrupted, waiting for approval), oldest first.
    func unfinishedRuns() -> [IndexedRun]
    /// Runs whose journal is damaged, oldest first.
    func damagedRuns() -> [IndexedRun]
    /// Whether a run of the playbook finished `succeeded`.
    func hasSucceeded(_ playbookID: String) -> Bool
    /// The playbook's finished runs from the `from`-th on, oldest first; `count`, how many there
    /// are; `generation`, a number that changes whenever the list changes otherwise than by runs
    /// added at its end (so a replay of the first runs can be continued while it stays).
    func finishedRuns(of playbookID: String, from: Int) -> (runs: [IndexedRun], count: Int, generation: Int)
    /// Where a breaker keeps its replays between looks, if this history can keep them.
    var breakerReplays: BreakerReplays? { get }
}

extension RunHistory {
    /// The last `count` outcomes of the playbook's finished runs, oldest first.
    public func lastOutcomes(of playbookID: String, count: Int) -> [RunOutcome] {
        let total = finishedRuns(of: playbookID, from: Int.max).count
        return finishedRuns(of: playbookID, from: max(0, total - count)).runs.compactMap(\.summary.outcome)
    }
}

/// The store's history is its index (`RunIndex`), kept by `refresh()`.
extension RunStore: RunHistory {
    public func refresh() { refreshIndex() }
    public func runs(startedSince since: Date) -> [IndexedRun] { index.runs(startedSince: since) }
    public func unfinishedRuns() -> [IndexedRun] { index.unfinished() }
    public func damagedRuns() -> [IndexedRun] { index.damagedRuns() }
    public func hasSucceeded(_ playbookID: String) -> Bool { index.hasSucceeded(playbookID) }
    public func finishedRuns(of playbookID: String, from: Int) -> (runs: [IndexedRun], count: Int, generation: Int) {
        index.finished(of: playbookID, from: from)
    }
    public var breakerReplays: BreakerReplays? { index.breakerReplays }
}

/// A history given as a list of runs (a replay's own runs, a test's): each question reads it all.
public struct ListedRuns: RunHistory {
    public let runs: [IndexedRun]

    public init(_ summaries: [RunSummary]) {
        runs = summaries.map { summary in
            let started = JournalRecord.date(summary.startedAt) ?? .distantPast
            return IndexedRun(summary: summary, started: started, updated: JournalRecord.date(summary.updatedAt) ?? started)
        }.sorted { ($0.started, $0.summary.id) < ($1.started, $1.summary.id) }
    }

    public func refresh() {}
    public func runs(startedSince since: Date) -> [IndexedRun] { runs.filter { $0.started >= since } }
    public func unfinishedRuns() -> [IndexedRun] {
        runs.filter { $0.summary.status != .finished && $0.summary.status != .damaged }
    }
    public func damagedRuns() -> [IndexedRun] { runs.filter { $0.summary.status == .damaged } }
    public func hasSucceeded(_ playbookID: String) -> Bool {
        runs.contains { $0.summary.playbookID == playbookID && $0.summary.outcome == .succeeded }
    }
    public func finishedRuns(of playbookID: String, from: Int) -> (runs: [IndexedRun], count: Int, generation: Int) {
        let finished = runs.filter { $0.summary.playbookID == playbookID && $0.summary.status == .finished }
        return (Array(finished.dropFirst(from)), finished.count, 0)
    }
    public var breakerReplays: BreakerReplays? { nil }
}
