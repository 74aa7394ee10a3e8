import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// The bus outbox as the engine relies on it: where the `bus` executor's `outbox` transport
/// leaves its CloudEvents for a dispatcher (a relay, a test, later `medic serve`) to deliver.
/// `FileOutbox` keeps them as the lines of `outbox.jsonl`; a database implementation (a table
/// with a sequence column) gives the same guarantees.
///
/// Guarantees:
/// - **Durable append**: `append` returns only once the event survives a crash of the machine.
///   When it throws, the event may or may not be stored: a caller that appends it again may
///   store it twice, which consumers tell by the id.
/// - **An id to deduplicate on**: every event carries its CloudEvent `id`, stored and read back
///   unchanged; it is unique for its `source` (a UUID), so a consumer that has seen an id has
///   seen the event.
/// - **At-least-once delivery**: every appended event is read by a reader that goes on from the
///   cursor it last kept, once its append returned; a reader that crashes before keeping its
///   cursor reads some events again (and deduplicates them by id). Nothing appended is skipped.
/// - **Order per appender**: the events of one appender (each append returned before the next
///   began) are read in the order they were appended. Concurrent appenders' events are
///   interleaved whole, never within an event.
/// - **Cursors only grow**: each event read comes with the cursor just after it; reading after a
///   cursor gives exactly the events appended after that event, in order.
/// - **Damage is reported, not fatal**: a stored line that is not an event (a write cut short by
///   a crash) is skipped and reported, never glued to the next event.
public protocol EventOutbox: Sendable {
    /// Where the events go, for messages: a path, a table.
    var location: String { get }
    /// Stores `event` durably.
    func append(_ event: OutboxEvent) throws
    /// At most `limit` events appended after `cursor` (nil: from the first), in order.
    func events(after cursor: OutboxCursor?, limit: Int) throws -> OutboxPage
}

/// One CloudEvent in the outbox: its id and its structured-mode JSON (one line, no newline).
public struct OutboxEvent: Sendable, Hashable {
    public var id: String
    public var json: [UInt8]

    public init(id: String, json: [UInt8]) {
        self.id = id
        self.json = json
    }

    /// `event` encoded in structured mode (`CloudEvent.structuredJSON()`).
    public init(_ event: CloudEvent) throws {
        self.init(id: event.id, json: Array(try event.structuredJSON()))
    }
}

/// A place in the outbox, just after an event: for `FileOutbox` the byte offset after its line;
/// for a database, its sequence number. Opaque to readers, who keep it and hand it back.
public struct OutboxCursor: Sendable, Hashable, Comparable, Codable {
    public var position: UInt64

    public init(position: UInt64) { self.position = position }

    public static func < (a: OutboxCursor, b: OutboxCursor) -> Bool { a.position < b.position }
}

/// What one read of the outbox gave.
public struct OutboxPage: Sendable {
    /// The events, in order, each with the cursor just after it.
    public var events: [(event: OutboxEvent, cursor: OutboxCursor)]
    /// Where to read on from (after the last event read, or past the damage skipped); the
    /// cursor given when nothing new was there.
    public var next: OutboxCursor?
    /// Lines skipped because they are not events, each saying where and why.
    public var damage: [String]
}

/// The outbox as a JSON Lines file: one CloudEvent in structured mode a line, each appended with
/// ONE `write(2)` on an `O_APPEND` descriptor under an exclusive `flock` (so concurrent
/// appenders, tasks or processes, never interleave) and `fsync`ed before `append` returns. Missing parent directories are created
/// (mode 0700), the file with mode 0600. A last line left without its newline by a crash is
/// ended (a newline written before the next event) so the next event is never glued to it.
public struct FileOutbox: EventOutbox {
    public let path: String

    public init(path: String) { self.path = path }

    public var location: String { path }

    public func append(_ event: OutboxEvent) throws {
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty { try makeDirectories(directory) }
        // Read too, for the last byte; a file this process may only write is appended to unchecked.
        var fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0o600)
        let readable = fd >= 0
        if !readable && errno == EACCES { fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o600) }
        guard fd >= 0 else { throw fault("cannot open outbox", errno) }
        defer { close(fd) }
        var line = event.json
        line.append(UInt8(ascii: "\n"))
        // Another appender's write in progress shows as a file ending inside a line: the
        // appenders' lock keeps the look at the last byte and the write together.
        while flock(fd, LOCK_EX) != 0 {
            guard errno == EINTR else { throw fault("cannot lock outbox", errno) }
        }
        let (written, writeError): (Int, Int32)
        do {
            defer { _ = flock(fd, LOCK_UN) }
            if readable, try endsTorn(fd) { line.insert(UInt8(ascii: "\n"), at: 0) }
            written = line.withUnsafeBytes { buffer -> Int in
                var result: Int
                repeat { result = write(fd, buffer.baseAddress, buffer.count) } while result < 0 && errno == EINTR
                return result
            }
            writeError = errno
        }
        guard written >= 0 else { throw fault("cannot write outbox", writeError) }
        guard written == line.count else {
            throw ExecutorError("cannot write outbox \(path): short write (\(written) of \(line.count) bytes)")
        }
        guard fsync(fd) == 0 else { throw fault("cannot fsync outbox", errno) }
    }

    /// Whether the file ends inside a line: only a crash in the middle of a write leaves that,
    /// since every append is one whole line in one write.
    private func endsTorn(_ fd: Int32) throws -> Bool {
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw fault("cannot read the size of outbox", errno) }
        guard info.st_size > 0 else { return false }
        var last: UInt8 = 0
        var count: Int
        repeat { count = pread(fd, &last, 1, info.st_size - 1) } while count < 0 && errno == EINTR
        guard count == 1 else { throw fault("cannot read outbox", count < 0 ? errno : EIO) }
        return last != UInt8(ascii: "\n")
    }

    public func events(after cursor: OutboxCursor?, limit: Int) throws -> OutboxPage {
        var page = OutboxPage(events: [], next: cursor, damage: [])
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 {
            if errno == ENOENT { return page }
            throw fault("cannot open outbox", errno)
        }
        defer { close(fd) }
        var offset = cursor?.position ?? 0
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        var pending: [UInt8] = []
        var lineStart = offset
        reading: while page.events.count < limit {
            let count = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, off_t(offset)) }
            if count < 0 {
                if errno == EINTR { continue }
                throw fault("cannot read outbox", errno)
            }
            if count == 0 { break }
            var start = 0
            while start < count, let newline = buffer[start..<count].firstIndex(of: UInt8(ascii: "\n")) {
                pending += buffer[start..<newline]
                let end = offset + UInt64(newline + 1)
                take(pending, from: lineStart, to: end, into: &page)
                pending.removeAll(keepingCapacity: true)
                lineStart = end
                start = newline + 1
                if page.events.count == limit { break reading }
            }
            pending += buffer[start..<count]
            offset += UInt64(count)
        }
        // A last line without its newline is still being written (or was torn): read next time.
        return page
    }

    private func take(_ line: [UInt8], from start: UInt64, to end: UInt64, into page: inout OutboxPage) {
        page.next = OutboxCursor(position: end)
        guard !line.isEmpty else { return }  // the newline that ended a torn line
        guard let event = try? CloudEvent.decode(structuredJSON: Data(line)) else {
            page.damage.append("\(path): the line at byte \(start) is not a CloudEvent; skipped")
            return
        }
        page.events.append((OutboxEvent(id: event.id, json: line), OutboxCursor(position: end)))
    }

    private func makeDirectories(_ directory: String) throws {
        if mkdir(directory, 0o700) == 0 { return }
        switch errno {
        case EEXIST:
            return  // a directory, or open(2) says what it is instead
        case ENOENT:
            let parent = (directory as NSString).deletingLastPathComponent
            guard !parent.isEmpty, parent != directory else { throw fault("cannot create the directory of outbox", ENOENT) }
            try makeDirectories(parent)
            guard mkdir(directory, 0o700) == 0 || errno == EEXIST else {
                throw fault("cannot create directory \(directory) for outbox", errno)
            }
        case let code:
            throw fault("cannot create directory \(directory) for outbox", code)
        }
    }

    private func fault(_ what: String, _ code: Int32) -> ExecutorError {
        ExecutorError("\(what) \(path): \(String(cString: strerror(code)))")
    }
}
