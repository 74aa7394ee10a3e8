import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Where a run stands, read from its journal and its lock.
public enum RunStatus: String, Sendable, Hashable, Codable {
    /// A process holds the run's lock.
    case running
    case finished
    /// The process that ran it is gone and the journal has no outcome (`medic resume` continues it).
    case interrupted
    /// A gate asked for approval: `medic approve` or `medic deny` decides.
    case pendingApproval = "pending_approval"
    /// Its journal is damaged (`JournalDamage`): what it says cannot be trusted, so it is not
    /// resumed, approved or denied, and the gates that count runs refuse rather than guess.
    case damaged
}

/// One line of `medic runs`.
public struct RunSummary: Sendable, Hashable, Codable {
    public var id: String
    public var playbookID: String
    public var playbookVersion: String
    public var startedAt: String
    public var updatedAt: String
    public var status: RunStatus
    public var outcome: RunOutcome?
    public var journal: String
    /// What the run reaches: its target lock names and its steps' actions (for rate limits).
    public var targets: [String] = []
    public var actions: [String] = []
    /// A damaged journal (status `damaged`): its first damaged line, `path:line: reason`.
    public var damage: String?

    public init(id: String, playbookID: String, playbookVersion: String, startedAt: String, updatedAt: String, status: RunStatus,
                outcome: RunOutcome?, journal: String, targets: [String] = [], actions: [String] = [], damage: String? = nil) {
        (self.id, self.playbookID, self.playbookVersion, self.startedAt, self.updatedAt) = (id, playbookID, playbookVersion, startedAt, updatedAt)
        (self.status, self.outcome, self.journal, self.targets, self.actions, self.damage) = (status, outcome, journal, targets, actions, damage)
    }
}

extension JournalContents {
    /// Records read from a store that keeps them whole (a database): no damage, not legacy.
    public init(records: [JournalRecord], problems: [String] = []) {
        self.init(records: records, problems: problems, damage: [], legacy: false)
    }
}

/// A run's records as read from disk, with what could not be read.
public struct JournalContents: Sendable {
    public var records: [JournalRecord]
    /// Problems found and dealt with (a torn last line moved aside), for people.
    public var problems: [String]
    /// Lines that cannot be trusted; `records` holds only the lines that can.
    public var damage: [JournalDamage] = []
    /// Written before journal lines carried checksums (`JournalScan.legacy`): read, counted and
    /// shown, never continued or appended to.
    public var legacy = false

    /// The damage in one sentence: the first damaged line, and how many more there are.
    public var damageSummary: String? {
        guard let first = damage.first else { return nil }
        return first.description + (damage.count > 1 ? " (and \(damage.count - 1) more damaged line(s))" : "")
    }
}

/// The state directory (`.medic/` or `$MEDIC_HOME`): one journal per run under `runs/`, and a
/// lock file per run that its process holds while it runs (`flock`, released by the kernel when
/// the process dies, so a SIGKILLed run is recognised by the next Medic that looks), and the
/// index of the runs (`runs/.index`, `RunIndex`), which the questions about many runs read.
public final class RunStore: Sendable {
    public let directory: String
    public var runsDirectory: String { directory + "/runs" }
    /// The time of records appended without one, and of new run ids.
    public let clock: any EngineClock
    let index: RunIndex
    /// A journal file kept ready for the next run, when asked for (`keepSpareJournal`).
    let spares: SpareJournals
    private let stopping = StopFlag()

    /// `$MEDIC_HOME` when set and not empty, else `.medic` in the working directory.
    public static func defaultDirectory(environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        if let home = environment["MEDIC_HOME"], !home.isEmpty { return home }
        return ".medic"
    }

    /// Opens the state directory, creating it when missing.
    public init(directory: String, clock: any EngineClock = SystemClock()) throws {
        self.directory = directory
        self.clock = clock
        index = RunIndex(runsDirectory: directory + "/runs")
        spares = SpareJournals(runsDirectory: directory + "/runs")
        do {
            try FileManager.default.createDirectory(atPath: directory + "/runs", withIntermediateDirectories: true)
        } catch {
            throw JournalError("cannot create the state directory \(directory)/runs: \(error.localizedDescription)")
        }
    }

    /// From now on no journal of this store takes a record: Medic is stopping (a signal), and
    /// the steps it ends must stay "in flight" for `medic resume` to decide about. Another store
    /// (another state directory) in the same process is not affected.
    public func stopAppending() { stopping.set() }

    /// Whether `stopAppending` was called.
    public var isStopping: Bool { stopping.isSet }

    /// A new run id: sortable by start time, unique on this host.
    public static func newRunID(at date: Date) -> String {
        let stamp = date.formatted(Date.VerbatimFormatStyle(
            format: "\(year: .defaultDigits)\(month: .twoDigits)\(day: .twoDigits)-\(hour: .twoDigits(clock: .twentyFourHour, hourCycle: .zeroBased))\(minute: .twoDigits)\(second: .twoDigits)",
            timeZone: TimeZone(identifier: "UTC")!, calendar: Calendar(identifier: .gregorian)))
        return stamp + "-" + String(UInt32.random(in: 0...UInt32.max), radix: 16).leftPadded(to: 8)
    }

    public func journalPath(_ runID: String) -> String { runsDirectory + "/" + runID + ".jsonl" }
    func lockPath(_ runID: String) -> String { runsDirectory + "/" + runID + ".lock" }

    /// Takes a new run's lock and gives its journal, created with its first record (the caller
    /// appends `run_started` first): until then there is no file, and a run killed before has
    /// left none behind (see `RunJournal.creation`).
    public func create(runID: String) throws -> (RunJournal, RunLock) {
        // A spare left by a process gone may hold this run's records: put back first (before
        // this run's lock is taken here, as putting it back takes it too).
        adoptLeftSparesOnce()
        guard Self.isValidRunID(runID), let lock = try RunLock(path: lockPath(runID)) else {
            throw JournalError("cannot create run '\(runID)': the id is taken or not a valid name")
        }
        guard !FileManager.default.fileExists(atPath: journalPath(runID)) else {
            throw JournalError("cannot create run '\(runID)': the id is taken or not a valid name")
        }
        unlink(creationPath(runID))
        let journal = RunJournal(creating: journalPath(runID), runID: runID, temporary: creationPath(runID), directory: runsDirectory,
                                 stopping: stopping, clock: clock, index: index.file, spare: spares.take())
        return (journal, lock)
    }

    /// Where a new run's first records are written before the file is renamed to its journal.
    func creationPath(_ runID: String) -> String { runsDirectory + "/" + runID + ".creating" }

    /// Takes the lock of an existing run to continue it; nil when another process holds it.
    public func reopen(runID: String) throws -> (RunJournal, RunLock, JournalContents)? {
        let runID = try resolve(runID)
        guard let lock = try RunLock(path: lockPath(runID)) else { return nil }
        let contents = try read(runID: runID, repair: true)
        if let damage = contents.damageSummary {
            throw JournalError("the journal of run \(runID) is damaged: \(damage). Medic does not continue a run whose journal "
                + "it cannot trust; nothing was written. `medic show \(runID)` shows what can be read")
        }
        if contents.legacy && Self.status(of: contents.records) != .finished {
            throw JournalError("the journal of run \(runID) was written by an earlier Medic, before journal lines carried checksums; "
                + "this Medic does not continue it: finish it with the Medic that started it, or move \(journalPath(runID)) out of the state directory")
        }
        let journal = try appendingJournal(runID, after: contents.records)
        return (journal, lock, contents)
    }

    /// The journal of an existing run, to append to after `records` (hold the run's lock).
    func appendingJournal(_ runID: String, after records: [JournalRecord]) throws -> RunJournal {
        try RunJournal(runID: runID, path: journalPath(runID), lastSeq: records.last?.seq ?? 0, stopping: stopping, clock: clock,
                       index: index.file, summary: Self.summary(id: runID, records: records, status: Self.status(of: records), path: ""))
    }

    /// The full id of a run named by its id or an unambiguous prefix of it.
    public func resolve(_ idOrPrefix: String) throws -> String {
        let ids = runIDs()
        if ids.contains(idOrPrefix) { return idOrPrefix }
        let matches = idOrPrefix.isEmpty ? [] : ids.filter { $0.hasPrefix(idOrPrefix) }
        if matches.count == 1 { return matches[0] }
        if matches.isEmpty {
            throw JournalError("no run '\(idOrPrefix)' in \(runsDirectory)" + (ids.isEmpty ? " (there are no runs yet)" : "; `medic runs` lists them"))
        }
        throw JournalError("'\(idOrPrefix)' names \(matches.count) runs (\(matches.prefix(3).joined(separator: ", ")) ...); give more of the id")
    }

    public func runIDs() -> [String] {
        journalIDs()
    }

    /// The records of a run, with its damaged lines (`JournalScan`). With `repair` (call it only
    /// while holding the run's lock) and no damage, a torn last line (a crash during a write) is
    /// moved to `<run>.torn` and cut from the journal, and a last record missing only its newline
    /// gets it; without `repair` they are only reported. Damage is never repaired.
    /// The run's records as they are, repairing nothing (at once: the files answer from the kernel).
    public func read(runID: String) throws -> JournalContents { try read(runID: runID, repair: false) }

    public func read(runID: String, repair: Bool = false) throws -> JournalContents {
        let path = journalPath(runID)
        if !FileManager.default.fileExists(atPath: path) { adoptLeftSparesOnce() }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw JournalError("cannot read the run journal \(path)")
        }
        let scan = JournalScan(Array(data), path: path)
        var problems: [String] = []
        switch scan.tail {
        case .none: break
        case .unterminatedRecord:
            if repair && scan.damage.isEmpty {
                let fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC)
                let done = fd >= 0 && write(fd, "\n", 1) == 1 && fsync(fd) == 0
                if fd >= 0 { close(fd) }
                guard done else { throw JournalError("cannot end the last record of \(path) with its newline: \(String(cString: strerror(errno)))") }
            }
        case .torn(let cut):
            let torn = data[cut...]
            if repair && scan.damage.isEmpty {
                let aside = runsDirectory + "/" + runID + ".torn"
                let existing = FileManager.default.contents(atPath: aside) ?? Data()
                guard FileManager.default.createFile(atPath: aside, contents: existing + torn + Data("\n".utf8)),
                      truncate(path, off_t(cut)) == 0 else {
                    throw JournalError("cannot set aside the torn last line of \(path)")
                }
                problems.append("\(path): a torn last line (\(torn.count) bytes, a write cut short by a crash) was moved to \(aside)")
            } else {
                problems.append("\(path): the last line is torn (\(torn.count) bytes)"
                    + (scan.damage.isEmpty ? "; it is set aside when the run is resumed" : ""))
            }
        }
        return JournalContents(records: scan.records, problems: problems, damage: scan.damage, legacy: scan.legacy)
    }

    /// Every run of the state directory at `directory` (`list()`), or none, creating nothing,
    /// when it has no `runs/` folder.
    public static func history(in directory: String) -> [RunSummary] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory + "/runs", isDirectory: &isDirectory), isDirectory.boolValue,
              let store = try? RunStore(directory: directory) else { return [] }
        return store.list().runs
    }

    /// The index of the runs of the state directory at `directory`, refreshed; an empty history,
    /// creating nothing, when it has no `runs/` folder.
    public static func runHistory(in directory: String) -> any RunHistory {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory + "/runs", isDirectory: &isDirectory), isDirectory.boolValue,
              let store = try? RunStore(directory: directory) else { return ListedRuns([]) }
        store.refresh()
        return store
    }

    /// What the records say, before looking at the lock: `running` means "no outcome yet".
    public static func status(of records: [JournalRecord]) -> RunStatus {
        for record in records.reversed() {
            switch record.event {
            case .runFinished: return .finished
            case .runInterrupted: return .interrupted
            // Gates evaluated after an approval: the run was admitted and went on.
            case .runResumed, .gatesEvaluated: return .running
            case .approvalRequested, .approvalGiven: return .pendingApproval
            default: continue
            }
        }
        return .running
    }

    public static func summary(id: String, records: [JournalRecord], status: RunStatus, path: String) -> RunSummary? {
        guard let start = records.first(where: { $0.event == .runStarted }), let plan = start.plan else { return nil }
        let outcome = records.last(where: { $0.event == .runFinished })?.outcome
        return RunSummary(id: id, playbookID: plan.playbookID, playbookVersion: plan.playbookVersion, startedAt: start.at,
                          updatedAt: records.last?.at ?? start.at, status: status, outcome: status == .finished ? outcome : nil,
                          journal: path, targets: TargetLocks.names(for: plan), actions: Array(Set(plan.steps.map(\.action))).sorted())
    }

    public static func isValidRunID(_ id: String) -> Bool {
        !id.isEmpty && id.count <= 100 && id.unicodeScalars.allSatisfy {
            ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0) || $0 == "-" || $0 == "_" || $0 == "."
        } && !id.hasPrefix(".")
    }
}

/// An exclusive `flock` on a run's lock file, held by the process running the run.
public final class RunLock: Sendable {
    private let fd: Int32

    /// nil when another process (or another open of the file) holds the lock.
    init?(path: String) throws {
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw JournalError("cannot open the lock file \(path): \(String(cString: strerror(errno)))") }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            close(fd)
            return nil
        }
        self.fd = fd
    }

    deinit { close(fd) }
}

extension String {
    func leftPadded(to width: Int, with pad: Character = "0") -> String {
        count >= width ? self : String(repeating: pad, count: width - count) + self
    }
}
