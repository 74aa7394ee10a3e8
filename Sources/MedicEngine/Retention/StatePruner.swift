import Foundation
import MedicKnowledge
import MedicModel

#if canImport(Glibc)
import Glibc
#endif

/// One thing `medic prune` does (or, in a dry run, would do), in the order it does them.
public struct PruneAction: Sendable, Hashable, Codable {
    public enum Kind: String, Sendable, Hashable, Codable {
        /// A journal and its side files moved to `archive/runs/` (or removed, `delete_run`).
        case archiveRun = "archive_run"
        case deleteRun = "delete_run"
        /// What a killed prune left: side files of a run whose journal already went.
        case completeRun = "complete_run"
        /// Incident records moved to a segment under `archive/knowledge/` (or removed).
        case archiveIncidents = "archive_incidents"
        case deleteIncidents = "delete_incidents"
        /// What a killed prune left of the knowledge base, finished.
        case completeIncidents = "complete_incidents"
        /// A file of the archive older than `retention.archive.max_age`, removed.
        case removeArchived = "remove_archived"
    }

    public var action: Kind
    /// The run, for run actions.
    public var run: String?
    /// The journal, side file or segment.
    public var path: String
    /// Why, for people.
    public var reason: String
    /// Incident records, for incident actions.
    public var records: Int?

    /// The line `medic prune` prints for it.
    public var line: String {
        switch action {
        case .archiveRun: return "archive run \(run ?? "?") to \(path): \(reason)"
        case .deleteRun: return "delete run \(run ?? "?"): \(reason)"
        case .completeRun: return "complete run \(run ?? "?"): \(reason)"
        case .archiveIncidents: return "archive \(records ?? 0) incident record(s) to \(path): \(reason)"
        case .deleteIncidents: return "delete \(records ?? 0) incident record(s) from \(path): \(reason)"
        case .completeIncidents: return reason
        case .removeArchived: return "remove archived \(path): \(reason)"
        }
    }
}

/// What a prune did: its actions, why the runs it left stay, and what could not be done.
public struct PruneReport: Sendable {
    public var actions: [PruneAction] = []
    /// Runs left, by why they stay.
    public var kept: [RunRetention.KeepReason: Int] = [:]
    public var keptIncidents = 0
    /// Actions that failed, each with its reason: the exit status is 1.
    public var failures: [String] = []
    /// What listing the runs found (a torn line set aside, a damaged journal), for people.
    public var problems: [String] = []
}

/// `medic prune`: applies a `RetentionPolicy` to a state directory. Plans first (the same plan
/// for a dry run and a prune), then carries the plan out an action at a time, each crash-safe:
/// a journal is moved with one `rename` into `archive/runs/` (then its `.torn` and `.recorded`,
/// then its `.lock` is removed), never removed before that; a prune killed part-way is
/// finished by the next one (`complete_*` actions first). Two prunes never run at once
/// (`archive/prune.lock`).
public struct StatePruner: Sendable {
    public let stateDirectory: String
    public let policy: RetentionPolicy
    /// The longest `window` of the catalog's rate limits; nil when none is defined.
    public let rateLimitWindow: Interval?
    public let now: Date

    public init(stateDirectory: String, policy: RetentionPolicy, rateLimitWindow: Interval?, now: Date) {
        self.stateDirectory = stateDirectory
        self.policy = policy
        self.rateLimitWindow = rateLimitWindow
        self.now = now
    }

    var archiveDirectory: String { stateDirectory + "/archive" }
    var archivedRuns: String { archiveDirectory + "/runs" }
    var deleting: Bool { policy.disposal == .delete }
    var incidentArchive: IncidentHistoryArchive {
        IncidentHistoryArchive(knowledgeDirectory: KnowledgeBase.defaultDirectory(inState: stateDirectory),
                               archiveDirectory: archiveDirectory + "/knowledge")
    }

    /// Prunes (or, with `dryRun`, only says what it would prune), telling `progress` each
    /// action as it is done. Nothing is written in a dry run.
    public func prune(dryRun: Bool, progress: (PruneAction) -> Void = { _ in }) -> PruneReport {
        var report = PruneReport()
        var lockFD: Int32 = -1
        if !dryRun {
            do {
                try FileManager.default.createDirectory(atPath: archiveDirectory, withIntermediateDirectories: true)
            } catch {
                report.failures.append("cannot create \(archiveDirectory): \(error.localizedDescription)")
                return report
            }
            lockFD = open(archiveDirectory + "/prune.lock", O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
            guard lockFD >= 0, flock(lockFD, LOCK_EX | LOCK_NB) == 0 else {
                if lockFD >= 0 { close(lockFD) }
                report.failures.append("another medic prune is running on \(stateDirectory) (it holds \(archiveDirectory)/prune.lock)")
                return report
            }
        }
        defer { if lockFD >= 0 { close(lockFD) } }
        guard let store = try? RunStore(directory: stateDirectory) else {
            report.failures.append("cannot open the state directory \(stateDirectory)")
            return report
        }
        let source = RetentionRunSource(store: store)
        func perform(_ action: PruneAction, _ body: () throws -> Void) {
            do {
                if !dryRun { try body() }
                report.actions.append(action)
                progress(action)
            } catch {
                report.failures.append("could not \(action.line): \(error)")
            }
        }

        // 1. What a killed prune left.
        for orphan in source.orphanedSideFiles() {
            let archived = FileManager.default.fileExists(atPath: archivedRuns + "/" + orphan.id + ".jsonl")
            guard archived || deleting else { continue }
            let action = PruneAction(action: .completeRun, run: orphan.id, path: orphan.path,
                                     reason: "\(orphan.path) was left by a prune killed after the run's journal went")
            perform(action) { try completeSideFile(orphan.path, id: orphan.id, source: source) }
        }
        do {
            for sentence in try incidentArchive.recover(dryRun: dryRun) {
                let action = PruneAction(action: .completeIncidents, path: incidentArchive.archiveDirectory, reason: sentence)
                report.actions.append(action)
                progress(action)
            }
        } catch {
            report.failures.append("could not finish what a killed prune left in \(incidentArchive.archiveDirectory): \(error)")
        }

        // 2. Runs.
        let (runs, problems) = source.runs()
        report.problems = problems
        let decision = RunRetention.decide(runs, policy: policy, rateLimitWindow: rateLimitWindow,
                                           breakerResets: RemediationBreaker(stateDirectory: stateDirectory).resets(), now: now)
        for reason in decision.kept.values { report.kept[reason, default: 0] += 1 }
        for run in decision.prune {
            let why = "\(run.summary.playbookID) \(run.summary.outcome?.rawValue ?? "finished") at \(run.summary.updatedAt), "
                + "older than \(policy.runsMaxAge)" + (policy.runsKeepAtMost.map { " or beyond the newest \($0)" } ?? "")
            let action = deleting
                ? PruneAction(action: .deleteRun, run: run.id, path: source.journalPath(run.id), reason: why)
                : PruneAction(action: .archiveRun, run: run.id, path: archivedRuns + "/" + run.id + ".jsonl", reason: why)
            perform(action) { try pruneRun(run.id, source: source) }
        }

        // 3. Incident records.
        if let age = policy.knowledgeMaxAge {
            let cutoff = JournalRecord.timestamp(now.addingTimeInterval(-age.seconds))
            // A run whose record is not marked written may have it written again by `medic runs`
            // when it is missing from the history: its record stays.
            let unmarked = Set(runs.filter { !$0.recorded }.map(\.id))
            do {
                let planned = try incidentArchive.prune(startedBefore: cutoff, keepingRuns: unmarked, delete: deleting, dryRun: true)
                report.keptIncidents = planned.kept
                if planned.pruned > 0 {
                    let outcome = dryRun ? planned
                        : try incidentArchive.prune(startedBefore: cutoff, keepingRuns: unmarked, delete: deleting, dryRun: false)
                    report.keptIncidents = outcome.kept
                    let why = "their runs started more than \(age) ago"
                    let action = deleting
                        ? PruneAction(action: .deleteIncidents, path: incidentArchive.historyPath, reason: why, records: outcome.pruned)
                        : PruneAction(action: .archiveIncidents, path: outcome.segment ?? "?", reason: why, records: outcome.pruned)
                    report.actions.append(action)
                    progress(action)
                }
            } catch {
                report.failures.append("could not prune \(incidentArchive.historyPath): \(error)")
            }
        }

        // 4. The archive itself.
        if let age = policy.archiveMaxAge {
            for action in expiredArchive(olderThan: age) { perform(action) { try removeArchived(action.path) } }
            if !dryRun { [archivedRuns, incidentArchive.archiveDirectory].forEach(IncidentHistoryArchive.syncDirectory) }
        }
        return report
    }

    /// Moves (or removes) one run's journal, then its side files, holding its lock.
    func pruneRun(_ id: String, source: RetentionRunSource) throws {
        let journal = source.journalPath(id)
        let taken = try source.withRunLock(id) {
            if deleting {
                try check(unlink(journal), "cannot remove \(journal)")
                IncidentHistoryArchive.syncDirectory(source.runsDirectory)
            } else {
                try FileManager.default.createDirectory(atPath: archivedRuns, withIntermediateDirectories: true)
                let target = archivedRuns + "/" + id + ".jsonl"
                guard !FileManager.default.fileExists(atPath: target) else {
                    throw JournalError("\(target) exists already; move it away first")
                }
                try check(rename(journal, target), "cannot move \(journal) to \(target)")
                IncidentHistoryArchive.syncDirectory(archivedRuns)
                IncidentHistoryArchive.syncDirectory(source.runsDirectory)
            }
            for suffix in ["torn", "recorded"] {
                try completeSideFile(source.sidePath(id, suffix), id: id, source: source)
            }
            try check(unlink(source.sidePath(id, "lock")), "cannot remove \(source.sidePath(id, "lock"))", missingIsFine: true)
            // Who requested the run over medic serve's API: it only matters while the run can
            // still be approved, and a pruned run is finished.
            let requester = stateDirectory + "/requesters/" + id
            if unlink(requester) == 0 { IncidentHistoryArchive.syncDirectory(stateDirectory + "/requesters") }
        }
        guard taken else { throw JournalError("another process holds the lock of run \(id)") }
    }

    /// Moves a side file of a run whose journal went into `archive/runs/` (removes a `.lock`,
    /// or any side file when deleting). A `.lock` is removed only holding it, and left while
    /// another process holds it.
    func completeSideFile(_ path: String, id: String, source: RetentionRunSource) throws {
        guard FileManager.default.fileExists(atPath: path) else { return }
        if path.hasSuffix(".lock") {
            // Held: a run is being created under that id (its lock comes before its journal); leave it.
            _ = try source.withRunLock(id) {
                try check(unlink(path), "cannot remove \(path)", missingIsFine: true)
            }
        } else if deleting {
            try check(unlink(path), "cannot remove \(path)", missingIsFine: true)
        } else {
            try FileManager.default.createDirectory(atPath: archivedRuns, withIntermediateDirectories: true)
            let target = archivedRuns + "/" + (path as NSString).lastPathComponent
            try check(rename(path, target), "cannot move \(path) to \(target)", missingIsFine: true)
            IncidentHistoryArchive.syncDirectory(archivedRuns)
        }
        IncidentHistoryArchive.syncDirectory(source.runsDirectory)
    }

    private func check(_ result: Int32, _ what: String, missingIsFine: Bool = false) throws {
        guard result != 0 else { return }
        if missingIsFine && errno == ENOENT { return }
        throw JournalError("\(what): \(String(cString: strerror(errno)))")
    }
}
