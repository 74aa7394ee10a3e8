import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The names of a `runs/` folder that a listing needs, read in one pass of `readdir`: which runs
/// have a journal (`<id>.jsonl`), a mark that their incident record is written
/// (`<id>.recorded`), or a journal being created (`<id>.creating`). A folder of 10,000 runs holds
/// some 30,000 names and every `medic runs` reads them all, so each name is sorted out from its
/// bytes; a lock file (`<id>.lock`) or any other name makes no string. With `stamping`, each
/// journal's stamp (`JournalStamp`) is taken once the names are read (an `fstatat` in the open
/// folder), so a listing compares it with the index without looking the name up again.
struct RunsFolder: Sendable {
    struct Kinds: OptionSet {
        let rawValue: UInt8
        static let journal = Kinds(rawValue: 1)
        static let recorded = Kinds(rawValue: 2)
        static let creating = Kinds(rawValue: 4)
    }

    /// What each valid run id has among those three names.
    private(set) var runs: [String: Kinds] = [:]
    /// The run ids with a journal, in the order their names were read.
    private(set) var journals: [String] = []
    /// Whether the journals' stamps were taken.
    private(set) var stamped = false
    /// With `stamped`, each journal's stamp, in `journals`' order: nil for a journal gone
    /// before it was taken. Empty otherwise.
    private(set) var stamps: [JournalStamp?] = []
    /// The names of spare journal files (`SpareJournals`): in use, ready, or left behind.
    private(set) var spares: [String] = []

    /// The folder's names as read now (none when it cannot be read), each journal stamped after
    /// with `stamping`.
    init(reading directory: String, stamping: Bool = false) {
        guard let folder = opendir(directory) else {
            self.init()
            stamped = stamping
            return
        }
        defer { closedir(folder) }
        self.init(names: folder)
        guard stamping else { return }
        let stamps = Stamps(journals, folder: dirfd(folder))
        stamps.take()
        adopt(stamps)
    }

    /// The stamps of `journals`, each taken once, by as many threads as call `take` (each takes
    /// the next few not yet taken), in the folder open as `folder`.
    final class Stamps: @unchecked Sendable {
        private let journals: [String]
        private let folder: Int32
        private let taken: UnsafeMutableBufferPointer<JournalStamp?>
        private let next = Atomic<Int>(0)
        /// Journals a thread claims at a time: few enough that two threads end together.
        private static let share = 64

        init(_ journals: [String], folder: Int32) {
            self.journals = journals
            self.folder = folder
            taken = .allocate(capacity: journals.count)
            taken.initialize(repeating: nil)
        }

        deinit { taken.deallocate() }

        /// Takes stamps until none is left to take. What one thread wrote, another reads only
        /// after waiting for it (`Reading`'s semaphores).
        func take() {
            var name = [CChar](repeating: 0, count: 256)
            let suffix = Array(".jsonl".utf8)
            while true {
                let first = next.wrappingAdd(Self.share, ordering: .relaxed).oldValue
                guard first < journals.count else { return }
                for at in first..<min(first + Self.share, journals.count) {
                    var id = journals[at]
                    let length = id.withUTF8 { bytes -> Int in
                        // A run id's name fits in `d_name` (255 bytes), as it was read from one.
                        guard bytes.count + suffix.count < name.count else { return -1 }
                        name.withUnsafeMutableBytes { out in
                            out.copyMemory(from: UnsafeRawBufferPointer(bytes))
                            suffix.withUnsafeBytes { UnsafeMutableRawBufferPointer(rebasing: out[bytes.count...]).copyMemory(from: $0) }
                        }
                        return bytes.count + suffix.count
                    }
                    guard length > 0 else { continue }
                    name[length] = 0
                    var info = stat()
                    if fstatat(folder, name, &info, 0) == 0 { taken[at] = JournalStamp(info) }
                }
            }
        }

        var all: [JournalStamp?] { Array(taken) }
    }

    private mutating func adopt(_ taken: Stamps) {
        stamps = taken.all
        stamped = true
    }

    /// The folder read on a thread of its own while the caller does something else (reads the
    /// index), then stamped: `wait` gives it, and the caller's thread takes its share of the
    /// stamps meanwhile rather than waiting idle (the `fstatat`s are most of a large folder's
    /// time). The thread is Medic's own, not one of the few that run every task.
    final class Reading: @unchecked Sendable {
        /// Signalled once the names are read (`folder`, `stamps` set).
        private let named = DispatchSemaphore(value: 0)
        /// Signalled once the thread has taken its share of the stamps.
        private let done = DispatchSemaphore(value: 0)
        /// Held by `wait` throughout: a second caller waits for the first and is given the same
        /// folder (the semaphores are each waited for once).
        private let lock = NSLock()
        private var folder = RunsFolder()
        private var stamps: Stamps?
        /// The folder, open (`O_CLOEXEC`, as `opendir` opens it) until the stamps are taken.
        private var open: OpaquePointer?
        private var given: RunsFolder?

        init(_ directory: String) {
            let thread = Thread { [self] in
                if let open = opendir(directory) {
                    self.open = open
                    folder = RunsFolder(names: open)
                    stamps = Stamps(folder.journals, folder: dirfd(open))
                }
                named.signal()
                stamps?.take()
                done.signal()
            }
            thread.start()
        }

        deinit { if let open { closedir(open) } }

        func wait() -> RunsFolder {
            lock.withLock {
                if let given { return given }
                named.wait()
                stamps?.take()
                done.wait()
                var read = folder
                if let stamps { read.adopt(stamps) } else { read.stamped = true }
                if let open { closedir(open) }
                open = nil
                given = read
                return read
            }
        }
    }

    private init() {}

    /// The names of an open folder, not stamped.
    private init(names folder: OpaquePointer) {
        runs.reserveCapacity(1024)
        while let entry = readdir(folder) {
            withUnsafeBytes(of: entry.pointee.d_name) { raw in
                note(UnsafeRawBufferPointer(rebasing: raw[..<(raw.firstIndex(of: 0) ?? raw.count)]))
            }
        }
    }

    /// Names given (tests, and callers that listed the folder themselves).
    init(names: [String]) {
        for name in names {
            var name = name
            name.withUTF8 { note(UnsafeRawBufferPointer($0)) }
        }
    }

    private static let suffixes: [(bytes: [UInt8], kind: Kinds)] = [
        (Array(".jsonl".utf8), .journal), (Array(".recorded".utf8), .recorded), (Array(".creating".utf8), .creating),
    ]

    /// Notes one name.
    private mutating func note(_ name: UnsafeRawBufferPointer) {
        if name.first == UInt8(ascii: "."), SpareJournals.isSpare(name) {
            spares.append(String(decoding: name, as: UTF8.self))
            return
        }
        for (suffix, kind) in Self.suffixes where name.count > suffix.count && name.suffix(suffix.count).elementsEqual(suffix) {
            let id = UnsafeRawBufferPointer(rebasing: name[..<(name.count - suffix.count)])
            guard RunIndexFormat.isValidRunID(id) else { return }
            let text = String(decoding: id, as: UTF8.self)
            // A name `readdir` gives twice (a folder changed while it was read) is one journal.
            if runs[text, default: []].insert(kind).inserted && kind == .journal { journals.append(text) }
            return
        }
    }

    /// The stamp of `journals[index]` as read: nil when not `stamped`, or gone meanwhile.
    func stamp(at index: Int) -> JournalStamp? { stamped ? stamps[index] : nil }

    /// The run ids with a journal and each one's `stamp(at:)`, in the order read.
    var stampedJournals: [(id: String, stamp: JournalStamp?)] { journals.indices.map { (journals[$0], stamp(at: $0)) } }

    /// The run ids with a journal but no mark that their incident record is written: a pass
    /// over the folder's table, no lookup per run (usually none).
    var journalsWithoutMark: Set<String> {
        var out: Set<String> = []
        for (id, kinds) in runs where kinds.contains(.journal) && !kinds.contains(.recorded) { out.insert(id) }
        return out
    }

    /// The run ids whose journal is being created.
    var creating: [String] { runs.compactMap { $0.value.contains(.creating) ? $0.key : nil } }

    func has(_ kind: Kinds, _ id: String) -> Bool { runs[id]?.contains(kind) ?? false }
}
