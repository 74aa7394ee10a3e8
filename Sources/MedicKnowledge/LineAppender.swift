import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Appends whole lines to one file, safely against crashes and other processes.
///
/// Each call opens the file `O_APPEND`, takes an exclusive `flock` (advisory: every writer of
/// the knowledge base takes it, so appenders in different processes never interleave, and a
/// reader's repair of a torn tail never runs during a write), writes all its bytes with ONE
/// `write(2)`, and `fsync`s when `durable`. The write is all-or-nothing: on an error or a short
/// write the file is cut back to its length before the write (`ftruncate`) and the call throws,
/// so the file only ever holds whole lines (a crash in the middle of the write leaves a torn last
/// line, which the next reader or appender moves to the quarantine file).
enum LineAppender {
    /// Appends `bytes` (whole lines). When `repairingTail`, a torn last line left by a writer
    /// that crashed is first moved to the quarantine file (see `LineReader.quarantineTail`), so a
    /// new record is never glued to it; its report is returned.
    @discardableResult
    static func append(_ bytes: [UInt8], to path: String, durable: Bool, repairingTail: Bool = true) throws -> String? {
        precondition(bytes.last == JSONLine.newline, "appended bytes end with a newline")
        while true {
            let fd = try openForAppend(path)
            defer { close(fd) }
            // A prune replaces the file (a new one renamed over it) while holding this lock: a
            // writer that opened the old file waits here, and must write to the new one.
            let done: String?? = try withLock(fd, path: path) {
                guard isCurrent(fd, path: path) else { return .none }
                return .some(try appendHoldingLock(bytes, fd: fd, path: path, durable: durable, repairingTail: repairingTail))
            }
            if let report = done { return report }
        }
    }

    /// Whether `fd` is still the file named `path` (not replaced or removed since it was opened).
    static func isCurrent(_ fd: Int32, path: String) -> Bool {
        var opened = stat(), named = stat()
        guard fstat(fd, &opened) == 0 else { return true }
        guard stat(path, &named) == 0 else { return false }
        return opened.st_ino == named.st_ino && opened.st_dev == named.st_dev
    }

    private static func appendHoldingLock(_ bytes: [UInt8], fd: Int32, path: String, durable: Bool, repairingTail: Bool) throws -> String? {
        var status = stat()
        guard fstat(fd, &status) == 0 else { throw fault("cannot read the size of", path) }
        var before = status.st_size
        let torn = repairingTail && before > 0 ? try lastByte(fd, at: before - 1, path: path) != JSONLine.newline : false
        var report: String?
        if torn {
            let tail = try LineReader.quarantineTail(fd, size: before, path: path, writable: true)
            guard tail.whole else {
                throw KnowledgeError("cannot append to \(path): it ends with a \(tail.report ?? "torn line")")
            }
            before = tail.end
            report = tail.report
        }
        var written: Int
        repeat {
            written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        } while written < 0 && errno == EINTR
        if written != bytes.count {
            let reason = written < 0 ? String(cString: strerror(errno)) : "only \(written) of \(bytes.count) bytes written"
            // A part of a line would be torn: cut it off so the file stays whole lines.
            _ = ftruncate(fd, before)
            throw KnowledgeError("cannot append to \(path): \(reason)")
        }
        if durable && fsync(fd) != 0 {
            let reason = String(cString: strerror(errno))
            // The lines may not be on disk: take them back rather than let the caller retry
            // and write them twice.
            _ = ftruncate(fd, before)
            throw KnowledgeError("cannot make \(path) durable (fsync): \(reason)")
        }
        return report
    }

    static func lastByte(_ fd: Int32, at offset: off_t, path: String) throws -> UInt8 {
        var byte: UInt8 = 0
        while true {
            let count = pread(fd, &byte, 1, offset)
            if count == 1 { return byte }
            if count < 0 && errno == EINTR { continue }
            throw count < 0 ? fault("cannot read", path) : KnowledgeError("cannot read \(path): it got shorter")
        }
    }

    /// Opens `path` for appending; a file created here has its directory entry made durable too.
    static func openForAppend(_ path: String) throws -> Int32 {
        // Read too: the last byte says whether a torn line must be moved first.
        let fd = open(path, O_RDWR | O_APPEND | O_CLOEXEC)
        if fd >= 0 { return fd }
        guard errno == ENOENT else { throw fault("cannot open", path) }
        let created = open(path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
        guard created >= 0 else { throw fault("cannot create", path) }
        syncDirectory(of: path)
        return created
    }

    /// Runs `body` holding an exclusive `flock` on `fd`.
    static func withLock<T>(_ fd: Int32, path: String, _ body: () throws -> T) throws -> T {
        while flock(fd, LOCK_EX) != 0 {
            guard errno == EINTR else { throw fault("cannot lock", path) }
        }
        defer { _ = flock(fd, LOCK_UN) }
        return try body()
    }

    /// Makes a new directory entry durable (best effort: a directory that cannot be opened for
    /// reading still took the entry).
    static func syncDirectory(of path: String) {
        let directory = (path as NSString).deletingLastPathComponent
        let fd = open(directory.isEmpty ? "." : directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { return }
        _ = fsync(fd)
        close(fd)
    }

    /// An error naming the file and the system's reason (from `errno`).
    static func fault(_ what: String, _ path: String) -> KnowledgeError {
        KnowledgeError("\(what) \(path): \(String(cString: strerror(errno)))")
    }
}
