import Foundation

#if canImport(Glibc)
import Glibc
#endif

extension RunStore {
    /// Every run, oldest first: by the time of its `run_started`, then by id (runs started in
    /// the same millisecond). A run whose process is gone without an outcome is marked
    /// `interrupted` here (a `run_interrupted` record is appended), so the first Medic that looks
    /// at the state directory after a crash records it; a damaged journal is listed `damaged`
    /// and left as it is. What a run never started leaves (a journal with no record, a
    /// `<run>.creating` file) is removed once no process holds the run's lock. With
    /// `reconcilingIncidents`, a finished run whose incident record is missing from the
    /// knowledge base gets it (`IncidentRecording.reconcile`). Problems found are returned.
    public func list(reconcilingIncidents: Bool = false) -> (runs: [RunSummary], problems: [String]) {
        // Every journal checked against its index entry; only those that changed are read. The
        // runs listed are the index's as verified, but for those whose journal the folder did
        // not have (taken under the same lock: no run another task of this process claims
        // meanwhile is listed before its journal exists).
        let (inspected, folder, notes, runs) = index.withLock {
            let verified = verifyIndex()
            return (verified.inspected, verified.folder, verified.notes, index.summaries(excluding: verified.withoutJournal))
        }
        var problems = notes + removeAbandonedCreations(folder.creating)
        var legacy = 0
        for id in inspected.keys.sorted() {
            let found = inspected[id]!
            if let error = found.error {
                problems.append(error)
                continue
            }
            problems += found.problems
            if found.legacy { legacy += 1 }
            if let damage = found.damage { problems.append("run \(id) is damaged: \(damage)") }
            if found.summary == nil, let removed = removeNeverStarted(id) { problems.append(removed) }
        }
        if legacy > 0 {
            problems.append("\(legacy) journal(s) in \(runsDirectory) were written by an earlier Medic, before journal lines carried "
                + "checksums: they are read and counted without them, and never continued")
        }
        let unmarked = folder.journalsWithoutMark
        if reconcilingIncidents && !unmarked.isEmpty {
            // A run whose mark was among the folder's names is recorded (a mark is never taken
            // back): only the others are looked at, each checked again under its lock.
            var recorded = IncidentRecording.RecordedRuns()
            for run in runs where run.status == .finished && unmarked.contains(run.id) {
                if let note = IncidentRecording.reconcile(run.id, in: self, recorded: &recorded) { problems.append(note) }
            }
        }
        return (runs, problems)
    }

    /// One run as `list()` sees it: its records (a dead run marked `interrupted` first), its
    /// status, and its summary (nil when the journal holds no record at all). A damaged journal
    /// is only read: its status is `damaged`.
    public func inspect(_ id: String) throws -> (summary: RunSummary?, contents: JournalContents, status: RunStatus) {
        var contents = try read(runID: id)
        if let damage = contents.damageSummary {
            return (Self.damagedSummary(id: id, records: contents.records, path: journalPath(id), damage: damage), contents, .damaged)
        }
        guard !contents.records.isEmpty else { return (nil, contents, .running) }
        var status = Self.status(of: contents.records)
        if status == .running && contents.legacy, let lock = try RunLock(path: lockPath(id)) {
            // An earlier Medic's run whose process is gone: interrupted, but never appended to.
            withExtendedLifetime(lock) {}
            status = .interrupted
        } else if status == .running, let lock = try RunLock(path: lockPath(id)) {
            // Nobody holds the lock: the run's process died before it finished.
            contents = try read(runID: id, repair: true)
            if let damage = contents.damageSummary {
                return (Self.damagedSummary(id: id, records: contents.records, path: journalPath(id), damage: damage), contents, .damaged)
            }
            let journal = try appendingJournal(id, after: contents.records)
            let record = JournalRecord.runInterrupted(
                pid: getpid(), message: "the process that ran this run is gone (killed or crashed) and left no outcome; `medic resume \(id)` continues it")
            contents.records.append(try journal.append(record))
            status = .interrupted
            withExtendedLifetime(lock) {}
        }
        return (Self.summary(id: id, records: contents.records, status: status, path: journalPath(id)), contents, status)
    }

    /// A damaged run as `medic runs` lists it: what its `run_started` says when that line is
    /// whole, else `?` and the start time its id tells.
    static func damagedSummary(id: String, records: [JournalRecord], path: String, damage: String) -> RunSummary {
        if var summary = summary(id: id, records: records, status: .damaged, path: path) {
            summary.damage = damage
            return summary
        }
        return RunSummary(id: id, playbookID: "?", playbookVersion: "?", startedAt: startTime(ofID: id) ?? "", updatedAt: "",
                          status: .damaged, outcome: nil, journal: path, damage: damage)
    }

    /// `2026-11-23T10:15:00.000Z` for a run id `20261123-101500-...` (`newRunID`); nil for another id.
    static func startTime(ofID id: String) -> String? {
        let b = Array(id.utf8)
        guard b.count >= 15, b[8] == UInt8(ascii: "-"), b[0..<8].allSatisfy({ (0x30...0x39).contains($0) }),
              b[9..<15].allSatisfy({ (0x30...0x39).contains($0) }) else { return nil }
        let s = String(decoding: b, as: UTF8.self)
        func part(_ from: Int, _ to: Int) -> Substring { s.dropFirst(from).prefix(to - from) }
        let text = "\(part(0, 4))-\(part(4, 6))-\(part(6, 8))T\(part(9, 11)):\(part(11, 13)):\(part(13, 15)).000Z"
        return JournalRecord.date(text) == nil ? nil : text
    }

    /// Removes the journal of a run that never started (no record in it: an older Medic killed
    /// before `run_started`, or a full disk), when no process holds the run's lock; what was
    /// done, or nil.
    func removeNeverStarted(_ id: String) -> String? {
        guard let lock = try? RunLock(path: lockPath(id)), let contents = try? read(runID: id),
              contents.records.isEmpty, contents.damage.isEmpty else { return nil }
        defer { withExtendedLifetime(lock) {} }
        guard unlink(journalPath(id)) == 0 else {
            return "\(journalPath(id)): a journal with no record (a run that never started) could not be removed: \(String(cString: strerror(errno)))"
        }
        return "\(journalPath(id)): removed a journal with no record, left by a run that never started (stopped before run_started)"
    }

    /// Removes the `<run>.creating` files of runs killed while their journal was being created
    /// (whose lock no process holds); problems, if any could not be removed.
    func removeAbandonedCreations(_ ids: [String]) -> [String] {
        var problems: [String] = []
        for id in ids.sorted() {
            guard let lock = try? RunLock(path: lockPath(id)) else { continue }
            if unlink(creationPath(id)) != 0 && errno != ENOENT {
                problems.append("\(creationPath(id)): cannot remove the unfinished journal of a run that never started: \(String(cString: strerror(errno)))")
            }
            withExtendedLifetime(lock) {}
        }
        return problems
    }
}

extension RunStore {
    /// Why a gate that counts runs cannot judge, when a damaged run of `history` may be one it
    /// counts: a run of `playbookID` (any playbook when nil), or one whose `run_started` is
    /// damaged (its playbook is unknown). The gates fail closed: they refuse rather than count
    /// a run whose outcome cannot be trusted, until a person has dealt with it.
    static func damageRefusal(in history: [RunSummary], playbookID: String?, gate: String) -> String? {
        guard let run = history.first(where: { run in
            run.status == .damaged && (playbookID == nil || run.playbookID == playbookID || run.playbookID == "?")
        }) else { return nil }
        return "the journal of run \(run.id) is damaged (\(run.damage ?? run.journal)), so the \(gate) cannot count it: "
            + "read it with `medic show \(run.id)`, then move \(run.journal) out of the state directory"
    }
}
