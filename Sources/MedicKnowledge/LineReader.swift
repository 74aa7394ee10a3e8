import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Reads a JSON Lines file a line at a time, in bounded memory.
///
/// First the tail is repaired under the writers' lock: a last line without its newline (a crash
/// in the middle of a write) is appended to `<file>.torn` (never overwritten) and cut from the
/// file, and reported. Then the whole lines present at that moment are streamed without the
/// lock (appenders only add whole lines after them); a line that is not a JSON object is skipped
/// and reported with its line number.
enum LineReader {
    static let chunkSize = 1 << 16

    static func forEachLine(in path: String, validate: Bool,
                            _ body: (_ line: ArraySlice<UInt8>, _ number: Int) throws -> Void) throws -> [KnowledgeProblem] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 {
            if errno == ENOENT { return [] }  // nothing appended yet
            throw LineAppender.fault("cannot open", path)
        }
        defer { close(fd) }
        let (end, torn) = try repairTail(path)
        var problems: [KnowledgeProblem] = []
        var number = 0
        var pending: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: chunkSize)
        var offset: off_t = 0
        func visit(_ line: ArraySlice<UInt8>) throws {
            number += 1
            if validate, let refusal = JSONLine.objectRefusal(line) {
                problems.append(KnowledgeProblem(kind: .corruptLine, path: path, line: number,
                                                 message: "\(refusal); line skipped"))
                return
            }
            try body(line, number)
        }
        while offset < end {
            let want = Int(min(off_t(chunkSize), end - offset))
            let count = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, want, offset) }
            if count < 0 {
                if errno == EINTR { continue }
                throw LineAppender.fault("cannot read", path)
            }
            if count == 0 { break }  // cut shorter by someone else meanwhile
            offset += off_t(count)
            var start = 0
            while let newline = buffer[start..<count].firstIndex(of: JSONLine.newline) {
                if pending.isEmpty {
                    try visit(buffer[start..<newline])
                } else {
                    pending += buffer[start..<newline]
                    try visit(pending[...])
                    pending.removeAll(keepingCapacity: true)
                }
                start = newline + 1
            }
            pending += buffer[start..<count]
        }
        if let torn {
            problems.append(KnowledgeProblem(kind: .tornLine, path: path, line: number + 1, message: torn))
        }
        return problems
    }

    /// The whole lines of `path` after byte `offset`, unchecked, without the lock (`body` gets
    /// each without its newline); returns the offset just after the last whole line. A file
    /// shorter than `offset` (replaced or removed) is read from its start, after a call of
    /// `restarting`. An absent file has no lines.
    static func followLines(in path: String, after offset: UInt64, restarting: () -> Void,
                            _ body: (_ line: ArraySlice<UInt8>) throws -> Void) throws -> UInt64 {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 {
            guard errno == ENOENT else { throw LineAppender.fault("cannot open", path) }
            if offset > 0 { restarting() }
            return 0
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw LineAppender.fault("cannot read the size of", path) }
        let size = UInt64(info.st_size)
        var next = offset
        if size < offset {
            restarting()
            next = 0
        }
        var position = next
        var pending: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: chunkSize)
        while position < size {
            let want = Int(min(UInt64(buffer.count), size - position))
            let got = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, want, off_t(position)) }
            if got < 0 {
                if errno == EINTR { continue }
                throw LineAppender.fault("cannot read", path)
            }
            if got == 0 { break }  // cut shorter by someone else meanwhile
            let chunkStart = position
            position += UInt64(got)
            var start = 0
            while let newline = buffer[start..<got].firstIndex(of: JSONLine.newline) {
                if pending.isEmpty {
                    try body(buffer[start..<newline])
                } else {
                    pending += buffer[start..<newline]
                    try body(pending[...])
                    pending.removeAll(keepingCapacity: true)
                }
                // Whole lines only: a line still being written is read again next time.
                next = chunkStart + UInt64(newline + 1)
                start = newline + 1
            }
            pending += buffer[start..<got]
        }
        return next
    }

    /// The chunk of `forEachLineInPlace` (grown for a longer line).
    static let inPlaceChunkSize = 1 << 20

    /// `forEachLine` without the JSON check and without copying: `body` gets each whole line
    /// (1-based number) where it lies in the read buffer, valid only during the call. The tail
    /// is repaired first, under the lock, and reported exactly as `forEachLine` does. `opened`
    /// is called with the descriptor before anything is read (-1 when the file does not exist).
    static func forEachLineInPlace(in path: String, opened: (Int32) throws -> Void = { _ in },
                                   _ body: (_ line: UnsafeBufferPointer<UInt8>, _ number: Int) throws -> Void) throws -> [KnowledgeProblem] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 {
            if errno == ENOENT {  // nothing appended yet
                try opened(-1)
                return []
            }
            throw LineAppender.fault("cannot open", path)
        }
        defer { close(fd) }
        try opened(fd)
        let (end, torn) = try repairTail(path)
        var number = 0
        var buffer = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: inPlaceChunkSize)
        defer { buffer.deallocate() }
        var filled = 0  // bytes in `buffer`: the start of a line not read whole yet
        var offset: off_t = 0
        while offset < end {
            if filled == buffer.count {  // a line longer than the buffer
                let larger = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: buffer.count * 2)
                _ = larger.initialize(from: buffer)
                buffer.deallocate()
                buffer = larger
            }
            let want = Int(min(off_t(buffer.count - filled), end - offset))
            let count = pread(fd, buffer.baseAddress! + filled, want, offset)
            if count < 0 {
                if errno == EINTR { continue }
                throw LineAppender.fault("cannot read", path)
            }
            if count == 0 { break }  // cut shorter by someone else meanwhile
            offset += off_t(count)
            filled += count
            let base = buffer.baseAddress!
            var start = 0
            while start < filled, let found = memchr(base + start, Int32(JSONLine.newline), filled - start) {
                let newline = base.distance(to: found.assumingMemoryBound(to: UInt8.self))
                number += 1
                try body(UnsafeBufferPointer(start: base + start, count: newline - start), number)
                start = newline + 1
            }
            if start > 0 {
                if start < filled { memmove(base, base + start, filled - start) }
                filled -= start
            }
        }
        guard let torn else { return [] }
        return [KnowledgeProblem(kind: .tornLine, path: path, line: number + 1, message: torn)]
    }

    /// Moves a torn last line of `path` to `path.torn` under the writers' lock. Returns the
    /// length of whole lines, and the report of the torn line when there was one.
    static func repairTail(_ path: String) throws -> (end: off_t, torn: String?) {
        var fd = open(path, O_RDWR | O_CLOEXEC)
        let writable = fd >= 0
        if !writable { fd = open(path, O_RDONLY | O_CLOEXEC) }
        guard fd >= 0 else { throw LineAppender.fault("cannot open", path) }
        defer { close(fd) }
        return try LineAppender.withLock(fd, path: path) {
            var status = stat()
            guard fstat(fd, &status) == 0 else { throw LineAppender.fault("cannot read the size of", path) }
            let tail = try quarantineTail(fd, size: status.st_size, path: path, writable: writable)
            return (tail.end, tail.report)
        }
    }

    /// What `quarantineTail` did.
    struct Tail {
        /// The length of the whole lines.
        var end: off_t
        /// The report of a torn last line, when there was one.
        var report: String?
        /// Whether the file now ends at `end` (false: a torn line is still there).
        var whole: Bool
    }

    /// Moves the bytes after the last newline of `fd` (`size` long, open for reading, and for
    /// writing when `writable`) to `path.torn`, and cuts them off. Called holding the lock.
    static func quarantineTail(_ fd: Int32, size: off_t, path: String, writable: Bool) throws -> Tail {
        let cut = try endOfLastLine(fd, size: size, path: path)
        guard cut < size else { return Tail(end: size, report: nil, whole: true) }
        let fragment = try readRange(fd, from: cut, to: size, path: path)
        let quarantine = path + ".torn"
        let torn = "torn last line (\(fragment.count) bytes without a newline, a write cut short)"
        guard writable else {
            // A knowledge base we may only read: leave the file alone, still say so.
            return Tail(end: cut, report: "\(torn); skipped, not quarantined: \(path) is not writable", whole: false)
        }
        do {
            try LineAppender.append(fragment + [JSONLine.newline], to: quarantine, durable: true, repairingTail: false)
        } catch {
            // No quarantine (a read-only directory): the line stays in the file, still reported.
            return Tail(end: cut, report: "\(torn); skipped, not quarantined: \(error)", whole: false)
        }
        guard ftruncate(fd, cut) == 0, fsync(fd) == 0 else {
            throw LineAppender.fault("cannot cut the torn last line from", path)
        }
        return Tail(end: cut, report: "\(torn); moved to \(quarantine)", whole: true)
    }

    /// The offset just past the last newline of the file (0 when there is none).
    static func endOfLastLine(_ fd: Int32, size: off_t, path: String) throws -> off_t {
        var end = size
        var buffer = [UInt8](repeating: 0, count: 4096)
        while end > 0 {
            let start = max(0, end - off_t(buffer.count))
            let bytes = try readRange(fd, from: start, to: end, path: path, into: &buffer)
            if let last = bytes.lastIndex(of: JSONLine.newline) { return start + off_t(last) + 1 }
            end = start
        }
        return 0
    }

    static func readRange(_ fd: Int32, from start: off_t, to end: off_t, path: String) throws -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: Int(end - start))
        return Array(try readRange(fd, from: start, to: end, path: path, into: &buffer))
    }

    /// Reads `start..<end` into the front of `buffer` (at least that long) and returns that part.
    static func readRange(_ fd: Int32, from start: off_t, to end: off_t, path: String,
                          into buffer: inout [UInt8]) throws -> ArraySlice<UInt8> {
        let length = Int(end - start)
        var done = 0
        while done < length {
            let count = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress! + done, length - done, start + off_t(done)) }
            if count < 0 {
                if errno == EINTR { continue }
                throw LineAppender.fault("cannot read", path)
            }
            if count == 0 { throw KnowledgeError("cannot read \(path): it got shorter while being read") }
            done += count
        }
        return buffer[0..<length]
    }
}
