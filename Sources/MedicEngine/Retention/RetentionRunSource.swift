import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A run as retention sees it: its summary, and whether its incident record is marked written.
public struct RetainedRun: Sendable, Hashable {
    public var summary: RunSummary
    /// `runs/<RUN>.recorded` exists: the knowledge base holds the run's incident record, so the
    /// statistics no longer need its journal.
    public var recorded: Bool

    public init(summary: RunSummary, recorded: Bool) {
        self.summary = summary
        self.recorded = recorded
    }

    public var id: String { summary.id }
    /// When it finished (its last record), for a finished run.
    public var finishedAt: Date? { JournalRecord.date(summary.updatedAt) }
    public var startedAt: Date? { JournalRecord.date(summary.startedAt) }
}

/// The one place retention reads the run store, through its public surface only (`list()`,
/// `journalPath`), so that another store (an index, a database) changes this file alone. The
/// side files of a run are the names beside its journal: `<RUN>.lock`, `.torn`, `.recorded`.
struct RetentionRunSource {
    let store: RunStore

    /// Every run, as `medic runs` lists it (a dead run is marked interrupted first), with the
    /// problems the listing found.
    func runs() -> (runs: [RetainedRun], problems: [String]) {
        let (summaries, problems) = store.list()
        let runs = summaries.map { summary in
            RetainedRun(summary: summary, recorded: FileManager.default.fileExists(atPath: sidePath(summary.id, "recorded")))
        }
        return (runs, problems)
    }

    var runsDirectory: String { (store.journalPath("x") as NSString).deletingLastPathComponent }

    func journalPath(_ id: String) -> String { store.journalPath(id) }

    /// `runs/<RUN>.<suffix>`.
    func sidePath(_ id: String, _ suffix: String) -> String {
        String(store.journalPath(id).dropLast(".jsonl".count)) + "." + suffix
    }

    /// The ids of runs that have a side file (`.lock`, `.torn`, `.recorded`) but no journal:
    /// what a prune killed between moving a journal and its side files left behind.
    func orphanedSideFiles() -> [(id: String, path: String)] {
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: runsDirectory)) ?? []).sorted()
        let present = Set(names)
        var orphans: [(id: String, path: String)] = []
        for name in names {
            for suffix in [".lock", ".torn", ".recorded"] where name.hasSuffix(suffix) {
                let id = String(name.dropLast(suffix.count))
                // Only a run's side files: never the index's (`.index.lock`) or another file of the folder.
                guard RunStore.isValidRunID(id) else { continue }
                if !present.contains(id + ".jsonl") && !present.contains(id + ".creating") {
                    orphans.append((id: id, path: runsDirectory + "/" + name))
                }
            }
        }
        return orphans
    }

    /// Runs `body` holding the run's lock; false (body not run) when another process holds it.
    func withRunLock(_ id: String, _ body: () throws -> Void) throws -> Bool {
        guard let lock = try RunLock(path: sidePath(id, "lock")) else { return false }
        defer { withExtendedLifetime(lock) {} }
        try body()
        return true
    }
}
