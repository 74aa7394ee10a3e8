import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A journal file made ahead of the run that will use it (`runs/.spare-<random>`), for a store
/// that starts many runs (`medic watch`): creating a file and making its name durable (a
/// directory `fsync`) are done before the run exists, off the path from an incident to its
/// first step. A new run's first records are then written into the spare and made durable
/// with one `fdatasync` (the file and its name already are), and the spare is renamed to the
/// run's journal. The rename is not made durable on the path (a later directory `fsync` may
/// or may not cover it): a power cut that loses it leaves the records in the spare, under a
/// durable name, where the next look at the store finds them (below).
///
/// What stays true (docs/running.md, "Crash safety"): a journal never exists without its
/// first record (a spare is renamed only once that record is durable); a record announcing a
/// step is durable before the step, in a file whose name is durable. A process killed before
/// the rename, or a power cut that loses the rename, leaves the run's records in the spare:
/// the next Medic that lists the runs, or looks for a run's journal and finds none, or creates a
/// run, puts them back under the run's name (`adoptSpares`; `adoptLeftSparesOnce`), as it marks
/// any run whose process is gone. A spare holds an exclusive `flock` from before it
/// has a name (it is made nameless, `O_TMPFILE`, then linked) until its process ends, so no
/// other Medic takes a spare in use for one left behind.
final class SpareJournals: @unchecked Sendable {
    struct Spare {
        let fd: Int32
        let path: String
    }

    let runsDirectory: String
    private let lock = NSLock()
    private var enabled = false
    private var ready: Spare?
    private var preparing = false
    private static let queue = DispatchQueue(label: "medic.journal.spare", qos: .utility)

    init(runsDirectory: String) { self.runsDirectory = runsDirectory }

    deinit { if let ready { Self.discard(ready) } }

    /// From now on a spare is kept ready; the first is made now (the watch's first incident
    /// finds it), the next ones in the background as each is taken.
    func keep() {
        let first: Bool = lock.withLock {
            defer { enabled = true }
            return !enabled
        }
        guard first, let made = Self.make(in: runsDirectory) else { return }
        lock.withLock {
            if ready == nil { ready = made } else { Self.discard(made) }
        }
    }

    /// Whether a spare is ready now.
    var isReady: Bool { lock.withLock { ready != nil } }

    private var lookedForLeft = false
    /// True the first time only: whether spares left by processes gone are to be looked for now.
    func firstLookForLeft() -> Bool {
        lock.withLock {
            defer { lookedForLeft = true }
            return !lookedForLeft
        }
    }

    /// The spare made ready, if there is one (another is made in the background).
    func take() -> Spare? {
        let spare: Spare? = lock.withLock {
            defer { ready = nil }
            return ready
        }
        // Also when none was ready: one that could not be made (a full disk for a moment) is
        // tried again, or spares would stop for the rest of the process.
        prepareNext()
        return spare
    }

    /// Makes the next spare on a thread of its own, unless one is ready or being made. Its
    /// directory `fsync` also makes the name of the journal last renamed from a spare durable.
    private func prepareNext() {
        let start: Bool = lock.withLock {
            guard enabled, ready == nil, !preparing else { return false }
            preparing = true
            return true
        }
        guard start else { return }
        Self.queue.async { [self] in
            let made = Self.make(in: runsDirectory)
            lock.withLock {
                preparing = false
                if ready == nil { ready = made } else if let made { Self.discard(made) }
            }
        }
    }

    /// `O_TMPFILE`: a file with no name in the directory (`__O_TMPFILE | O_DIRECTORY`).
    private static let temporaryFile: Int32 = 0o20000000 | O_DIRECTORY

    /// A new spare: a nameless file, locked, linked as `.spare-<random>`, and made durable with
    /// its name; nil when any of it fails (the runs are then created as without a spare).
    static func make(in runsDirectory: String) -> Spare? {
        let fd = open(runsDirectory, temporaryFile | O_RDWR | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return nil }
        let path = runsDirectory + "/.spare-" + String(UInt64.random(in: 0...UInt64.max), radix: 16)
        // Appends go to the end whatever was cut (`ftruncate` after a failed write).
        guard flock(fd, LOCK_EX | LOCK_NB) == 0, fcntl(fd, F_SETFL, O_APPEND) == 0,
              linkat(AT_FDCWD, "/proc/self/fd/\(fd)", AT_FDCWD, path, AT_SYMLINK_FOLLOW) == 0 else {
            close(fd)
            return nil
        }
        let folder = open(runsDirectory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        defer { if folder >= 0 { close(folder) } }
        guard fsync(fd) == 0, folder >= 0, fsync(folder) == 0 else {
            unlink(path)
            close(fd)
            return nil
        }
        return Spare(fd: fd, path: path)
    }

    /// Removes a spare not used.
    static func discard(_ spare: Spare) {
        unlink(spare.path)
        close(spare.fd)
    }

    /// Whether a name in `runs/` is a spare's.
    static func isSpare<C: Collection>(_ name: C) -> Bool where C.Element == UInt8 {
        name.starts(with: prefix)
    }

    private static let prefix: [UInt8] = Array(".spare-".utf8)
}

extension RunStore {
    /// Keeps a spare journal file ready for the next run (`SpareJournals`): for a store that
    /// starts runs as incidents come (`medic watch`), so that a run's start creates no file and
    /// waits for one `fdatasync` of its first records instead of the file's and the directory's `fsync`.
    public func keepSpareJournal() { spares.keep() }

    /// Once per store: puts back the journals of spares left by processes gone (a run looked
    /// for, or about to be created, may be theirs: a server restarted after a crash must find
    /// its run's journal, not start the run again).
    func adoptLeftSparesOnce() {
        guard spares.firstLookForLeft() else { return }
        let folder = RunsFolder(reading: runsDirectory)
        if !folder.spares.isEmpty { _ = adoptSpares(folder.spares) }
    }

    /// Spares in `runs/` that no living process holds (`names`, as `RunsFolder` read them):
    /// one with a run's records is put back under the run's name (its process stopped between
    /// writing them and the rename, or a power cut lost the rename), its name made durable; an
    /// empty one, or one whose first record never became whole (the run's first append never
    /// returned: nothing of the run happened), is removed. Returns what was done, for people,
    /// and whether a journal was put back.
    func adoptSpares(_ names: [String]) -> (notes: [String], adopted: Bool) {
        var notes: [String] = []
        var adopted = false
        for name in names.sorted() {
            let path = runsDirectory + "/" + name
            let fd = open(path, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { continue }
            defer { close(fd) }
            // Held: its process keeps it ready, or is writing a run's first records into it.
            guard flock(fd, LOCK_EX | LOCK_NB) == 0 else { continue }
            var info = stat()
            guard fstat(fd, &info) == 0, let data = FileManager.default.contents(atPath: path) else { continue }
            let scan = JournalScan(Array(data), path: path)
            guard let first = scan.records.first, first.event == .runStarted, let id = first.run, Self.isValidRunID(id) else {
                if scan.damage.isEmpty {
                    unlink(path)
                } else {
                    notes.append("\(path): a spare journal file whose first record is damaged was left as it is: "
                        + (JournalContents(records: scan.records, problems: [], damage: scan.damage).damageSummary ?? ""))
                }
                continue
            }
            guard let lock = try? RunLock(path: lockPath(id)) else { continue }
            defer { withExtendedLifetime(lock) {} }
            var existing = stat()
            if stat(journalPath(id), &existing) == 0 {
                // The rename and the old name both survived a crash: one file, two names.
                if existing.st_dev == info.st_dev && existing.st_ino == info.st_ino {
                    unlink(path)
                } else {
                    notes.append("\(path) holds records of run \(id), which has a journal already: left as it is")
                }
                continue
            }
            let folder = open(runsDirectory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
            defer { if folder >= 0 { close(folder) } }
            // Its records made durable before its name (its writer may have died before its
            // own `fdatasync`): a journal never exists without its first record.
            guard fsync(fd) == 0, rename(path, journalPath(id)) == 0, folder >= 0, fsync(folder) == 0 else {
                notes.append("\(path) holds records of run \(id) but could not be renamed to \(journalPath(id)) (durably): "
                    + String(cString: strerror(errno)))
                continue
            }
            adopted = true
            notes.append("\(journalPath(id)): the journal of run \(id) was found under \(name) (its process stopped, or the "
                + "machine, before its name was written) and put back")
        }
        return (notes, adopted)
    }
}
