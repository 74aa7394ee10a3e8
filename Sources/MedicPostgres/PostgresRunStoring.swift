import Foundation
import MedicEngine
import PostgresNIO

/// What a `PostgresRunStore` and its copies share: the history last read, and whether the store
/// stopped taking records.
final class PostgresRunStoreState: @unchecked Sendable {
    private let lock = NSLock()
    private var history = ListedRuns([])
    private var stopped = false
    /// Runs that lost a target's lease (`PostgresTargetLocks`): they write nothing more, until
    /// the run is claimed again here (a takeover), which starts a new generation of it.
    private var lostTargets: [String: String] = [:]
    /// How many times each run was claimed by this server: a loss reported for an earlier
    /// claim (a lease keeper of the run cut short) must not stop the run taken over.
    private var generations: [String: Int] = [:]

    var runs: ListedRuns { lock.withLock { history } }
    func replace(_ runs: ListedRuns) { lock.withLock { history = runs } }
    func stop() { lock.withLock { stopped = true } }
    var isStopping: Bool { lock.withLock { stopped } }
    func generation(of runID: String) -> Int { lock.withLock { generations[runID, default: 0] } }
    func lost(_ target: String, of runID: String, generation: Int) {
        lock.withLock { if generations[runID, default: 0] == generation { lostTargets[runID] = target } }
    }
    func lostTarget(of runID: String) -> String? { lock.withLock { lostTargets[runID] } }
    /// The run is claimed (again) by this server with a new run lease: a target lease lost by
    /// its earlier claim no longer stops it (the database fences that claim's writes).
    func claimed(_ runID: String) {
        lock.withLock {
            generations[runID, default: 0] += 1
            lostTargets[runID] = nil
        }
    }
}

/// A run's claim in the database: its lease, renewed every third of its term while the claim is
/// held, and given up when the claim is dropped. A renewal that finds the lease taken over stops
/// renewing; the database then refuses the old holder's records (`PostgresRunRecords`), so the
/// run stops at its next record, before the side effect that record announces.
public final class PostgresRunClaim: RunClaim {
    private let heartbeat: Task<Void, Never>
    private let journal: PostgresRunJournal

    init(journal: PostgresRunJournal, every seconds: Double) {
        self.journal = journal
        heartbeat = Task {
            while !Task.isCancelled {
                try? await Task.sleep(nanoseconds: UInt64(max(seconds / 3, 0.05) * 1e9))
                if Task.isCancelled { return }
                // An unreachable database is tried again at the next beat; a lease taken over is lost for good.
                if let renewed = try? await journal.renew(), !renewed { return }
            }
        }
    }

    deinit {
        heartbeat.cancel()
        let journal = journal
        journal.store.database.releases.start { try? await journal.release() }
    }
}

extension PostgresRunJournal: RunJournaling {
    public nonisolated var path: String { "\(store.database.location) run \(runID)" }

    public nonisolated func observe(_ observer: @escaping @Sendable (JournalRecord) -> Void) { observers.add(observer) }

    /// Every append is a committed transaction: `durable` changes nothing (it is always durable).
    @discardableResult
    public func append(_ records: [JournalRecord], now: Date?, durable: Bool) async throws -> [JournalRecord] {
        guard !store.state.isStopping else { throw JournalError("run \(runID): Medic is stopping; the record was not written") }
        if let target = store.state.lostTarget(of: runID) {
            throw JournalError("run \(runID): the lease of target \(target) was lost (not renewed in time, and taken by another run); "
                + "this run stops before its next side effect")
        }
        let written: [JournalRecord]
        do {
            written = try await append(records, now: now ?? store.clock.now)
        } catch {
            throw JournalError("run \(runID): \(error)")
        }
        observers.notify(written)
        return written
    }

    @discardableResult
    public func appendDurably(_ records: [JournalRecord], now: Date?) async throws -> [JournalRecord] {
        try await append(records, now: now, durable: true)
    }
}

/// The observers of a journal, called with each record once it is committed.
final class JournalObservers: @unchecked Sendable {
    private let lock = NSLock()
    private var observers: [@Sendable (JournalRecord) -> Void] = []

    func add(_ observer: @escaping @Sendable (JournalRecord) -> Void) { lock.withLock { observers.append(observer) } }

    func notify(_ records: [JournalRecord]) {
        let observers = lock.withLock { self.observers }
        for record in records { observers.forEach { $0(record) } }
    }
}

extension PostgresRunStore: RunStoring {
    public func create(runID: String) async throws -> (PostgresRunJournal, PostgresRunClaim) {
        let journal = try await claim(runID: runID)
        return (journal, PostgresRunClaim(journal: journal, every: leaseSeconds))
    }

    public func reopen(runID: String) async throws -> (PostgresRunJournal, PostgresRunClaim, JournalContents)? {
        guard let (journal, records) = try await takeOver(runID: runID) else { return nil }
        return (journal, PostgresRunClaim(journal: journal, every: leaseSeconds), JournalContents(records: records))
    }

    public func resolve(_ idOrPrefix: String) async throws -> String {
        guard RunStore.isValidRunID(idOrPrefix) else { throw JournalError("no run '\(idOrPrefix)' in \(database.location)") }
        var matches: [String] = []
        do {
            let rows = try await database.client.query("""
                SELECT run_id FROM medic_runs WHERE left(run_id, length(\(idOrPrefix))) = \(idOrPrefix) AND summary IS NOT NULL
                ORDER BY (run_id = \(idOrPrefix)) DESC, run_id LIMIT 4
                """, logger: database.logger)
            for try await (id) in rows.decode(String.self) { matches.append(id) }
        } catch {
            throw JournalError("\(PostgresFailure("finding the run \(idOrPrefix)", error, location: database.location))")
        }
        if matches.first == idOrPrefix || matches.count == 1 { return matches[0] }
        if matches.isEmpty { throw JournalError("no run '\(idOrPrefix)' in \(database.location); `medic runs` lists them") }
        throw JournalError("'\(idOrPrefix)' names \(matches.count) runs (\(matches.prefix(3).joined(separator: ", ")) ...); give more of the id")
    }

    public func journalPath(_ id: String) -> String { "\(database.location) run \(id)" }

    /// The records are whole or absent in a database: `repair` has nothing to do. A run with no
    /// record does not exist (a run is created with its first record).
    public func read(runID: String, repair: Bool) async throws -> JournalContents {
        let records: [JournalRecord]
        do {
            records = try await self.records(of: runID)
        } catch {
            throw JournalError("\(error)")
        }
        guard !records.isEmpty else { throw JournalError("no run '\(runID)' in \(database.location)") }
        return JournalContents(records: records)
    }

    public func inspect(_ id: String) async throws -> (summary: RunSummary?, contents: JournalContents, status: RunStatus) {
        let contents = try await read(runID: id, repair: false)
        var status = RunStore.status(of: contents.records)
        if status == .running, try await !leaseHeld(id) { status = .interrupted }
        var summary = RunStore.summary(id: id, records: contents.records, status: status, path: journalPath(id))
        summary?.status = status
        return (summary, contents, status)
    }

    public func list(reconcilingIncidents: Bool) async -> (runs: [RunSummary], problems: [String]) {
        do {
            return (try await summaries(), [])
        } catch {
            return ([], ["\(error)"])
        }
    }

    public func stopAppending() { state.stop() }
    public var isStopping: Bool { state.isStopping }

    // MARK: RunHistory, answered from the summaries read at the last refresh

    /// Reads every run's summary. A database that cannot be read leaves one damaged run that
    /// names every playbook, so the gates that count runs refuse rather than count too few.
    public func refresh() async {
        do {
            state.replace(ListedRuns(try await summaries()))
        } catch {
            let now = JournalRecord.timestamp(clock.now)
            let unknown = RunSummary(id: "run-history", playbookID: "?", playbookVersion: "", startedAt: now, updatedAt: now, status: .damaged,
                                     outcome: nil, journal: "\(database.location)", damage: "the runs could not be read: \(error)")
            state.replace(ListedRuns([unknown]))
        }
    }

    public func runs(startedSince since: Date) -> [IndexedRun] { state.runs.runs(startedSince: since) }
    public func unfinishedRuns() -> [IndexedRun] { state.runs.unfinishedRuns() }
    public func damagedRuns() -> [IndexedRun] { state.runs.damagedRuns() }
    public func hasSucceeded(_ playbookID: String) -> Bool { state.runs.hasSucceeded(playbookID) }
    public func finishedRuns(of playbookID: String, from: Int) -> (runs: [IndexedRun], count: Int, generation: Int) {
        state.runs.finishedRuns(of: playbookID, from: from)
    }
    public var breakerReplays: BreakerReplays? { nil }

    /// Whether the run's lease is held and unexpired now, by the database's clock.
    func leaseHeld(_ runID: String) async throws -> Bool {
        do {
            var held = false
            let rows = try await database.client.query(
                "SELECT 1 FROM medic_leases WHERE name = \(Self.leaseName(runID)) AND expires_at > clock_timestamp()", logger: database.logger)
            for try await _ in rows.decode(Int.self) { held = true }
            return held
        } catch {
            throw JournalError("\(PostgresFailure("reading the lease of run \(runID)", error, location: database.location))")
        }
    }
}
