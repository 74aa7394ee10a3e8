import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A run as the index knows it, its times read once.
public struct IndexedRun: Sendable, Hashable {
    public var summary: RunSummary
    /// Its `run_started` time (`distantPast` when it cannot be read, as for a damaged first line).
    public var started: Date
    /// When it was last written to (for a finished run, when it finished); its start when unknown.
    public var updated: Date
}

/// Where a run sits in the index's orders: by start time, then id (runs started in the same
/// millisecond), as `medic runs` lists them.
struct RunOrderKey: Comparable, Hashable {
    var started: Date
    var id: String
    static func < (a: RunOrderKey, b: RunOrderKey) -> Bool { (a.started, a.id) < (b.started, b.id) }
}

extension Array where Element == RunOrderKey {
    /// The index of the first key not below `key`.
    func insertionPoint(_ key: RunOrderKey) -> Int {
        var (low, high) = (0, count)
        while low < high {
            let mid = (low + high) / 2
            if self[mid] < key { low = mid + 1 } else { high = mid }
        }
        return low
    }
}

/// The index of a state directory's runs (`runs/.index`), kept by one `RunStore`: what the
/// questions of the gates, `watch` and `medic runs` need, answered in memory.
///
/// The journals are the only source of truth; the index summarises them and is never the only
/// copy of anything. It is trusted only as far as it is checked: the first look of a process
/// (`verify`) lists the journals and compares each one's size and time of change with its
/// entry (a changed or new journal is read again; a damaged or torn index is rewritten from
/// them); every later look (`refresh`) reads the lines other processes appended since, and
/// checks each run without an outcome: a `running` one against its lock (free: its process is
/// gone, and the run is read again, and marked interrupted), any other against its journal's
/// stamp. A finished run's journal takes no more records, so its entry stands until the next
/// process verifies it. A run's process writes its entry before the run's journal exists (a
/// claim, with the lock held) and again at each change of status, so a long-lived reader sees
/// every run Medic starts without listing the directory.
final class RunIndex: @unchecked Sendable {
    let file: RunIndexFile
    let runsDirectory: String
    private let lock = NSRecursiveLock()
    private var entries: [String: RunIndexEntry] = [:]
    private var runs: [String: IndexedRun] = [:]
    private var order: [RunOrderKey] = []
    private var finishedByPlaybook: [String: [RunOrderKey]] = [:]
    private var generations: [String: Int] = [:]
    /// Counts the times everything was read again: part of every playbook's generation.
    private var epoch = 0
    private var successes: [String: Int] = [:]
    /// Entries without an outcome, claims among them: checked at every look.
    private var unsettled: Set<String> = []
    private var damaged: Set<String> = []
    /// The index file as last read: which file, and how far.
    private var readUpTo: FileIdentity?
    private var verified = false
    /// The breaker's replays, continued while the runs they replayed stand (`RemediationBreaker`).
    let breakerReplays = BreakerReplays()

    init(runsDirectory: String) {
        self.runsDirectory = runsDirectory
        file = RunIndexFile(runsDirectory: runsDirectory)
    }

    func withLock<T>(_ body: () throws -> T) rethrows -> T { try lock.withLock(body) }

    // MARK: - Questions (call `refresh` first)

    func run(_ id: String) -> IndexedRun? { lock.withLock { runs[id] } }

    /// Every run, oldest first.
    func all() -> [IndexedRun] { lock.withLock { order.compactMap { runs[$0.id] } } }

    func runs(startedSince since: Date) -> [IndexedRun] {
        lock.withLock {
            let from = order.insertionPoint(RunOrderKey(started: since, id: ""))
            return order[from...].compactMap { runs[$0.id] }
        }
    }

    func unfinished() -> [IndexedRun] {
        lock.withLock { unsettled.compactMap { runs[$0] }.filter { $0.summary.status != .damaged }.sorted(by: Self.ordered) }
    }

    func damagedRuns() -> [IndexedRun] { lock.withLock { damaged.compactMap { runs[$0] }.sorted(by: Self.ordered) } }

    func hasSucceeded(_ playbookID: String) -> Bool { lock.withLock { successes[playbookID, default: 0] > 0 } }

    func finished(of playbookID: String) -> (runs: [IndexedRun], generation: Int) {
        lock.withLock { ((finishedByPlaybook[playbookID] ?? []).compactMap { runs[$0.id] }, generation(playbookID)) }
    }

    /// The finished runs of `playbookID` from the `from`-th on (oldest first), and the generation.
    func finished(of playbookID: String, from: Int) -> (runs: [IndexedRun], count: Int, generation: Int) {
        lock.withLock {
            let keys = finishedByPlaybook[playbookID] ?? []
            return (keys.dropFirst(from).compactMap { runs[$0.id] }, keys.count, generation(playbookID))
        }
    }

    private func generation(_ playbookID: String) -> Int { epoch << 32 | generations[playbookID, default: 0] }

    private static func ordered(_ a: IndexedRun, _ b: IndexedRun) -> Bool { (a.started, a.summary.id) < (b.started, b.summary.id) }

    // MARK: - Keeping it

    /// Takes `entry` in (a later entry of a run replaces the earlier).
    func apply(_ entry: RunIndexEntry) {
        lock.withLock {
            let id = entry.summary.id
            if let known = entries[id], known == entry { return }
            if let old = runs[id] { unlink(old) }
            unsettled.remove(id)
            damaged.remove(id)
            guard !entry.removed else {
                entries[id] = nil
                return
            }
            entries[id] = entry
            let summary = entry.summary
            if summary.status != .finished { unsettled.insert(id) }
            var listed = summary
            listed.journal = runsDirectory + "/" + id + ".jsonl"
            let started = JournalRecord.date(summary.startedAt) ?? .distantPast
            let run = IndexedRun(summary: listed, started: started, updated: JournalRecord.date(summary.updatedAt) ?? started)
            runs[id] = run
            let key = RunOrderKey(started: started, id: id)
            order.insert(key, at: order.insertionPoint(key))
            if summary.status == .damaged { damaged.insert(id) }
            if summary.status == .finished {
                var keys = finishedByPlaybook[summary.playbookID] ?? []
                finishedByPlaybook[summary.playbookID] = nil
                let at = keys.insertionPoint(key)
                if at != keys.count { generations[summary.playbookID, default: 0] += 1 }
                keys.insert(key, at: at)
                finishedByPlaybook[summary.playbookID] = keys
                if summary.outcome == .succeeded { successes[summary.playbookID, default: 0] += 1 }
            }
        }
    }

    private func unlink(_ run: IndexedRun) {
        let key = RunOrderKey(started: run.started, id: run.summary.id)
        let at = order.insertionPoint(key)
        if at < order.count, order[at] == key { order.remove(at: at) }
        let playbook = run.summary.playbookID
        if run.summary.status == .finished, var keys = finishedByPlaybook[playbook] {
            finishedByPlaybook[playbook] = nil
            let at = keys.insertionPoint(key)
            if at < keys.count, keys[at] == key { keys.remove(at: at) }
            finishedByPlaybook[playbook] = keys
            generations[playbook, default: 0] += 1
            if run.summary.outcome == .succeeded { successes[playbook, default: 0] -= 1 }
        }
        runs[run.summary.id] = nil
    }

    /// Written by the run's process before its journal existed (the process holds the lock).
    static func isClaim(_ entry: RunIndexEntry) -> Bool { entry.stamp == nil }

    func entry(_ id: String) -> RunIndexEntry? { lock.withLock { entries[id] } }

    /// What a verification needs to know of a run's entry, without copying it: whether its
    /// process may still hold it (`running`, or a claim), its stamp, and whether it is settled.
    struct Standing {
        var heldByItsProcess: Bool
        var stamp: JournalStamp?
        var settled: Bool
    }

    func standing(_ id: String) -> Standing? {
        lock.withLock {
            entries[id].map { entry in
                Standing(heldByItsProcess: entry.summary.status == .running || entry.stamp == nil, stamp: entry.stamp,
                         settled: entry.clean && !entry.racy)
            }
        }
    }
    var unsettledIDs: Set<String> { lock.withLock { unsettled } }
    var liveCount: Int { lock.withLock { entries.count } }

    /// The entries whose run id passes `include`.
    func entries(where include: (String) -> Bool) -> [RunIndexEntry] {
        lock.withLock { entries.compactMap { include($0.key) ? $0.value : nil } }
    }

    /// The summaries of the runs whose id passes `include`, oldest first (`medic runs`).
    func summaries(where include: (String) -> Bool) -> [RunSummary] {
        lock.withLock {
            var out: [RunSummary] = []
            out.reserveCapacity(order.count)
            for key in order where include(key.id) {
                if let run = runs[key.id] { out.append(run.summary) }
            }
            return out
        }
    }

    /// Replaces everything with `latest` (one entry per run), the orders built once.
    func replaceAll(with latest: [RunIndexEntry]) {
        lock.withLock {
            entries = [:]
            runs = [:]
            order = []
            finishedByPlaybook = [:]
            epoch += 1
            successes = [:]
            unsettled = []
            damaged = []
            entries.reserveCapacity(latest.count)
            runs.reserveCapacity(latest.count)
            order.reserveCapacity(latest.count)
            var finished: [String: [RunOrderKey]] = [:]
            for entry in latest where !entry.removed {
                let id = entry.summary.id
                entries[id] = entry
                let summary = entry.summary
                if summary.status != .finished { unsettled.insert(id) }
                var listed = summary
                listed.journal = runsDirectory + "/" + id + ".jsonl"
                let started = JournalRecord.date(summary.startedAt) ?? .distantPast
                runs[id] = IndexedRun(summary: listed, started: started, updated: JournalRecord.date(summary.updatedAt) ?? started)
                let key = RunOrderKey(started: started, id: id)
                order.append(key)
                if summary.status == .damaged { damaged.insert(id) }
                if summary.status == .finished {
                    finished[summary.playbookID, default: []].append(key)
                    if summary.outcome == .succeeded { successes[summary.playbookID, default: 0] += 1 }
                }
            }
            order.sort()
            finishedByPlaybook = finished.mapValues { $0.sorted() }
        }
    }

    /// The entries in the runs' order: how a rewritten index lists them.
    func orderedEntries() -> [RunIndexEntry] {
        lock.withLock {
            order.compactMap { entries[$0.id] }
        }
    }

    var isVerified: Bool {
        get { lock.withLock { verified } }
        set { lock.withLock { verified = newValue } }
    }

    var readPosition: FileIdentity? {
        get { lock.withLock { readUpTo } }
        set { lock.withLock { readUpTo = newValue } }
    }
}

/// The breaker's replays by playbook, each with the runs it has taken (`RemediationBreaker`).
public final class BreakerReplays: @unchecked Sendable {
    private let lock = NSLock()
    private var replays: [String: BreakerReplay] = [:]

    func replay(_ playbookID: String) -> BreakerReplay? { lock.withLock { replays[playbookID] } }
    func keep(_ replay: BreakerReplay, for playbookID: String) { lock.withLock { replays[playbookID] = replay } }
}
