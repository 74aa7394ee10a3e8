import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// The names of a `runs/` folder that a listing needs, read in one pass of `readdir`: which runs
/// have a journal (`<id>.jsonl`), a mark that their incident record is written
/// (`<id>.recorded`), or a journal being created (`<id>.creating`). A folder of 10,000 runs holds
/// some 30,000 names and every `medic runs` reads them all, so each name is sorted out from its
/// bytes; a lock file (`<id>.lock`) or any other name makes no string. With `stamping`, each
/// journal's stamp (`JournalStamp`) is taken as its name is read (an `fstatat` in the open
/// folder), so a listing compares it with the index without looking the name up again.
struct RunsFolder: Sendable {
    struct Kinds: OptionSet {
        let rawValue: UInt8
        static let journal = Kinds(rawValue: 1)
        static let recorded = Kinds(rawValue: 2)
        static let creating = Kinds(rawValue: 4)
    }

    /// What a valid run id has among those three names, and its journal's stamp when taken.
    struct Names {
        var kinds: Kinds
        /// Taken as the journal's name was read (`stamping`); nil for a journal gone meanwhile.
        var stamp: JournalStamp?
    }

    /// What each valid run id has among those three names.
    private(set) var runs: [String: Names] = [:]
    /// Whether the journals' stamps were taken.
    let stamped: Bool
    /// The names of spare journal files (`SpareJournals`): in use, ready, or left behind.
    private(set) var spares: [String] = []

    /// The folder's names as read now (none when it cannot be read).
    init(reading directory: String, stamping: Bool = false) {
        stamped = stamping
        guard let folder = opendir(directory) else { return }
        defer { closedir(folder) }
        runs.reserveCapacity(1024)
        let descriptor = dirfd(folder)
        while let entry = readdir(folder) {
            withUnsafeBytes(of: entry.pointee.d_name) { raw in
                let name = UnsafeRawBufferPointer(rebasing: raw[..<(raw.firstIndex(of: 0) ?? raw.count)])
                guard let journal = note(name), stamping else { return }
                var info = stat()
                // The name is NUL-terminated in `d_name`.
                if fstatat(descriptor, raw.baseAddress!.assumingMemoryBound(to: CChar.self), &info, 0) == 0 {
                    runs[journal]?.stamp = JournalStamp(info)
                }
            }
        }
    }

    /// The folder read on a thread of its own, stamping, while the caller does something else
    /// (reads the index): `wait` gives it. The thread is Medic's own, not one of the few that
    /// run every task.
    final class Reading: @unchecked Sendable {
        private let done = DispatchSemaphore(value: 0)
        private var folder: RunsFolder?

        init(_ directory: String) {
            let thread = Thread { [self] in
                folder = RunsFolder(reading: directory, stamping: true)
                done.signal()
            }
            thread.start()
        }

        func wait() -> RunsFolder {
            done.wait()
            done.signal()
            return folder!
        }
    }

    /// Names given (tests, and callers that listed the folder themselves).
    init(names: [String]) {
        stamped = false
        for name in names {
            var name = name
            name.withUTF8 { _ = note(UnsafeRawBufferPointer($0)) }
        }
    }

    private static let suffixes: [(bytes: [UInt8], kind: Kinds)] = [
        (Array(".jsonl".utf8), .journal), (Array(".recorded".utf8), .recorded), (Array(".creating".utf8), .creating),
    ]

    /// Notes one name; the run id when it is a journal's.
    @discardableResult
    private mutating func note(_ name: UnsafeRawBufferPointer) -> String? {
        if name.first == UInt8(ascii: "."), SpareJournals.isSpare(name) {
            spares.append(String(decoding: name, as: UTF8.self))
            return nil
        }
        for (suffix, kind) in Self.suffixes where name.count > suffix.count && name.suffix(suffix.count).elementsEqual(suffix) {
            let id = UnsafeRawBufferPointer(rebasing: name[..<(name.count - suffix.count)])
            guard RunIndexFormat.isValidRunID(id) else { return nil }
            let text = String(decoding: id, as: UTF8.self)
            runs[text, default: Names(kinds: [])].kinds.insert(kind)
            return kind == .journal ? text : nil
        }
        return nil
    }

    /// The run ids with a journal, in no particular order.
    var journals: [String] { runs.compactMap { $0.value.kinds.contains(.journal) ? $0.key : nil } }

    /// The run ids with a journal and the journal's stamp as read (nil when not `stamped`, or
    /// gone meanwhile), in no particular order.
    var stampedJournals: [(id: String, stamp: JournalStamp?)] {
        runs.compactMap { $0.value.kinds.contains(.journal) ? ($0.key, $0.value.stamp) : nil }
    }

    /// The run ids whose journal is being created.
    var creating: [String] { runs.compactMap { $0.value.kinds.contains(.creating) ? $0.key : nil } }

    func has(_ kind: Kinds, _ id: String) -> Bool { runs[id]?.kinds.contains(kind) ?? false }
}
