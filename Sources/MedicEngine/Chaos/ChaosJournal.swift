import Foundation

/// One line of an experiment's journal.
public struct ChaosJournalRecord: Sendable, Codable {
    public enum Event: String, Sendable, Codable {
        case started, setupStarted = "setup_started", injectStarted = "inject_started", injectFinished = "inject_finished"
        case revertStarted = "revert_started", revertFinished = "revert_finished"
        case teardownStarted = "teardown_started", teardownFinished = "teardown_finished", finished
    }

    public var event: Event
    public var at: String
    public var experiment: String?
    public var file: String?
    public var pid: Int32?
    /// In `started`: what undoes the experiment, whole, so that any later Medic can do it.
    public var revert: [ChaosActivity]?
    public var teardown: [ChaosActivity]?
    /// In `started`: the working directory of the activities.
    public var workdir: String?
    public var activity: String?
    public var succeeded: Bool?
    public var outcome: String?
    public var message: String?

    public init(event: Event, at: Date, experiment: String? = nil) {
        self.event = event
        self.at = JournalRecord.timestamp(at)
        self.experiment = experiment
    }
}

/// The journal of one experiment, `<state-dir>/chaos/<ID>.jsonl`: every record is on disk
/// (fsync'ed) before the side effect it announces, so a Medic killed at any point leaves a
/// journal that says whether the fault may have been injected and whether it was reverted.
public final class ChaosJournal: @unchecked Sendable {
    public let path: String
    private let lock = NSLock()

    public init(path: String) { self.path = path }

    public static func directory(in stateDirectory: String) -> String { stateDirectory + "/chaos" }

    /// A new journal for `experiment`, named by the time and a random suffix.
    public static func create(in stateDirectory: String, experiment: String, at now: Date) throws -> ChaosJournal {
        let directory = Self.directory(in: stateDirectory)
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let stamp = RunStore.newRunID(at: now)
        let safe = String(experiment.map { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" ? $0 : "_" }.prefix(80))
        return ChaosJournal(path: "\(directory)/\(stamp)-\(safe).jsonl")
    }

    /// Appends `record` and waits until it is on disk.
    public func append(_ record: ChaosJournalRecord) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        try appendData(try encoder.encode(record))
    }

    private func appendData(_ data: Data) throws {
        var line = data
        line.append(0x0A)
        try lock.withLock {
            let created = !FileManager.default.fileExists(atPath: path)
            let fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
            guard fd >= 0 else { throw JournalFailure("cannot open \(path): \(String(cString: strerror(errno)))") }
            defer { close(fd) }
            // A last line torn by a crash is ended first, so that this record never joins it.
            var last: UInt8 = 0x0A
            let size = lseek(fd, 0, SEEK_END)
            if size > 0 { _ = pread(fd, &last, 1, size - 1) }
            if last != 0x0A { line.insert(0x0A, at: 0) }
            let written = line.withUnsafeBytes { writeAll(fd, $0.baseAddress, $0.count) }
            guard written == line.count, fsync(fd) == 0 else { throw JournalFailure("cannot write \(path): \(String(cString: strerror(errno)))") }
            if created { Self.syncDirectory(of: path) }
        }
    }

    /// Appends one line of `data` to the file at `path` and waits until it is on disk.
    public static func appendLine(_ data: Data, to path: String) throws {
        try ChaosJournal(path: path).appendData(data)
    }

    /// The records, a torn last line (a crash while writing it: its side effect never began) left out.
    public func records() -> [ChaosJournalRecord] {
        guard let data = FileManager.default.contents(atPath: path) else { return [] }
        return data.split(separator: 0x0A).compactMap { try? JSONDecoder().decode(ChaosJournalRecord.self, from: Data($0)) }
    }

    /// Journals in `stateDirectory` whose experiment did not finish, oldest first.
    public static func unfinished(in stateDirectory: String) -> [ChaosJournal] {
        let directory = Self.directory(in: stateDirectory)
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).filter { $0.hasSuffix(".jsonl") }.sorted()
        return names.map { ChaosJournal(path: "\(directory)/\($0)") }.filter { journal in
            let records = journal.records()
            return records.contains { $0.event == .started } && !records.contains { $0.event == .finished }
        }
    }

    private static func syncDirectory(of path: String) {
        let fd = open((path as NSString).deletingLastPathComponent, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return }
        _ = fsync(fd)
        close(fd)
    }

    public struct JournalFailure: Error, CustomStringConvertible {
        public var description: String
        init(_ description: String) { self.description = description }
    }
}

/// One experiment at a time per state directory: an exclusive `flock` on
/// `<state-dir>/chaos/experiment.lock`, released by the kernel when its process dies.
public final class ChaosLock: @unchecked Sendable {
    private let fd: Int32

    private init(fd: Int32) { self.fd = fd }
    deinit { close(fd) }

    /// The lock, or nil when another process holds it; `holder` then says which.
    public static func acquire(stateDirectory: String) throws -> (lock: ChaosLock?, holder: String) {
        let directory = ChaosJournal.directory(in: stateDirectory)
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let path = directory + "/experiment.lock"
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw ChaosJournal.JournalFailure("cannot open \(path): \(String(cString: strerror(errno)))") }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            let holder = (try? String(contentsOfFile: path, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
            close(fd)
            return (nil, holder.isEmpty ? "another process" : holder)
        }
        let text = "pid \(getpid())\n"
        _ = ftruncate(fd, 0)
        _ = text.withCString { pwrite(fd, $0, strlen($0), 0) }
        return (ChaosLock(fd: fd), "")
    }
}

/// `write(2)`, out of reach of the journal's own methods' names.
private func writeAll(_ fd: Int32, _ bytes: UnsafeRawPointer?, _ count: Int) -> Int {
    write(fd, bytes, count)
}
