import Foundation
import MedicText

/// Where `POST /api/v1/events` keeps the immune events. `FileImmuneEventStore` keeps them as the
/// lines of `<state>/events/events.jsonl`; a database implementation (a table with a unique id
/// column) gives the same guarantees.
///
/// Guarantees:
/// - **Durable before `store` returns**: `.stored` is answered only once the event would survive
///   a crash of the machine. When `store` throws, nothing is acknowledged, and a retry may store
///   the event then.
/// - **Once per id**: of any number of `store` calls with one id, concurrent or not, exactly one
///   answers `.stored`; the others answer `.existing` with the stored event (the same report) or
///   `.conflict` (a different report under that id), and store nothing.
/// - **Whole**: a reader sees an event as it was stored, never a part of it; an event cut short
///   by a crash is skipped and reported, never glued to the next.
/// - **Read after write**: once `store` has returned, `events(since:)` includes the event.
public protocol ImmuneEventStoring: Sendable {
    /// Where the events are, for messages.
    var location: String { get }
    func store(_ event: ImmuneEvent) async throws -> ImmuneEventStoreOutcome
    /// The stored events created at or after `since`, in the order they were stored.
    func events(since: Timestamp) -> [ImmuneEvent]
}

public enum ImmuneEventStoreOutcome: Sendable, Equatable {
    /// Stored now.
    case stored(ImmuneEvent)
    /// Stored before (a retry): the stored event.
    case existing(ImmuneEvent)
    /// Another report is stored under this id: the stored event.
    case conflict(ImmuneEvent)
}

public struct ImmuneEventStoreError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(description: String) { self.description = description }
}

/// The immune events as a JSON Lines file, one event a line, with **group commit**
/// (`GroupCommit`): the posts that arrive while one batch is written and fsync'ed wait together
/// and go out as the next batch, in one `write(2)` and one `fsync(2)`. So a burst of concurrent
/// posts costs a few fsyncs, not one each, and no post waits for more than two batches.
///
/// One committer thread does all the writing. The ids stored and the events (for the health
/// summary) are kept in memory, read from the file when the store is opened; an `flock` on the
/// file keeps a second server from writing the same store. The store lives as long as the process.
public final class FileImmuneEventStore: ImmuneEventStoring, @unchecked Sendable {
    public let path: String
    /// The lines skipped when the file was read (cut short by a crash, or not events).
    public let damage: [String]
    public var location: String { path }

    /// An event being committed, with the posts of the same id that came meanwhile.
    private final class Waiting: @unchecked Sendable {
        let event: ImmuneEvent
        /// Its line, written by the poster so that the committer only writes.
        let line: [UInt8]
        /// Concurrent posts of the same id, with their reports: answered once the first's batch is durable.
        var joined: [(report: ImmuneEvent, continuation: CheckedContinuation<ImmuneEventStoreOutcome?, any Error>)] = []
        init(_ event: ImmuneEvent) {
            self.event = event
            line = event.jsonLine() + [UInt8(ascii: "\n")]
        }
    }

    private let fd: Int32
    /// Guards `stored`, `storedIndex`, `inFlight` and the `joined` of each waiting event.
    private let lock = NSLock()
    private var stored: [ImmuneEvent] = []
    private var storedIndex: [String: Int] = [:]
    private var inFlight: [String: Waiting] = [:]
    /// Whether the file may end inside a line (a crash, or a failed write): the next batch starts
    /// with a newline. Only the committer touches it once the store is open.
    private var torn = false
    private var committer: GroupCommit<Waiting, ImmuneEventStoreOutcome>!

    /// Opens (creating) `<stateDirectory>/events/events.jsonl` and reads the events in it.
    /// Throws when it cannot be created, read or locked.
    public init(stateDirectory: String) throws {
        let directory = stateDirectory + "/events"
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw ImmuneEventStoreError(description: "cannot create \(directory): \(error.localizedDescription)")
        }
        path = directory + "/events.jsonl"
        fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw ImmuneEventStoreError(description: "cannot open \(path): \(String(cString: strerror(errno)))") }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            let code = errno
            close(fd)
            throw ImmuneEventStoreError(description: code == EWOULDBLOCK ? "\(path) is in use by another medic serve"
                                                                        : "cannot lock \(path): \(String(cString: strerror(code)))")
        }
        let contents: Data
        do {
            contents = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            close(fd)
            throw ImmuneEventStoreError(description: "cannot read \(path): \(error.localizedDescription)")
        }
        // The file's name in its directory is durable too, for the first event of a new file.
        let directoryFD = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if directoryFD >= 0 {
            _ = fsync(directoryFD)
            close(directoryFD)
        }
        var damage: [String] = []
        var offset = 0
        for line in contents.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
            defer { offset += line.count + 1 }
            guard !line.isEmpty else { continue }
            guard let event = ImmuneEvent.read(line: Array(line)) else {
                damage.append("\(path): the line at byte \(offset) is not an event; skipped")
                continue
            }
            // A line stored twice (a batch retried after a failed write) counts once.
            guard storedIndex[event.id] == nil else { continue }
            storedIndex[event.id] = stored.count
            stored.append(event)
        }
        self.damage = damage
        torn = contents.last.map { $0 != UInt8(ascii: "\n") } ?? false
        // The committer's thread keeps the store: both last as long as the process.
        committer = GroupCommit(name: "medic-immune-events") { batch in self.commit(batch) }
    }

    public func store(_ event: ImmuneEvent) async throws -> ImmuneEventStoreOutcome {
        let first = Waiting(event)
        let answered: ImmuneEventStoreOutcome? = try await withCheckedThrowingContinuation { continuation in
            lock.lock()
            if let index = storedIndex[event.id] {
                let existing = stored[index]
                lock.unlock()
                continuation.resume(returning: existing.sameReport(as: event) ? .existing(existing) : .conflict(existing))
            } else if let waiting = inFlight[event.id] {
                // Answered with the first's outcome once its batch is durable (see `commit`).
                waiting.joined.append((event, continuation))
                lock.unlock()
            } else {
                inFlight[event.id] = first
                lock.unlock()
                continuation.resume(returning: nil)
            }
        }
        if let answered { return answered }
        return try await committer.submit(first)
    }

    public func events(since: Timestamp) -> [ImmuneEvent] {
        lock.lock()
        defer { lock.unlock() }
        return stored.filter { $0.createdAt >= since }
    }

    /// One batch (on the committer's thread): written in one write and one fsync, then the
    /// posts that joined an event of it are answered too.
    private func commit(_ batch: [Waiting]) -> [Result<ImmuneEventStoreOutcome, any Error>] {
        var bytes: [UInt8] = torn ? [UInt8(ascii: "\n")] : []
        for waiting in batch { bytes += waiting.line }
        let failure = writeAndSync(bytes)
        torn = failure != nil
        lock.lock()
        var joined: [(report: ImmuneEvent, continuation: CheckedContinuation<ImmuneEventStoreOutcome?, any Error>, stored: ImmuneEvent)] = []
        for waiting in batch {
            inFlight[waiting.event.id] = nil
            if failure == nil {
                storedIndex[waiting.event.id] = stored.count
                stored.append(waiting.event)
            }
            joined += waiting.joined.map { ($0.report, $0.continuation, waiting.event) }
        }
        lock.unlock()
        for (report, continuation, event) in joined {
            if let failure {
                continuation.resume(throwing: failure)
            } else {
                // A concurrent post of the same id: its own report is not kept, only compared.
                continuation.resume(returning: report.sameReport(as: event) ? .existing(event) : .conflict(event))
            }
        }
        return batch.map { waiting -> Result<ImmuneEventStoreOutcome, any Error> in
            if let failure { return .failure(failure) }
            return .success(.stored(waiting.event))
        }
    }

    private func writeAndSync(_ bytes: [UInt8]) -> ImmuneEventStoreError? {
        var written = 0
        while written < bytes.count {
            let result = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + written, $0.count - written) }
            if result < 0 {
                if errno == EINTR { continue }
                return ImmuneEventStoreError(description: "cannot write \(path): \(String(cString: strerror(errno)))")
            }
            written += result
        }
        guard fsync(fd) == 0 else { return ImmuneEventStoreError(description: "cannot fsync \(path): \(String(cString: strerror(errno)))") }
        return nil
    }
}
