import Foundation

// The engine's state behind protocols. Each protocol says the guarantees the engine relies on,
// so that another implementation (a database shared by several Medic servers) can give the
// same ones; the file-backed implementation of a state directory is today's (`FileStores`).

/// The journal of one run: the run's only record, appended in order.
///
/// Guarantees:
/// - **Sequence**: `append` gives each record the next sequence number of the run (1, 2, ...),
///   with no gap and no repeat, and its time; records are kept in that order.
/// - **Durability**: `append(durable: true)` returns only once the records, and every record
///   before them, survive a crash of the process and of the machine. `durable: false` makes them
///   visible at once and durable with the next durable append. `appendDurably` is a durable
///   append that may share its sync with other appends made meanwhile.
/// - **Whole records**: a reader never sees part of a record, nor a record without every one
///   before it.
/// - **Single writer**: only the holder of the run's claim (`RunClaim`) appends.
/// - **Failure stops**: a failure throws `JournalError`; the caller does not start the side
///   effect the record announced. After the store's `stopAppending`, every append throws.
public protocol RunJournaling: AnyObject, Sendable {
    var runID: String { get }
    /// Where the records are kept (a file's path), for people.
    var path: String { get }
    /// Called with each record once it is stored.
    func observe(_ observer: @escaping @Sendable (JournalRecord) -> Void)
    @discardableResult
    func append(_ records: [JournalRecord], now: Date?, durable: Bool) async throws -> [JournalRecord]
    @discardableResult
    func appendDurably(_ records: [JournalRecord], now: Date?) async throws -> [JournalRecord]
}

extension RunJournaling {
    /// Appends one record (`append(_:now:durable:)`).
    @discardableResult
    public func append(_ record: JournalRecord, now: Date?, durable: Bool) async throws -> JournalRecord {
        try await append([record], now: now, durable: durable)[0]
    }
}

extension RunJournal: RunJournaling {}

/// A run's claim: while it is held no other process writes to the run. It is released when it
/// is dropped and, whatever happens to its holder, when the holder is gone (a file lock: the
/// kernel releases it when the process dies; a database row: an owner and an expiry the holder
/// renews, which another server may take over once it has passed).
public protocol RunClaim: AnyObject, Sendable {}

extension RunLock: RunClaim {}

/// The runs of the state: each run's journal, claimed by one process at a time, and the index
/// the questions about many runs read (`RunHistory`).
///
/// Guarantees:
/// - **Atomic claim of a run id** (`create`): of any number of callers with one id, exactly one
///   succeeds, and an id once used is never given again; the journal exists only with its first
///   record (a run killed before has left nothing).
/// - **Exclusive owner** (`reopen`): a run is continued only by the one process holding its
///   claim; nil while another holds it. A run whose owner is gone without an outcome is
///   `interrupted` for every reader (`inspect`, `list`, the index).
/// - **Damage is never trusted**: a record that is not as written (`JournalDamage`) makes the
///   run `damaged`: not continued, and the gates that count runs refuse rather than guess.
/// - **The index is a summary**: rebuilt from the journals at any time, checked against them
///   before it is trusted; never the only copy of anything.
/// - **Stopping** (`stopAppending`): from then on no journal of this store takes a record
///   (a signal: the steps it ends stay in flight for `resume`); other stores are not affected.
public protocol RunStoring: RunHistory {
    associatedtype Journal: RunJournaling
    associatedtype Claim: RunClaim
    /// The time of records appended without one, and of new run ids.
    var clock: any EngineClock { get }
    func create(runID: String) async throws -> (Journal, Claim)
    func reopen(runID: String) async throws -> (Journal, Claim, JournalContents)?
    /// The full id of a run named by its id or an unambiguous prefix.
    func resolve(_ idOrPrefix: String) async throws -> String
    /// Where the run's records are kept (a file's path), for people.
    func journalPath(_ id: String) -> String
    func read(runID: String, repair: Bool) async throws -> JournalContents
    /// One run as `list` sees it (a dead run is marked interrupted first).
    func inspect(_ id: String) async throws -> (summary: RunSummary?, contents: JournalContents, status: RunStatus)
    /// Every run, oldest first, with the problems found.
    func list(reconcilingIncidents: Bool) async -> (runs: [RunSummary], problems: [String])
    func stopAppending()
    var isStopping: Bool { get }
}

extension RunStoring {
    /// The run's records as they are, repairing nothing.
    public func read(runID: String) async throws -> JournalContents { try await read(runID: runID, repair: false) }
}

extension RunStore: RunStoring {}

/// Locks on targets, so two runs never remediate one target at once, across every Medic that
/// shares the state.
///
/// Guarantees:
/// - **Exclusive**: a target's lock has at most one holder; `acquire` takes every name of a
///   run or none (the locks it took are given back when one stays held), in one order for
///   everyone (sorted names), so no two runs wait on each other in a circle.
/// - **Owner and expiry**: the holder (run, pid, host, since) is readable by all (`holders`);
///   a lock lasts while its holder lives and is released when the lease is dropped or the
///   holder dies (file locks: by the kernel; a database: by an expiry the holder renews).
/// - **Waiting** up to `wait` seconds of the implementation's clock, never holding a thread.
public protocol TargetLocking: Sendable {
    /// Who holds each of `names` now (nil: free); takes nothing.
    func holders(of names: [String]) async -> [(name: String, holder: TargetLocks.Holder?)]
    func acquire(_ names: [String], run: String, wait: Double, now: Date) async throws -> TargetLease
}

extension TargetLocks: TargetLocking {}

/// The operators' switches every Medic sharing the state reads before a run: the kill switch
/// (`medic pause`), safe mode, and the breakers' manual resets.
///
/// Maintenance windows are not among them: they are policy, declared in the catalog
/// (`maintenance_windows`, `MaintenanceWindowGate`), versioned with the playbooks and the same
/// for every Medic loading that catalog; there is no maintenance switch here to look for.
///
/// Guarantees:
/// - **Atomic**: a reader sees a switch's old setting or its new one, never a part.
/// - **Durable and audited**: a change is durable, and written to the audit log, before the
///   call returns.
/// - **Fail closed**: a setting that exists but cannot be read counts as on.
public protocol OperatorFlags: Sendable {
    /// The setting in force, if the switch is on.
    func setting(_ flag: OperatorFlag) async -> OperatorSwitch.Setting?
    func turnOn(_ flag: OperatorFlag, by: String, reason: String?, now: Date) async throws
    /// Turns the switch off; false when it was off.
    @discardableResult
    func turnOff(_ flag: OperatorFlag, by: String, reason: String?, now: Date) async throws -> Bool
    /// The breakers' manual resets in force, by playbook id.
    func breakerResets() async -> [String: RemediationBreaker.Reset]
    /// Closes a playbook's breaker by hand: runs that finished before `now` no longer count.
    func resetBreaker(_ playbookID: String, by: String, reason: String?, now: Date) async throws
}

/// An operator's switch.
public enum OperatorFlag: String, Sendable, CaseIterable {
    case killSwitch = "kill_switch"
    case safeMode = "safe_mode"
}

/// The audit log: who did what to the state, when and why (pauses, approvals, breaker resets).
///
/// Guarantees: **append-only** (a record is never changed or removed), **durable** before
/// `record` returns, **whole records** (a reader never sees part of one).
public protocol AuditLog: Sendable {
    func record(_ fields: [String: String]) async throws
}
