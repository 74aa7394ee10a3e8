import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// The names of a `runs/` folder that a listing needs, read in one pass of `readdir`: which runs
/// have a journal (`<id>.jsonl`), a mark that their incident record is written
/// (`<id>.recorded`), or a journal being created (`<id>.creating`). A folder of 10,000 runs holds
/// some 30,000 names and every `medic runs` reads them all, so each name is sorted out from its
/// bytes; a lock file (`<id>.lock`) or any other name makes no string.
struct RunsFolder {
    struct Kinds: OptionSet {
        let rawValue: UInt8
        static let journal = Kinds(rawValue: 1)
        static let recorded = Kinds(rawValue: 2)
        static let creating = Kinds(rawValue: 4)
    }

    /// What each valid run id has among those three names.
    private(set) var runs: [String: Kinds] = [:]

    /// The folder's names as read now (none when it cannot be read).
    init(reading directory: String) {
        guard let folder = opendir(directory) else { return }
        defer { closedir(folder) }
        runs.reserveCapacity(1024)
        while let entry = readdir(folder) {
            withUnsafeBytes(of: entry.pointee.d_name) { raw in
                let name = UnsafeRawBufferPointer(rebasing: raw[..<(raw.firstIndex(of: 0) ?? raw.count)])
                note(name)
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

    private mutating func note(_ name: UnsafeRawBufferPointer) {
        for (suffix, kind) in Self.suffixes where name.count > suffix.count && name.suffix(suffix.count).elementsEqual(suffix) {
            let id = UnsafeRawBufferPointer(rebasing: name[..<(name.count - suffix.count)])
            guard RunIndexFormat.isValidRunID(id) else { return }
            runs[String(decoding: id, as: UTF8.self), default: []].insert(kind)
            return
        }
    }

    /// The run ids with a journal, in no particular order.
    var journals: [String] { runs.compactMap { $0.value.contains(.journal) ? $0.key : nil } }

    /// The run ids whose journal is being created.
    var creating: [String] { runs.compactMap { $0.value.contains(.creating) ? $0.key : nil } }

    func has(_ kind: Kinds, _ id: String) -> Bool { runs[id]?.contains(kind) ?? false }
}
