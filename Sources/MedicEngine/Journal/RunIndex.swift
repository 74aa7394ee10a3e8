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
    /// One row per run: its entry and its times, in one table (a listing of 10,000 runs builds
    /// it once; a second table of the same runs cost as much again in copies).
    private var rows: [String: Row] = [:]
    private var order: [RunOrderKey] = []
    /// What the gates' questions read, derived from `rows`: built at the first question that
    /// needs it (a listing never does), then kept up to date by `apply`. nil after `replaceAll`.
    private var derived: Derived?
    /// Counts the times the derived tables were built again: part of every playbook's generation.
    private var epoch = 0
    /// The index file as last read: which file, and how far.
    private var readUpTo: FileIdentity?
    private var verified = false
    /// The breaker's replays, continued while the runs they replayed stand (`RemediationBreaker`).
    let breakerReplays = BreakerReplays()

    /// A run's entry as last read or written (its summary naming its journal), and its times.
    private struct Row {
        var run: IndexedRun
        var stamp: JournalStamp?
        var clean: Bool
        var racy: Bool

        init(_ entry: RunIndexEntry, journal: String) {
            var summary = entry.summary
            summary.journal = journal
            let started = JournalRecord.date(summary.startedAt) ?? .distantPast
            run = IndexedRun(summary: summary, started: started, updated: JournalRecord.date(summary.updatedAt) ?? started)
            (stamp, clean, racy) = (entry.stamp, entry.clean, entry.racy)
        }

        var key: RunOrderKey { RunOrderKey(started: run.started, id: run.summary.id) }

        /// The entry as the index file spells it (no journal path: the store's to say).
        var entry: RunIndexEntry {
            var summary = run.summary
            summary.journal = ""
            return RunIndexEntry(summary: summary, stamp: stamp, clean: clean, racy: racy)
        }

        /// Whether `entry` says what this row says.
        func says(_ entry: RunIndexEntry) -> Bool {
            !entry.removed && stamp == entry.stamp && clean == entry.clean && racy == entry.racy
                && entry.summary.id == run.summary.id && entry.summary.status == run.summary.status
                && entry.summary.updatedAt == run.summary.updatedAt && entry.summary.outcome == run.summary.outcome
                && entry.summary.startedAt == run.summary.startedAt && entry.summary.playbookID == run.summary.playbookID
                && entry.summary.playbookVersion == run.summary.playbookVersion && entry.summary.targets == run.summary.targets
                && entry.summary.actions == run.summary.actions && entry.summary.damage == run.summary.damage
        }
    }

    private struct Derived {
        var finishedByPlaybook: [String: [RunOrderKey]] = [:]
        var generations: [String: Int] = [:]
        var successes: [String: Int] = [:]
        /// Entries without an outcome, claims among them: checked at every look.
        var unsettled: Set<String> = []
        var damaged: Set<String> = []

        mutating func add(_ run: IndexedRun, key: RunOrderKey) {
            let summary = run.summary
            if summary.status != .finished { unsettled.insert(summary.id) }
            if summary.status == .damaged { damaged.insert(summary.id) }
            guard summary.status == .finished else { return }
            var keys = finishedByPlaybook[summary.playbookID] ?? []
            finishedByPlaybook[summary.playbookID] = nil
            let at = keys.insertionPoint(key)
            if at != keys.count { generations[summary.playbookID, default: 0] += 1 }
            keys.insert(key, at: at)
            finishedByPlaybook[summary.playbookID] = keys
            if summary.outcome == .succeeded { successes[summary.playbookID, default: 0] += 1 }
        }

        mutating func remove(_ run: IndexedRun, key: RunOrderKey) {
            let summary = run.summary
            unsettled.remove(summary.id)
            damaged.remove(summary.id)
            let playbook = summary.playbookID
            if summary.status == .finished, var keys = finishedByPlaybook[playbook] {
                finishedByPlaybook[playbook] = nil
                let at = keys.insertionPoint(key)
                if at < keys.count, keys[at] == key { keys.remove(at: at) }
                finishedByPlaybook[playbook] = keys
                generations[playbook, default: 0] += 1
                if summary.outcome == .succeeded { successes[playbook, default: 0] -= 1 }
            }
        }
    }

    init(runsDirectory: String) {
        self.runsDirectory = runsDirectory
        file = RunIndexFile(runsDirectory: runsDirectory)
    }

    func withLock<T>(_ body: () throws -> T) rethrows -> T { try lock.withLock(body) }

    /// The derived tables, built from the rows when they are not. Called under `lock`.
    private func derivedTables() -> Derived {
        if let derived { return derived }
        epoch += 1
        var built = Derived()
        var finished: [String: [RunOrderKey]] = [:]
        for key in order {
            guard let run = indexed(key.id) else { continue }
            let summary = run.summary
            if summary.status != .finished { built.unsettled.insert(key.id) }
            if summary.status == .damaged { built.damaged.insert(key.id) }
            if summary.status == .finished {
                finished[summary.playbookID, default: []].append(key)
                if summary.outcome == .succeeded { built.successes[summary.playbookID, default: 0] += 1 }
            }
        }
        built.finishedByPlaybook = finished
        derived = built
        return built
    }

    // MARK: - Questions (call `refresh` first)

    func run(_ id: String) -> IndexedRun? { lock.withLock { indexed(id) } }

    /// A run's `IndexedRun`, read in place: `rows[id]?.run` copied the whole row first (every
    /// string of it retained twice), which the gates' questions paid per run returned.
    @inline(__always)
    private func indexed(_ id: String) -> IndexedRun? {
        guard let at = rows.index(forKey: id) else { return nil }
        return rows.values[at].run
    }

    /// Every run, oldest first.
    func all() -> [IndexedRun] { lock.withLock { order.compactMap { indexed($0.id) } } }

    func runs(startedSince since: Date) -> [IndexedRun] {
        lock.withLock {
            let from = order.insertionPoint(RunOrderKey(started: since, id: ""))
            return order[from...].compactMap { indexed($0.id) }
        }
    }

    func unfinished() -> [IndexedRun] {
        lock.withLock {
            derivedTables().unsettled.compactMap { indexed($0) }.filter { $0.summary.status != .damaged }.sorted(by: Self.ordered)
        }
    }

    func damagedRuns() -> [IndexedRun] { lock.withLock { derivedTables().damaged.compactMap { indexed($0) }.sorted(by: Self.ordered) } }

    func hasSucceeded(_ playbookID: String) -> Bool { lock.withLock { derivedTables().successes[playbookID, default: 0] > 0 } }

    func finished(of playbookID: String) -> (runs: [IndexedRun], generation: Int) {
        lock.withLock {
            let tables = derivedTables()
            return ((tables.finishedByPlaybook[playbookID] ?? []).compactMap { indexed($0.id) }, generation(playbookID, tables))
        }
    }

    /// The finished runs of `playbookID` from the `from`-th on (oldest first), and the generation.
    func finished(of playbookID: String, from: Int) -> (runs: [IndexedRun], count: Int, generation: Int) {
        lock.withLock {
            let tables = derivedTables()
            let keys = tables.finishedByPlaybook[playbookID] ?? []
            return (keys.dropFirst(from).compactMap { indexed($0.id) }, keys.count, generation(playbookID, tables))
        }
    }

    private func generation(_ playbookID: String, _ tables: Derived) -> Int { epoch << 32 | tables.generations[playbookID, default: 0] }

    private static func ordered(_ a: IndexedRun, _ b: IndexedRun) -> Bool { (a.started, a.summary.id) < (b.started, b.summary.id) }

    // MARK: - Keeping it

    /// Takes `entry` in (a later entry of a run replaces the earlier).
    func apply(_ entry: RunIndexEntry) {
        lock.withLock {
            let id = entry.summary.id
            if let known = rows[id] {
                if known.says(entry) { return }
                let key = known.key
                let at = order.insertionPoint(key)
                if at < order.count, order[at] == key { order.remove(at: at) }
                derived?.remove(known.run, key: key)
                rows[id] = nil
            }
            guard !entry.removed else { return }
            let row = Row(entry, journal: runsDirectory + "/" + id + ".jsonl")
            rows[id] = row
            let key = row.key
            order.insert(key, at: order.insertionPoint(key))
            derived?.add(row.run, key: key)
        }
    }

    /// Written by the run's process before its journal existed (the process holds the lock).
    static func isClaim(_ entry: RunIndexEntry) -> Bool { entry.stamp == nil }

    func entry(_ id: String) -> RunIndexEntry? { lock.withLock { rows[id]?.entry } }

    /// What a verification needs to know of a run's entry, without copying it: whether its
    /// process may still hold it (`running`, or a claim), its stamp, and whether it is settled.
    struct Standing {
        var heldByItsProcess: Bool
        var stamp: JournalStamp?
        var settled: Bool
    }

    func standing(_ id: String) -> Standing? {
        lock.withLock {
            guard let at = rows.index(forKey: id) else { return nil }
            let status = rows.values[at].run.summary.status, stamp = rows.values[at].stamp
            return Standing(heldByItsProcess: status == .running || stamp == nil, stamp: stamp,
                            settled: rows.values[at].clean && !rows.values[at].racy)
        }
    }
    var unsettledIDs: Set<String> { lock.withLock { derivedTables().unsettled } }
    var liveCount: Int { lock.withLock { rows.count } }

    /// The entries whose run id passes `include`.
    func entries(where include: (String) -> Bool) -> [RunIndexEntry] {
        lock.withLock { rows.compactMap { include($0.key) ? $0.value.entry : nil } }
    }

    /// The summaries of the runs but those of `excluded`, oldest first (`medic runs`).
    func summaries(excluding excluded: Set<String>) -> [RunSummary] {
        lock.withLock {
            var out: [RunSummary] = []
            out.reserveCapacity(order.count)
            for key in order where excluded.isEmpty || !excluded.contains(key.id) {
                if let at = rows.index(forKey: key.id) { out.append(rows.values[at].run.summary) }
            }
            return out
        }
    }

    /// Replaces everything with `latest` (one entry per run), the order built once; the gates'
    /// tables are built again when first asked for.
    func replaceAll(with latest: [RunIndexEntry]) {
        lock.withLock {
            rows = [:]
            order = []
            derived = nil
            rows.reserveCapacity(latest.count)
            order.reserveCapacity(latest.count)
            let prefix = runsDirectory + "/"
            for entry in latest where !entry.removed {
                let id = entry.summary.id
                let row = Row(entry, journal: prefix + id + ".jsonl")
                order.append(row.key)
                rows[id] = row
            }
            order.sort()
        }
    }

    /// The entries in the runs' order: how a rewritten index lists them.
    func orderedEntries() -> [RunIndexEntry] {
        lock.withLock {
            order.compactMap { rows[$0.id]?.entry }
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
