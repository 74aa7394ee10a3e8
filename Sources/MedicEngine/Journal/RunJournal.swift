import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A failure to write the journal: the run stops before the side effect the record announced.
public struct JournalError: Error, Sendable, Equatable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// The append-only JSONL journal of one run.
///
/// Each `append` is one `write(2)` of whole lines. An intent (`durable: true`, the default) is
/// followed by `fsync`, and `append` returns only when both succeeded, so a record announcing a
/// side effect is on disk, with every record before it, before the side effect starts. An
/// outcome may be appended with `durable: false`: it is written at once (a killed process
/// cannot lose it: it is in the kernel's page cache) and made durable by the next intent's
/// `fsync`, before the next side effect; a power cut before that makes its step look in flight,
/// which `medic resume` treats conservatively. Any failure throws `JournalError` (a full disk,
/// an I/O error) and the interpreter does not go on.
public final class RunJournal: @unchecked Sendable {
    public let runID: String
    public let path: String
    /// -1 until the first record is written, for a journal being created.
    private var fd: Int32
    /// A new run's journal: its first records go to `temporary`, which is made durable and then
    /// renamed to `path`, its directory made durable too. So a journal never exists without its
    /// first record, and a directory that cannot be made durable stops the run before anything.
    private let creation: (temporary: String, directory: String)?
    /// A file made ahead for this journal (`SpareJournals`), used by the first append instead
    /// of creating one; set aside once used or discarded. Used under `lock`.
    private var spare: SpareJournals.Spare?
    private let lock = NSLock()
    private var nextSeq: Int
    private var observers: [@Sendable (JournalRecord) -> Void] = []

    /// Set by the journal's store (`RunStore.stopAppending`): no more records.
    private let stopping: StopFlag
    /// The time of a record appended without one: the store's clock.
    private let clock: any EngineClock
    /// The store's index, told of each change of the run's status, and the run's entry as last
    /// told (nil before `run_started`). Used under `lock`.
    private let index: RunIndexFile?
    private var indexed: RunSummary?

    /// Opens the journal at `path` for appending after `lastSeq`; `summary` is the run's entry
    /// in `index` as its records say it.
    init(runID: String, path: String, lastSeq: Int, stopping: StopFlag, clock: any EngineClock, index: RunIndexFile?,
         summary: RunSummary?) throws {
        self.runID = runID
        self.clock = clock
        self.path = path
        nextSeq = lastSeq + 1
        creation = nil
        self.stopping = stopping
        self.index = index
        indexed = summary
        fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC)
        guard fd >= 0 else { throw JournalError("cannot open the run journal \(path): \(String(cString: strerror(errno)))") }
    }

    /// A journal to create at `path` with its first append (see `creation`).
    init(creating path: String, runID: String, temporary: String, directory: String, stopping: StopFlag, clock: any EngineClock,
         index: RunIndexFile?, spare: SpareJournals.Spare? = nil) {
        self.spare = spare
        self.runID = runID
        self.clock = clock
        self.path = path
        nextSeq = 1
        creation = (temporary, directory)
        self.stopping = stopping
        self.index = index
        fd = -1
    }

    deinit {
        if fd >= 0 { close(fd) }
        if let spare { SpareJournals.discard(spare) }
    }

    /// The index entries `records` make (a change of the run's status), kept as the last told.
    /// Called under `lock`.
    private func indexEntries(_ records: [JournalRecord]) -> [RunSummary] {
        guard index != nil else { return [] }
        var entries: [RunSummary] = []
        for record in records {
            if let next = RunStore.indexedSummary(after: record, from: indexed, runID: runID) {
                indexed = next
                entries.append(next)
            }
        }
        return entries
    }

    /// Tells the index the run's last entry, stamped with the journal as it is now (nil before
    /// it exists). Called under `lock`.
    private func tellIndex(_ entries: [RunSummary], written: Bool) {
        guard let index, let last = entries.last else { return }
        var info = stat()
        let stamp = written && fd >= 0 && fstat(fd, &info) == 0 ? JournalStamp(info) : nil
        index.append([RunIndexEntry(summary: last, stamp: stamp, racy: true)])
    }

    /// Called after each record is on disk (progress output, tests).
    public func observe(_ observer: @escaping @Sendable (JournalRecord) -> Void) {
        lock.withLock { observers.append(observer) }
    }

    /// Appends `records` (their `seq` and `at` are filled in here) and makes them durable.
    @discardableResult
    public func append(_ records: [JournalRecord], now: Date? = nil, durable: Bool = true) throws -> [JournalRecord] {
        guard !stopping.isSet else {
            throw JournalError("Medic is stopping (a signal): the run is left without an outcome, to be resumed")
        }
        // Encoded before taking the lock (targets of a rollout append from many threads at
        // once); only the sequence number and the time are filled in under it.
        let at = JournalRecord.timestamp(now ?? clock.now)
        let bodies = try records.map { record -> [UInt8] in
            var blank = record
            blank.seq = 0
            blank.at = ""
            return try JournalCodec.encode(blank)
        }
        let (written, watchers): ([JournalRecord], [@Sendable (JournalRecord) -> Void]) = try lock.withLock {
            var stamped: [JournalRecord] = []
            var bytes: [UInt8] = []
            var seq = nextSeq
            for (index, var record) in records.enumerated() {
                record.seq = seq
                record.at = at
                bytes += JournalCodec.stamp(bodies[index], seq: seq, at: at)
                bytes.append(UInt8(ascii: "\n"))
                seq += 1
                stamped.append(record)
            }
            let entries = indexEntries(stamped)
            if fd < 0 {
                // Told before the journal exists (the run's lock is held), so a reader of the
                // index knows of every run without listing the journals.
                tellIndex(entries, written: false)
                try create(with: bytes)  // durable, whatever `durable` says
                nextSeq = seq
                durableSeq = seq - 1
            } else {
                try writeAll(bytes)
                // The lines are in the file: the next record follows them, even if this sync fails.
                nextSeq = seq
                tellIndex(entries, written: true)
                guard !durable || fsync(fd) == 0 else {
                    throw JournalError("cannot make the run journal \(path) durable (fsync): \(String(cString: strerror(errno)))")
                }
                if durable { durableSeq = seq - 1 }
            }
            return (stamped, observers)
        }
        for record in written { for watch in watchers { watch(record) } }
        return written
    }

    @discardableResult
    public func append(_ record: JournalRecord, now: Date? = nil, durable: Bool = true) throws -> JournalRecord {
        try append([record], now: now, durable: durable)[0]
    }

    // MARK: - Group commit

    /// Sequence numbers up to this one are on disk (fsync'ed). Used under `lock`.
    private var durableSeq = 0
    /// Tasks waiting for their records to be made durable, and whether a sync is under way.
    private var syncWaiters: [CheckedContinuation<Void, Error>] = []
    private var syncing = false
    private var syncFailure: JournalError?
    private static let syncQueue = DispatchQueue(label: "medic.journal.sync", qos: .userInitiated, attributes: .concurrent)

    /// Appends `records` and returns once they are durable, like `append(_:durable: true)`, but
    /// many tasks appending at once share one `fsync` (group commit): while one sync runs, the
    /// records written meanwhile wait for the next, which covers them all. The sync runs on a
    /// thread of its own, never on one of the few threads that run every task. A rollout's
    /// targets journal this way, so fifty targets at once cost a few syncs, not fifty.
    @discardableResult
    public func appendDurably(_ records: [JournalRecord], now: Date? = nil) async throws -> [JournalRecord] {
        let written = try append(records, now: now, durable: false)
        guard let last = written.last?.seq else { return written }
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, Error>) in
            let start: Bool? = lock.withLock {
                if let failure = syncFailure {
                    continuation.resume(throwing: failure)
                    return nil
                }
                if durableSeq >= last {
                    continuation.resume()
                    return nil
                }
                syncWaiters.append(continuation)
                if syncing { return false }
                syncing = true
                return true
            }
            if start == true { Self.syncQueue.async { self.syncWhileWaited() } }
        }
        return written
    }

    /// Syncs until no task waits: each round takes every waiter whose records are written (all
    /// of them: a waiter registers after its write), syncs once, and wakes them.
    private func syncWhileWaited() {
        while true {
            let (batch, upTo): ([CheckedContinuation<Void, Error>], Int) = lock.withLock {
                let batch = syncWaiters
                syncWaiters = []
                if batch.isEmpty { syncing = false }
                return (batch, nextSeq - 1)
            }
            if batch.isEmpty { return }
            if fsync(fd) == 0 {
                lock.withLock { durableSeq = max(durableSeq, upTo) }
                batch.forEach { $0.resume() }
            } else {
                let failure = JournalError("cannot make the run journal \(path) durable (fsync): \(String(cString: strerror(errno)))")
                lock.withLock { syncFailure = failure }
                batch.forEach { $0.resume(throwing: failure) }
            }
        }
    }

    /// Writes a new journal's first records to its temporary file, makes them durable, renames
    /// the file into place and makes the name durable. Any failure removes what was made: the
    /// run has no journal, and stops before anything happened. Called under `lock`.
    private func create(with bytes: [UInt8]) throws {
        guard let (temporary, directory) = creation else { throw JournalError("the run journal \(path) is not open") }
        func failure(_ what: String) -> JournalError {
            JournalError("\(what): \(String(cString: strerror(errno))); the run stops before it began")
        }
        if let spare {
            self.spare = nil
            try create(with: bytes, in: spare, failure: failure)
            return
        }
        let file = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0o600)
        guard file >= 0 else { throw failure("cannot create the run journal \(temporary)") }
        var error: JournalError?
        if let failed = Self.writeAll(bytes, to: file) {
            errno = failed
            error = failure("cannot write the run journal \(temporary)")
        } else if fsync(file) != 0 {
            error = failure("cannot make the run journal \(temporary) durable (fsync)")
        } else if rename(temporary, path) != 0 {
            error = failure("cannot rename \(temporary) to \(path)")
        }
        if let error {
            close(file)
            unlink(temporary)
            throw error
        }
        let folder = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if folder < 0 || fsync(folder) != 0 {
            let reason = failure("cannot make the run journal's name durable (fsync of the directory \(directory))")
            if folder >= 0 { close(folder) }
            close(file)
            unlink(path)
            throw reason
        }
        close(folder)
        fd = file
    }

    /// `create` with a spare: the first records written into it and made durable (the file and
    /// its name already are), then the spare renamed to the journal. A failure removes the
    /// spare: the run has no journal, and stops before anything happened.
    private func create(with bytes: [UInt8], in spare: SpareJournals.Spare, failure: (String) -> JournalError) throws {
        var error: JournalError?
        if let failed = Self.writeAll(bytes, to: spare.fd) {
            errno = failed
            error = failure("cannot write the run journal \(spare.path)")
        } else if fdatasync(spare.fd) != 0 {
            error = failure("cannot make the run journal \(spare.path) durable (fdatasync)")
        } else if rename(spare.path, path) != 0 {
            error = failure("cannot rename \(spare.path) to \(path)")
        }
        if let error {
            SpareJournals.discard(spare)
            throw error
        }
        fd = spare.fd
    }

    /// Writes `bytes` whole to `fd`; the errno of a failed write (nil when all were written).
    private static func writeAll(_ bytes: [UInt8], to fd: Int32) -> Int32? {
        var offset = 0
        while offset < bytes.count {
            let count = bytes[offset...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                return errno
            }
            offset += count
        }
        return nil
    }

    private func writeAll(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let count = bytes[offset...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                let reason = String(cString: strerror(errno))
                // A partial line would be torn: cut it off so the journal stays whole lines.
                if offset > 0, let size = try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int {
                    _ = ftruncate(fd, off_t(size - offset))
                }
                throw JournalError("cannot write the run journal \(path): \(reason)")
            }
            offset += count
        }
    }
}

/// A flag set once, read from any thread.
final class StopFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    func set() { lock.withLock { value = true } }
    var isSet: Bool { lock.withLock { value } }
}

/// The journal's JSON spelling: snake_case keys, sorted, one line per record.
public enum JournalCodec {
    public static func encode(_ record: JournalRecord) throws -> [UInt8] {
        if let fast = fastEncode(record) { return fast }
        return try encodeWithFoundation(record)
    }

    /// Every record through JSONEncoder (what `fastEncode` must agree with).
    static func encodeWithFoundation(_ record: JournalRecord) throws -> [UInt8] {
        Array(try encoder().encode(record))
    }

    /// The journal line (without its newline) of a record encoded with `seq` 0 and `at` ""
    /// (keys sorted: it begins `{"at":"",`, and `"seq":0` occurs once, outside any string, since
    /// no other type has a `seq`): its sequence number and time written in, sealed with its
    /// checksum (`JournalChecksum`).
    static func stamp(_ body: [UInt8], seq: Int, at: String) -> [UInt8] {
        let head = 8  // {"at":""
        let key: [UInt8] = Array(#""seq":0"#.utf8)
        let found: Int? = body.withUnsafeBufferPointer { bytes in
            guard bytes.count > head else { return nil }
            var i = head
            while i + key.count <= bytes.count {
                if bytes[i] == key[0] && bytes[i + 1] == key[1] && bytes[i + 2] == key[2] && bytes[i + 3] == key[3]
                    && bytes[i + 4] == key[4] && bytes[i + 5] == key[5] && bytes[i + 6] == key[6] {
                    return i
                }
                i += 1
            }
            return nil
        }
        guard body.starts(with: Array(#"{"at":"""#.utf8)), let seqAt = found else {
            preconditionFailure("a journal record encodes as {\"at\":... with one \"seq\"")
        }
        var out: [UInt8] = []
        out.reserveCapacity(body.count + at.utf8.count + 20)
        out.append(contentsOf: #"{"at":""#.utf8)
        out.append(contentsOf: at.utf8)
        out.append(UInt8(ascii: "\""))
        out.append(contentsOf: body[head..<seqAt])
        out.append(contentsOf: #""seq":"#.utf8)
        out.append(contentsOf: String(seq).utf8)
        out.append(contentsOf: body[(seqAt + key.count)...])
        return JournalChecksum.seal(out)
    }

    static func encoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.dateEncodingStrategy = .iso8601
        return encoder
    }

    public static func decode(_ line: Substring) throws -> JournalRecord {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .custom { path in SnakeCaseKey(path.last!.stringValue) }
        decoder.dateDecodingStrategy = .iso8601
        return try decoder.decode(JournalRecord.self, from: Data(line.utf8))
    }

    /// `expect_json` -> `expectJSON`, `playbook_id` -> `playbookID`: the inverse of
    /// `convertToSnakeCase` for the names our types use (Foundation's `convertFromSnakeCase`
    /// would give `expectJson`, which matches no property).
    struct SnakeCaseKey: CodingKey {
        static let acronyms = ["id": "ID", "json": "JSON", "url": "URL", "http": "HTTP"]
        var stringValue: String
        var intValue: Int? { nil }

        init(_ snake: String) {
            let words = snake.split(separator: "_", omittingEmptySubsequences: true)
            guard words.count > 1 else {
                stringValue = snake
                return
            }
            stringValue = String(words[0]) + words.dropFirst().map { word in
                Self.acronyms[String(word)] ?? word.prefix(1).uppercased() + word.dropFirst()
            }.joined()
        }

        init?(stringValue: String) { self.init(stringValue) }
        init?(intValue: Int) { nil }
    }
}
