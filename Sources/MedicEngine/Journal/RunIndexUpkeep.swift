import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Keeping the index true to the journals (see `RunIndex` for the rules).
extension RunStore {
    /// What reading one run's journal found, for `list()`.
    struct Inspection {
        var summary: RunSummary?
        var problems: [String] = []
        var legacy = false
        var damage: String?
        var error: String?
    }

    /// The index brought up to date: the first look of this store verifies it against every
    /// journal (`verifyIndex`); a later one reads the lines appended since and checks the runs
    /// without an outcome. A file replaced, shortened or damaged since is verified again.
    func refreshIndex() {
        index.withLock {
            guard index.isVerified, let known = index.readPosition, let now = index.file.identity(), now.sameFile(as: known),
                  now.size >= known.size else {
                verifyIndex()
                return
            }
            if now.size > known.size {
                guard let read = index.file.read(from: known.size), read.identity.sameFile(as: known),
                      let parsed = RunIndexFormat.entries(read.bytes[...]) else {
                    verifyIndex()
                    return
                }
                parsed.entries.forEach(index.apply)
                // A line being written (or torn by a crash) is read again next time; a line
                // appended after a torn one makes the file damaged, and it is rewritten.
                let bytes = read.bytes
                let consumed = parsed.torn ? (bytes.lastIndex(of: UInt8(ascii: "\n")).map { $0 + 1 } ?? 0) : bytes.count
                var position = known
                position.size = known.size + consumed
                index.readPosition = position
            }
            settleIndex()
        }
    }

    /// Checks each run without an outcome: a `running` one whose lock is free (its process is
    /// gone, or finished without its last index line), or any other whose journal changed, is
    /// read again from its journal.
    private func settleIndex() {
        var changed: [RunIndexEntry] = []
        for id in index.unsettledIDs {
            guard let entry = index.entry(id) else { continue }
            if entry.summary.status == .running || entry.stamp == nil {
                guard let probe = try? RunLock(path: lockPath(id)) else { continue }  // held: its process keeps the entry
                withExtendedLifetime(probe) {}
            } else if JournalStamp.of(journalPath(id)) == entry.stamp {
                continue
            }
            if let fresh = reindex(id, known: entry).entry {
                index.apply(fresh)
                changed.append(fresh)
            }
        }
        index.file.append(changed)
    }

    /// The run's entry read again from its journal (`inspect`: a dead run is marked interrupted),
    /// with what the reading found; `entry` is nil when nothing changed, a `removed` entry when
    /// the run has no journal (or one that never started) and its lock is free.
    func reindex(_ id: String, known: RunIndexEntry?) -> (entry: RunIndexEntry?, inspection: Inspection) {
        let path = journalPath(id)
        func removed() -> RunIndexEntry? {
            guard var gone = known, !gone.removed else { return nil }
            gone.removed = true
            return gone
        }
        guard FileManager.default.fileExists(atPath: path) else {
            if let known, RunIndex.isClaim(known), (try? RunLock(path: lockPath(id))) == nil { return (nil, Inspection()) }
            return (removed(), Inspection())
        }
        do {
            let (summary, contents, _) = try inspect(id)
            let inspection = Inspection(summary: summary, problems: contents.problems, legacy: contents.legacy,
                                        damage: contents.damageSummary, error: nil)
            guard var summary else { return (removed(), inspection) }
            summary.journal = ""
            let stamp = JournalStamp.of(path)
            let entry = RunIndexEntry(summary: summary, stamp: stamp, clean: contents.problems.isEmpty && !contents.legacy
                                      && contents.damage.isEmpty, racy: stamp?.isRecent ?? true)
            return (entry == known ? nil : entry, inspection)
        } catch {
            return (removed(), Inspection(error: "\(id): \(error)"))
        }
    }

    /// Verifies the index against the journals of the `runs/` folder (read, stamping, on a
    /// thread of its own while the index is read and parsed here; `reading` when the caller
    /// started it), rewriting the index when it is missing, damaged, torn or mostly old lines.
    /// Returns what was found in each journal read again, the folder as read, and the runs the
    /// index keeps whose journal was not among the folder's names (a claim whose journal is
    /// being written, or a journal written after the folder was read). Call holding
    /// `index.withLock`.
    @discardableResult
    func verifyIndex(reading given: RunsFolder.Reading? = nil)
        -> (inspected: [String: Inspection], folder: RunsFolder, notes: [String], withoutJournal: Set<String>) {
        let reading = given ?? RunsFolder.Reading(runsDirectory)
        var read = index.file.read()
        var parsed = read.flatMap { RunIndexFormat.latestEntries($0.bytes[...]) }
        if read != nil, parsed?.torn != false {
            // Perhaps a line being written: look again holding the write lock.
            index.file.locked {
                read = index.file.read()
                parsed = read.flatMap { RunIndexFormat.latestEntries($0.bytes[...]) }
            }
        }
        var rewrite = read == nil || parsed == nil || parsed?.torn == true
        index.replaceAll(with: parsed?.entries ?? [])
        if let read, !rewrite { index.readPosition = read.identity }

        var folder = reading.wait()
        // Spares left by processes gone, with runs' records: their journals put back first.
        let spares: (notes: [String], adopted: Bool) = folder.spares.isEmpty ? ([], false) : adoptSpares(folder.spares)
        if spares.adopted { folder = RunsFolder(reading: runsDirectory, stamping: true) }
        var results: [String: Inspection] = [:]
        var changed: [RunIndexEntry] = []
        let readEntries = index.liveCount
        var journalsWithEntries = 0
        for (at, id) in folder.journals.enumerated() {
            let stamp = folder.stamp(at: at)
            // As read from the file (`replaceAll` keeps no `removed` entry); changed below only
            // for the run being looked at.
            if let standing = index.standing(id) {
                journalsWithEntries += 1
                if standing.heldByItsProcess {
                    // Held: its process keeps the entry; read again only what it wrote since
                    // (`medic runs` shows its latest record's time).
                    if (try? RunLock(path: lockPath(id))) == nil, stamp == standing.stamp { continue }
                } else if standing.settled, stamp == standing.stamp {
                    continue
                }
            }
            let (fresh, inspection) = reindex(id, known: index.entry(id))
            results[id] = inspection
            if let fresh {
                index.apply(fresh)
                changed.append(fresh)
            }
        }
        // Entries without a journal: none when every entry read had its journal in the folder.
        let orphans = journalsWithEntries == readEntries ? [] : index.entries(where: { !folder.has(.journal, $0) })
        var withoutJournal: Set<String> = []
        for entry in orphans {
            let id = entry.summary.id
            if RunIndex.isClaim(entry), (try? RunLock(path: lockPath(id))) == nil {  // its journal is being written
                withoutJournal.insert(id)
                continue
            }
            // Its journal came after the folder was read (a run begun and ended meanwhile, or put
            // back from a spare by another process): not gone; the next look reads it.
            if access(journalPath(id), F_OK) == 0 {
                withoutJournal.insert(id)
                continue
            }
            var gone = entry
            gone.removed = true
            index.apply(gone)
            changed.append(gone)
        }
        let live = index.liveCount
        // Each run leaves some three lines (claim, start, end), and every `medic runs` checks
        // them all: rewritten at twice its live entries, the index stays under 2 lines a run.
        if !rewrite && (parsed?.lines ?? 0) > 2 * max(live, 64) { rewrite = true }
        // Whether lines other processes wrote were taken in after the folder was read: runs
        // whose journal it may not have had.
        var appliedTheirs = false
        if rewrite {
            index.file.locked {
                // Lines appended meanwhile (runs changing status) are newer than what was read.
                if let again = index.file.read() {
                    if let before = read?.identity, again.identity.sameFile(as: before), !(parsed == nil),
                       let tail = RunIndexFormat.entries(again.bytes[min(before.size, again.bytes.count)...]) {
                        tail.entries.forEach(index.apply)
                        appliedTheirs = !tail.entries.isEmpty
                    } else if !again.identity.sameFile(as: read?.identity ?? again.identity) || read == nil,
                              let theirs = RunIndexFormat.entries(again.bytes[...]), !theirs.torn {
                        theirs.entries.forEach(index.apply)
                        changed.forEach(index.apply)
                        appliedTheirs = true
                    }
                }
                index.readPosition = index.file.rewrite(index.orderedEntries()) ? index.file.identity() : nil
            }
        } else {
            index.file.append(changed)
        }
        index.isVerified = true
        if appliedTheirs {
            withoutJournal = Set(index.entries(where: { !folder.has(.journal, $0) }).map(\.summary.id))
        }
        return (results, folder, spares.notes, withoutJournal)
    }

    /// The run ids of the journals in `runs/`, sorted.
    func journalIDs() -> [String] {
        let folder = RunsFolder(reading: runsDirectory)
        guard !folder.spares.isEmpty, adoptSpares(folder.spares).adopted else { return folder.journals.sorted() }
        return RunsFolder(reading: runsDirectory).journals.sorted()
    }
}

extension RunStore {
    /// The entry a journal writes when its run's status changes with `record`, given the entry
    /// before it (nil before `run_started`); nil when the status stays as it was.
    public static func indexedSummary(after record: JournalRecord, from summary: RunSummary?, runID: String) -> RunSummary? {
        let status: RunStatus
        switch record.event {
        case .runStarted:
            return Self.summary(id: runID, records: [record], status: .running, path: "")
        case .runFinished: status = .finished
        case .runInterrupted: status = .interrupted
        case .runResumed, .gatesEvaluated: status = .running
        case .approvalRequested, .approvalGiven: status = .pendingApproval
        default: return nil
        }
        guard var next = summary, next.status != status || status == .finished else { return nil }
        next.status = status
        next.updatedAt = record.at
        next.outcome = status == .finished ? record.outcome : nil
        return next
    }
}
