import Foundation

/// How `FileIncidentStore.open` makes incidents durable with **group commit**: the opens that
/// arrive while one batch is committed wait together (`GroupCommit`) and the next batch costs one
/// `fsync(2)` for all of them, not two each.
///
/// A batch, on the committer's thread:
/// 1. Each incident is written whole to a temporary file of the folder (not fsync'ed) and
///    `link(2)`ed to its name: the atomic claim, across processes too (`EEXIST`: the incident
///    exists, it is read and answered `created: false`).
/// 2. The incidents created are appended to the folder's log of openings, `.opened.jsonl`, in
///    one `write(2)`, and the log is fsync'ed once. That makes them durable: a crash may lose an
///    incident's file or leave it empty (its data were never fsync'ed), and the next opening of
///    the store writes it again from the log. When the log cannot be written or fsync'ed, the
///    names are unlinked again, the log is cut back to its length before the batch, and the
///    batch fails: nothing is acknowledged, no line of it is ever written again as an incident
///    (at a restart or a compaction), and the retry opens them.
/// 3. An existing incident this process has not seen durable (another process opened it, or a
///    process before this one) is fsync'ed, with the folder, before it is answered.
///
/// The log is emptied when this process first commits: each incident it names is fsync'ed (or
/// written again), then the folder, then the log is truncated. Appenders and the compaction hold
/// an exclusive `flock` on it (an appender may have to cut the log back to where it found it).
final class IncidentOpenings: @unchecked Sendable {
    let directory: String
    var logPath: String { directory + "/.opened.jsonl" }
    /// Each incident with its document, encoded by the caller so that the committer only writes.
    /// Set once in `init`; the committer and the openings then last as long as the process.
    private var committer: GroupCommit<(incident: AlertIncident, document: Data), (incident: AlertIncident, created: Bool)>!
    /// Only the committer thread touches these.
    private var logFD: Int32 = -1
    private var durable: Set<String> = []
    /// Lines appended to the log since it was last emptied.
    private var logged = 0
    /// Keys of refused batches whose lines could not be cut from the log (its truncation failed
    /// too): settling the log in this process skips them.
    private var refusedInLog: Set<String> = []
    /// After this many lines the committer empties the log (each incident it names fsync'ed where
    /// it lies, then the log truncated): what a restart must settle, and the memory of what is
    /// durable, stay bounded, at the cost of one pause of that many fsyncs.
    let compactAfter: Int

    init(directory: String, compactAfter: Int = 1_000) {
        self.directory = directory
        self.compactAfter = max(1, compactAfter)
        committer = GroupCommit(name: "medic-incidents") { batch in self.commit(batch) }
    }

    func open(_ incident: AlertIncident) async throws -> (incident: AlertIncident, created: Bool) {
        try await committer.submit((incident, try Self.encode(incident)))
    }

    /// The batches committed so far.
    var batches: Int { committer.committed }

    private func path(_ key: String) -> String { directory + "/" + key + ".json" }

    private func commit(_ submitted: [(incident: AlertIncident, document: Data)]) -> [Result<(incident: AlertIncident, created: Bool), any Error>] {
        let batch = submitted.map(\.incident)
        if logFD < 0 {
            do {
                try openLog()
            } catch {
                return batch.map { _ in .failure(error) }
            }
        }
        var answers: [Result<(incident: AlertIncident, created: Bool), any Error>] = []
        var created: [(index: Int, line: Data)] = []
        var unseen: [Int] = []
        var createdKeys: Set<String> = []
        for (index, incident) in batch.enumerated() {
            do {
                let data = submitted[index].document
                switch try claim(incident, data: data) {
                case .created:
                    created.append((index, data))
                    createdKeys.insert(incident.key)
                    answers.append(.success((incident, true)))
                case .existing(let stored):
                    if !durable.contains(incident.key), !createdKeys.contains(incident.key) { unseen.append(index) }
                    answers.append(.success((stored, false)))
                }
            } catch {
                answers.append(.failure(error))
            }
        }
        if !created.isEmpty {
            do {
                try appendToLog(created.reduce(into: Data()) { $0 += $1.line }, keys: created.map { batch[$0.index].key })
                logged += created.count
                // A retry made them durable: their lines count again.
                if !refusedInLog.isEmpty { refusedInLog.subtract(createdKeys) }
            } catch {
                for (index, _) in created { unlink(path(batch[index].key)) }
                // The incidents of this batch answered as existing may be those just taken back.
                for index in answers.indices where createdKeys.contains(batch[index].key) { answers[index] = .failure(error) }
            }
        }
        if !unseen.isEmpty {
            do {
                for index in unseen { try Self.sync(path(batch[index].key)) }
                try Self.sync(directory, directory: true)
            } catch {
                for index in unseen { answers[index] = .failure(error) }
            }
        }
        for (index, answer) in answers.enumerated() {
            if case .success = answer { durable.insert(batch[index].key) }
        }
        if logged >= compactAfter { compactLog() }
        return answers
    }

    /// Empties the log once every incident it names is fsync'ed where it lies. A failure leaves
    /// the log as it was (it is tried again after the next batch): nothing it names is lost.
    private func compactLog() {
        do {
            try Self.whileLocked(logFD, LOCK_EX) {
                try Self.settle(directory: directory, log: logFD, fsyncing: true, skipping: refusedInLog)
                guard ftruncate(logFD, 0) == 0, fsync(logFD) == 0 else {
                    throw FileIncidentStore.Failure(description: "cannot empty \(logPath): \(String(cString: strerror(errno)))")
                }
            }
            logged = 0
            refusedInLog.removeAll()
            // Every incident known so far is fsync'ed: the next sight of one costs one fsync more.
            durable.removeAll(keepingCapacity: true)
        } catch {}
    }

    private enum Claim {
        case created
        case existing(AlertIncident)
    }

    /// Links `data` to the incident's name unless it exists. A name holding a damaged incident
    /// (a crash cut its data before it was acknowledged: acknowledged ones are in the log and
    /// written again at the store's opening) is taken over, under the folder's lock.
    private func claim(_ incident: AlertIncident, data: Data) throws -> Claim {
        let temporary = try Self.writeTemporary(data, in: directory)
        defer { unlink(temporary) }
        if link(temporary, path(incident.key)) == 0 { return .created }
        let error = errno
        guard error == EEXIST else {
            throw FileIncidentStore.Failure(description: "cannot create \(path(incident.key)): \(String(cString: strerror(error)))")
        }
        if let stored = Self.read(path(incident.key)) { return .existing(stored) }
        let lock = Foundation.open(directory + "/.lock", O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard lock >= 0 else { throw FileIncidentStore.Failure(description: "cannot open \(directory)/.lock: \(String(cString: strerror(errno)))") }
        defer { close(lock) }
        return try Self.whileLocked(lock, LOCK_EX) {
            if let stored = Self.read(path(incident.key)) { return .existing(stored) }
            guard rename(temporary, path(incident.key)) == 0 else {
                throw FileIncidentStore.Failure(description: "cannot replace \(path(incident.key)): \(String(cString: strerror(errno)))")
            }
            return .created
        }
    }

    private func openLog() throws {
        let fd = Foundation.open(logPath, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw FileIncidentStore.Failure(description: "cannot open \(logPath): \(String(cString: strerror(errno)))") }
        do {
            try Self.whileLocked(fd, LOCK_EX) {
                // What the log names is made durable where it lies, then the log starts afresh.
                try Self.settle(directory: directory, log: fd, fsyncing: true)
                guard ftruncate(fd, 0) == 0, fsync(fd) == 0 else {
                    throw FileIncidentStore.Failure(description: "cannot empty \(logPath): \(String(cString: strerror(errno)))")
                }
            }
            // The log's own name, for a log just created.
            try Self.sync(directory, directory: true)
        } catch {
            close(fd)
            throw error
        }
        logFD = fd
    }

    /// Appends the lines of the incidents `keys` and fsyncs the log. On a failure the log is cut
    /// back to its length before them: a line written (whole or in part) but never made durable
    /// for its caller must not be replayed as an incident. The lock is exclusive so that no
    /// other process appends between the length read and the cut.
    private func appendToLog(_ bytes: Data, keys: [String]) throws {
        try Self.whileLocked(logFD, LOCK_EX) {
            var status = stat()
            guard fstat(logFD, &status) == 0 else {
                throw FileIncidentStore.Failure(description: "cannot read the length of \(logPath): \(String(cString: strerror(errno)))")
            }
            let before = status.st_size
            var failure: String?
            if !Self.writeAll(logFD, bytes) {
                failure = "cannot write \(logPath): \(String(cString: strerror(errno)))"
            } else if fsync(logFD) != 0 {
                failure = "cannot sync \(logPath): \(String(cString: strerror(errno)))"
            }
            guard let failure else { return }
            if ftruncate(logFD, before) != 0 {
                // The lines stay: this process skips them when it settles the log. A later batch
                // still starts on a line of its own.
                refusedInLog.formUnion(keys)
                _ = Self.writeAll(logFD, Data("\n".utf8))
            } else {
                _ = fsync(logFD)
            }
            throw FileIncidentStore.Failure(description: failure)
        }
    }

    /// Writes again, from the log of openings, each incident whose file a crash lost or left
    /// damaged; with `fsyncing`, fsyncs the others too. The folder is fsync'ed when anything was.
    /// A line the crash cut short is skipped: its batch was never acknowledged.
    static func settle(directory: String, log fd: Int32, fsyncing: Bool, skipping refused: Set<String> = []) throws {
        var contents = Data()
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        var offset: off_t = 0
        while true {
            let n = pread(fd, &buffer, buffer.count, offset)
            if n < 0, errno == EINTR { continue }
            guard n >= 0 else { throw FileIncidentStore.Failure(description: "cannot read \(directory)/.opened.jsonl: \(String(cString: strerror(errno)))") }
            if n == 0 { break }
            contents.append(contentsOf: buffer[0..<n])
            offset += off_t(n)
        }
        guard !contents.isEmpty else { return }
        var touched = false
        for line in contents.split(separator: UInt8(ascii: "\n")) {
            guard let incident = try? JSONDecoder().decode(AlertIncident.self, from: Data(line)), !refused.contains(incident.key) else { continue }
            let path = directory + "/" + incident.key + ".json"
            if Self.read(path) != nil {
                if fsyncing { try Self.sync(path) }
            } else {
                let temporary = try Self.writeTemporary(Data(line) + Data("\n".utf8), in: directory)
                defer { unlink(temporary) }
                try Self.sync(temporary)
                guard rename(temporary, path) == 0 else {
                    throw FileIncidentStore.Failure(description: "cannot write \(path) again: \(String(cString: strerror(errno)))")
                }
            }
            touched = true
        }
        if touched { try Self.sync(directory, directory: true) }
    }

    /// The incident stored at `path`; nil when there is none or it is damaged.
    static func read(_ path: String) -> AlertIncident? {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        return try? JSONDecoder().decode(AlertIncident.self, from: data)
    }

    /// At the store's opening: the incidents the log names that a crash lost are written again.
    func replayLog() throws {
        let fd = Foundation.open(logPath, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return }
        defer { close(fd) }
        try Self.settle(directory: directory, log: fd, fsyncing: false)
    }

    static func encode(_ incident: AlertIncident) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(incident) + Data("\n".utf8)
    }

    /// `data` written whole, not fsync'ed, under a fresh temporary name of `directory`: that name.
    static func writeTemporary(_ data: Data, in directory: String) throws -> String {
        let temporary = directory + "/.tmp-" + UUID().uuidString
        let fd = Foundation.open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw FileIncidentStore.Failure(description: "cannot write in \(directory): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        guard writeAll(fd, data) else {
            let error = errno
            unlink(temporary)
            throw FileIncidentStore.Failure(description: "cannot write \(temporary): \(String(cString: strerror(error)))")
        }
        return temporary
    }

    static func writeAll(_ fd: Int32, _ data: Data) -> Bool {
        data.withUnsafeBytes { bytes -> Bool in
            var offset = 0
            while offset < bytes.count {
                let n = write(fd, bytes.baseAddress! + offset, bytes.count - offset)
                if n < 0 {
                    if errno == EINTR { continue }
                    return false
                }
                offset += n
            }
            return true
        }
    }

    static func sync(_ path: String, directory: Bool = false) throws {
        let fd = Foundation.open(path, O_RDONLY | O_CLOEXEC | (directory ? O_DIRECTORY : 0))
        guard fd >= 0 else { throw FileIncidentStore.Failure(description: "cannot open \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw FileIncidentStore.Failure(description: "cannot sync \(path): \(String(cString: strerror(errno)))") }
    }

    static func whileLocked<T>(_ fd: Int32, _ operation: Int32, _ body: () throws -> T) throws -> T {
        while flock(fd, operation) != 0 {
            guard errno == EINTR else { throw FileIncidentStore.Failure(description: "cannot lock in the incidents folder: \(String(cString: strerror(errno)))") }
        }
        defer { flock(fd, LOCK_UN) }
        return try body()
    }
}
