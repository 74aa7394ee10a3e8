import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// The size and time of change of a run's journal when its index entry was written: an entry
/// whose journal no longer has them is stale, and is read again from the journal.
struct JournalStamp: Equatable, Sendable {
    var size: Int64
    var seconds: Int
    var nanoseconds: Int

    init(size: Int64, seconds: Int, nanoseconds: Int) {
        self.size = size
        self.seconds = seconds
        self.nanoseconds = nanoseconds
    }

    init(_ info: stat) {
        self.init(size: Int64(info.st_size), seconds: info.st_mtim.tv_sec, nanoseconds: info.st_mtim.tv_nsec)
    }

    /// The stamp of the file at `path`; nil when it does not exist.
    static func of(_ path: String) -> JournalStamp? {
        var info = stat()
        return stat(path, &info) == 0 ? JournalStamp(info) : nil
    }

    /// The stamp of the file `name` in the folder open as `folder`; nil when it does not exist.
    static func of(_ name: String, in folder: Int32) -> JournalStamp? {
        var info = stat()
        return fstatat(folder, name, &info, 0) == 0 ? JournalStamp(info) : nil
    }

    /// Whether the journal changed less than two seconds ago by the file system's clock (the
    /// real time, whatever clock the engine runs on: these are the file system's timestamps).
    var isRecent: Bool {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return now.tv_sec - seconds < 2
    }
}

/// One line of `runs/.index`: a run's summary as its journal said it at `stamp` (nil: written by
/// the run's process, holding its lock, before the journal existed), or (`removed`) the news
/// that a run has no journal any more.
struct RunIndexEntry: Equatable, Sendable {
    var summary: RunSummary
    /// nil for a run claimed whose journal is not written yet (its lock is held while it is).
    var stamp: JournalStamp?
    var removed = false
    /// Read from a journal with nothing to report (no torn line, not an earlier Medic's): only
    /// then may `medic runs` list the run without reading its journal again.
    var clean = true
    /// Its stamp was taken when the journal had just changed: a change in the same tick of the
    /// file system's clock would leave the same stamp, so the entry is checked against the
    /// journal's content by the next verification that finds the journal older than that
    /// (`RunStore.verifyIndex`), which writes it settled.
    var racy = false
}

/// The spelling of `runs/.index`: one line per entry, a later line for the same run replacing an
/// earlier one; each line tab-separated fields, `%`, tab, newline and `,` written `%XX`, lists
/// comma-separated, and the line's CRC-32C in hex last, so a changed byte or a line cut short by
/// a crash is found (and the index rebuilt from the journals, which it only summarises).
enum RunIndexFormat {
    static let version: [UInt8] = Array("r1".utf8)
    static let fieldCount = 16

    static func line(_ entry: RunIndexEntry) -> [UInt8] {
        let s = entry.summary
        var fields: [String] = [
            "r1", s.id, s.playbookID, s.playbookVersion, s.startedAt, s.updatedAt,
            entry.removed ? "removed" : s.status.rawValue, s.outcome?.rawValue ?? "",
            s.targets.map(escape).joined(separator: ","), s.actions.map(escape).joined(separator: ","), s.damage ?? "",
        ]
        fields = fields.enumerated().map { $0.offset == 8 || $0.offset == 9 ? $0.element : escape($0.element) }
        if let stamp = entry.stamp {
            fields += [String(stamp.size), String(stamp.seconds), String(stamp.nanoseconds)]
        } else {
            fields += ["", "", ""]
        }
        // The journal's path is the store's to say (a state directory may be moved): not kept.
        fields.append(entry.clean ? (entry.racy ? "r" : "") : "u")
        var bytes = Array(fields.joined(separator: "\t").utf8)
        let crc = JournalChecksum.crc32c(bytes)
        bytes.append(UInt8(ascii: "\t"))
        bytes += Array(String(crc, radix: 16).leftPadded(to: 8).utf8)
        bytes.append(UInt8(ascii: "\n"))
        return bytes
    }

    /// The bounds of the fields of one line (without its newline) whose CRC, number of fields,
    /// version and run id are as `line` writes them; nil otherwise. Read in one pass over its
    /// bytes in place (`medic runs` reads every line of the index): the CRC's eight lowercase hex
    /// digits, then the fields between the tabs, no string or slice made here. `crcChecked`: the
    /// caller has just checked the CRC of this very line (`sealedRunID`).
    static func sealedFields(_ line: UnsafeBufferPointer<UInt8>, crcChecked: Bool = false) -> SealedFields? {
        guard line.count > 9, line[line.count - 9] == tab else { return nil }
        let bodyEnd = line.count - 9
        guard let crc = sealedCRC(line[(bodyEnd + 1)...]) else { return nil }
        let body = UnsafeBufferPointer(rebasing: line[..<bodyEnd])
        guard crcChecked || JournalChecksum.crc32c(UnsafeRawBufferPointer(body)) == crc else { return nil }
        // The bounds of the fields: exactly `fieldCount - 1` of them, tab-separated.
        var fields = SealedFields(line: body)
        var found = 0
        let complete: Bool = withUnsafeMutableBytes(of: &fields.ends) { raw in
            let bounds = raw.bindMemory(to: Int.self)
            for i in body.indices where body[i] == tab {
                guard found < bounds.count - 1 else { return false }
                bounds[found] = i
                found += 1
            }
            guard found == bounds.count - 1 else { return false }
            bounds[found] = bodyEnd
            return true
        }
        guard complete, fields[0].elementsEqual(version), isValidRunID(fields[1]) else { return nil }
        return fields
    }

    /// The fields of a sealed line, each a view of the line's bytes (valid while they are).
    struct SealedFields {
        let line: UnsafeBufferPointer<UInt8>
        /// Where each field ends (its tab, or the end of the body).
        var ends = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)

        subscript(_ i: Int) -> UnsafeBufferPointer<UInt8> {
            withUnsafeBytes(of: ends) { raw in
                let bounds = raw.bindMemory(to: Int.self)
                let start = i == 0 ? 0 : bounds[i - 1] + 1
                return UnsafeBufferPointer(rebasing: line[start..<bounds[i]])
            }
        }
    }

    /// The entry of one line (without its newline); nil when the line is not one whole entry.
    static func entry(_ line: ArraySlice<UInt8>) -> RunIndexEntry? {
        line.withUnsafeBufferPointer { buffer in sealedFields(buffer).flatMap(entry(fields:)) }
    }

    /// The entry of a sealed line's fields; nil when one of them is not as `line` writes it.
    private static func entry(fields: SealedFields) -> RunIndexEntry? {
        func text(_ i: Int) -> String? { unescape(fields[i]) }
        func list(_ i: Int) -> [String]? {
            let field = fields[i]
            if field.isEmpty { return [] }
            if !field.contains(UInt8(ascii: ",")) { return unescape(field).map { [$0] } }
            return field.split(separator: UInt8(ascii: ","), omittingEmptySubsequences: false)
                .map { unescape(UnsafeBufferPointer(rebasing: $0)) }.allOrNil()
        }
        let flag = fields[14]
        guard flag.isEmpty || (flag.count == 1 && (flag[0] == UInt8(ascii: "u") || flag[0] == UInt8(ascii: "r"))) else { return nil }
        let removed = fields[6].elementsEqual(removedStatus)
        guard let id = text(1), let playbook = text(2), let version = text(3), let started = text(4), let updated = text(5),
              let status = removed ? .finished : status(fields[6]), let targets = list(8),
              let actions = list(9), let damage = text(10) else { return nil }
        var outcome: RunOutcome?
        if !fields[7].isEmpty {
            guard let known = text(7).flatMap(RunOutcome.init(rawValue:)) else { return nil }
            outcome = known
        }
        var stamp: JournalStamp?
        if !fields[11].isEmpty || !fields[12].isEmpty || !fields[13].isEmpty {
            guard let size = number(fields[11]).map(Int64.init), let seconds = number(fields[12]),
                  let nanoseconds = number(fields[13]) else { return nil }
            stamp = JournalStamp(size: size, seconds: seconds, nanoseconds: nanoseconds)
        }
        let summary = RunSummary(id: id, playbookID: playbook, playbookVersion: version, startedAt: started, updatedAt: updated,
                                 status: status, outcome: outcome, journal: "", targets: targets, actions: actions,
                                 damage: damage.isEmpty ? nil : damage)
        let flagged = flag.first
        return RunIndexEntry(summary: summary, stamp: stamp, removed: removed, clean: flagged != UInt8(ascii: "u"),
                             racy: flagged == UInt8(ascii: "r"))
    }

    /// A status as `line` spells it (its raw value, escaped), read without making a string for
    /// the usual spellings.
    private static func status(_ field: UnsafeBufferPointer<UInt8>) -> RunStatus? {
        if field.elementsEqual(finishedStatus) { return .finished }
        return unescape(field).flatMap(RunStatus.init(rawValue:))
    }

    private static let tab = UInt8(ascii: "\t")
    private static let removedStatus: [UInt8] = Array("removed".utf8)
    private static let finishedStatus: [UInt8] = Array("finished".utf8)

    /// A run id as `RunStore.isValidRunID` accepts it, read from its bytes (ASCII letters,
    /// digits, `-`, `_`, `.`; 1 to 100 of them; not starting with `.`).
    static func isValidRunID<C: Collection>(_ bytes: C) -> Bool where C.Element == UInt8 {
        guard (1...100).contains(bytes.count), bytes.first != UInt8(ascii: ".") else { return false }
        return bytes.allSatisfy { byte in
            (0x61...0x7A).contains(byte) || (0x41...0x5A).contains(byte) || (0x30...0x39).contains(byte)
                || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "_") || byte == UInt8(ascii: ".")
        }
    }

    /// A decimal integer as `Int(_:)` reads it (an optional sign, then digits); nil otherwise.
    static func number(_ bytes: ArraySlice<UInt8>) -> Int? { bytes.withUnsafeBufferPointer(number) }

    static func number(_ bytes: UnsafeBufferPointer<UInt8>) -> Int? {
        if bytes.contains(UInt8(ascii: "%")) || bytes.count > 18 { return unescape(bytes).flatMap { Int($0) } }
        var digits = bytes[...]
        var negative = false
        if let sign = digits.first, sign == UInt8(ascii: "-") || sign == UInt8(ascii: "+") {
            negative = sign == UInt8(ascii: "-")
            digits = digits.dropFirst()
        }
        guard !digits.isEmpty else { return nil }
        var value = 0
        for byte in digits {
            guard (0x30...0x39).contains(byte) else { return nil }
            value = value * 10 + Int(byte - 0x30)
        }
        return negative ? -value : value
    }

    /// The latest entry of each run in `bytes` (in the order of those lines), how many lines
    /// there are, and whether the last is cut short; nil as for `entries`, when a line is not
    /// sealed as `line` seals it. Every line's CRC, fields, version and run id are checked; only
    /// each run's latest line is read further (a run writes some three lines: its claim,
    /// its start, its end), so a sealed earlier line whose content would not read is not
    /// noticed, and is dropped at the next rewrite.
    static func latestEntries(_ bytes: ArraySlice<UInt8>) -> (entries: [RunIndexEntry], lines: Int, torn: Bool)? {
        // Each line checked in place (no slice of the array made, nothing retained), and the
        // fields of none but the latest line of each run cut out.
        let scanned = bytes.withUnsafeBufferPointer { buffer -> (latest: [Range<Int>], lines: Int, torn: Bool)? in
            guard let base = buffer.baseAddress else { return ([], 0, false) }
            var latest: [RunIDKey: Range<Int>] = [:]
            var lines = 0
            var start = 0
            var torn = false
            while start < buffer.count {
                guard let found = memchr(base + start, 0x0A, buffer.count - start) else {
                    torn = true
                    break
                }
                let end = UnsafeRawPointer(base).distance(to: UnsafeRawPointer(found))
                let line = UnsafeBufferPointer(rebasing: buffer[start..<end])
                guard let id = sealedRunID(line) else { return nil }
                latest[RunIDKey(bytes: UnsafeBufferPointer(rebasing: line[id]))] = start..<end
                lines += 1
                start = end + 1
            }
            return (latest.values.sorted { $0.lowerBound < $1.lowerBound }, lines, torn)
        }
        guard let scanned else { return nil }
        // In the order of each run's latest line.
        return bytes.withUnsafeBufferPointer { buffer -> (entries: [RunIndexEntry], lines: Int, torn: Bool)? in
            var entries: [RunIndexEntry] = []
            entries.reserveCapacity(scanned.latest.count)
            for line in scanned.latest {
                guard let fields = sealedFields(UnsafeBufferPointer(rebasing: buffer[line]), crcChecked: true),
                      let entry = entry(fields: fields) else { return nil }
                entries.append(entry)
            }
            return (entries, scanned.lines, scanned.torn)
        }
    }

    /// A line's seal: its CRC written as eight lowercase hex digits; nil for anything else.
    @inline(__always)
    static func sealedCRC<Digits: Collection>(_ digits: Digits) -> UInt32? where Digits.Element == UInt8 {
        var crc: UInt32 = 0
        for byte in digits {
            switch byte {
            case 0x30...0x39: crc = crc << 4 | UInt32(byte - 0x30)
            case 0x61...0x66: crc = crc << 4 | UInt32(byte - 0x61 + 10)
            default: return nil
            }
        }
        return crc
    }

    /// The bounds of the run id of a line sealed as `sealedFields` requires (its CRC, its number
    /// of fields, its version and a valid run id), found without cutting the line into fields;
    /// nil when the line is not one.
    static func sealedRunID(_ line: UnsafeBufferPointer<UInt8>) -> Range<Int>? {
        guard line.count > 9, line[line.count - 9] == tab else { return nil }
        let bodyEnd = line.count - 9
        guard let crc = sealedCRC(line[(bodyEnd + 1)...]) else { return nil }
        let body = UnsafeBufferPointer(rebasing: line[..<bodyEnd])
        guard JournalChecksum.crc32c(UnsafeRawBufferPointer(body)) == crc else { return nil }
        var tabs = 0
        var first = -1, second = -1
        for i in body.indices where body[i] == tab {
            if tabs == 0 { first = i } else if tabs == 1 { second = i }
            tabs += 1
        }
        // `fieldCount - 1` fields before the CRC: one tab fewer between them.
        guard tabs == fieldCount - 2, body[0..<first].elementsEqual(version) else { return nil }
        let id = (first + 1)..<second
        return isValidRunID(body[id]) ? id : nil
    }

    /// Every whole entry of `bytes`, in order, or nil when a line is not one (a changed byte, a
    /// line of another format) or the last line is cut short (`torn`).
    static func entries(_ bytes: ArraySlice<UInt8>) -> (entries: [RunIndexEntry], torn: Bool)? {
        var entries: [RunIndexEntry] = []
        var start = bytes.startIndex
        while start < bytes.endIndex {
            guard let end = bytes[start...].firstIndex(of: UInt8(ascii: "\n")) else { return (entries, true) }
            guard let entry = entry(bytes[start..<end]) else { return nil }
            entries.append(entry)
            start = end + 1
        }
        return (entries, false)
    }

    private static let escaped: Set<UInt8> = [UInt8(ascii: "%"), UInt8(ascii: "\t"), UInt8(ascii: "\n"), UInt8(ascii: "\r"), UInt8(ascii: ",")]
    private static let hex: [UInt8] = Array("0123456789ABCDEF".utf8)

    static func escape(_ text: String) -> String {
        guard text.utf8.contains(where: { escaped.contains($0) }) else { return text }
        var out: [UInt8] = []
        for byte in text.utf8 {
            if escaped.contains(byte) {
                out += [UInt8(ascii: "%"), hex[Int(byte >> 4)], hex[Int(byte & 0xF)]]
            } else {
                out.append(byte)
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    static func unescape(_ bytes: ArraySlice<UInt8>) -> String? { bytes.withUnsafeBufferPointer(unescape) }

    static func unescape(_ bytes: UnsafeBufferPointer<UInt8>) -> String? {
        if bytes.isEmpty || memchr(bytes.baseAddress!, Int32(UInt8(ascii: "%")), bytes.count) == nil {
            return String(decoding: bytes, as: UTF8.self)
        }
        var out: [UInt8] = []
        var i = bytes.startIndex
        while i < bytes.endIndex {
            if bytes[i] == UInt8(ascii: "%") {
                guard i + 2 < bytes.endIndex, let value = UInt8(String(decoding: bytes[(i + 1)...(i + 2)], as: UTF8.self), radix: 16) else {
                    return nil
                }
                out.append(value)
                i += 3
            } else {
                out.append(bytes[i])
                i += 1
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}

/// A run id's bytes in a buffer being read, as a key (valid only while the buffer is): hashed as
/// one block of bytes.
private struct RunIDKey: Hashable {
    let bytes: UnsafeBufferPointer<UInt8>

    func hash(into hasher: inout Hasher) { hasher.combine(bytes: UnsafeRawBufferPointer(bytes)) }
    static func == (a: RunIDKey, b: RunIDKey) -> Bool {
        a.bytes.count == b.bytes.count && memcmp(a.bytes.baseAddress!, b.bytes.baseAddress!, a.bytes.count) == 0
    }
}

extension Array {
    /// The elements unwrapped, or nil when one is nil.
    func allOrNil<T>() -> [T]? where Element == T? {
        var out: [T] = []
        out.reserveCapacity(count)
        for element in self {
            guard let element else { return nil }
            out.append(element)
        }
        return out
    }
}

/// Writing `runs/.index`. Every write holds an exclusive `flock` on `runs/.index.lock`: an
/// appended line is one `write(2)` to the file as it is, and a rewrite (a rebuild, a
/// compaction) writes a new file and renames it over the old, so no line is appended to a file
/// that is being replaced. Nothing is fsync'ed: the index is a summary of the journals, and an
/// index a power cut leaves behind is checked against them like any other.
struct RunIndexFile {
    let path: String
    let lockPath: String

    init(runsDirectory: String) {
        path = runsDirectory + "/.index"
        lockPath = runsDirectory + "/.index.lock"
    }

    /// Runs `body` holding the index's write lock; nil when the lock file cannot be opened.
    @discardableResult
    func locked<T>(_ body: () throws -> T) rethrows -> T? {
        let fd = open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        while flock(fd, LOCK_EX) != 0 {
            if errno != EINTR { return nil }
        }
        return try body()
    }

    /// Appends the lines of `entries`; false when they could not be written (the next reader
    /// finds the index stale or torn and rebuilds it from the journals).
    @discardableResult
    func append(_ entries: [RunIndexEntry]) -> Bool {
        guard !entries.isEmpty else { return true }
        let bytes = entries.flatMap(RunIndexFormat.line)
        return locked { () -> Bool in
            let fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o600)
            guard fd >= 0 else { return false }
            defer { close(fd) }
            return Self.writeAll(bytes, to: fd)
        } ?? false
    }

    /// Replaces the index with `entries` (a new file renamed into place). Call holding `locked`.
    func rewrite(_ entries: [RunIndexEntry]) -> Bool {
        let temporary = path + ".new"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return false }
        let written = Self.writeAll(entries.flatMap(RunIndexFormat.line), to: fd)
        close(fd)
        guard written, rename(temporary, path) == 0 else {
            unlink(temporary)
            return false
        }
        return true
    }

    /// The file's bytes from `offset`, with its identity (device, inode) and size; nil when missing.
    func read(from offset: Int = 0) -> (bytes: [UInt8], identity: FileIdentity)? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { return nil }
        let size = Int(info.st_size)
        guard size >= offset else { return ([], FileIdentity(info)) }
        var bytes = [UInt8](repeating: 0, count: size - offset)
        var done = 0
        while done < bytes.count {
            let count = bytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress! + done, $0.count - done, off_t(offset + done)) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { break }
            done += count
        }
        bytes.removeLast(bytes.count - done)
        return (bytes, FileIdentity(info))
    }

    /// The identity and size of the index file now; nil when missing.
    func identity() -> FileIdentity? {
        var info = stat()
        return stat(path, &info) == 0 ? FileIdentity(info) : nil
    }

    private static func writeAll(_ bytes: [UInt8], to fd: Int32) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let count = bytes[offset...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                return false
            }
            offset += count
        }
        return true
    }
}

/// Which file a path names and how long it is: a file replaced (renamed over) has another inode.
struct FileIdentity: Equatable {
    var device: UInt64
    var inode: UInt64
    var size: Int

    init(_ info: stat) {
        device = UInt64(info.st_dev)
        inode = UInt64(info.st_ino)
        size = Int(info.st_size)
    }

    func sameFile(as other: FileIdentity) -> Bool { device == other.device && inode == other.inode }
}
