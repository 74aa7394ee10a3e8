import Foundation
import MedicEngine

/// The incidents of a state directory: `incidents/<key>.json`, one JSON document per incident.
///
/// How it keeps `IncidentStoring`'s guarantees: `open` writes an incident whole to a temporary
/// file in the same folder and `link(2)`s it to its name, which fails for every caller but one
/// when the name exists (the atomic claim, across processes too); it is made durable by group
/// commit, through the folder's log of openings, before `open` returns (`IncidentOpenings`). A
/// change (`resolve`, `update`) is written beside, fsync'ed and renamed over the old document,
/// and the folder fsync'ed (`StateFiles.writeAtomically`), under the folder's `flock`, so
/// readers see the old one or the new one.
/// Temporary files a crash left (`.tmp-*`) are never read as incidents.
public struct FileIncidentStore: IncidentStoring {
    public struct Failure: Error, Sendable, CustomStringConvertible {
        public var description: String
    }

    public let directory: String
    /// The group commit of `open`: one per store, so each store is one committer.
    let openings: IncidentOpenings

    /// The store under `stateDirectory` (its `incidents/` folder is created when missing). The
    /// incidents that a crash lost after they were acknowledged are written again from the log of
    /// openings, which is emptied (each incident it names fsync'ed where it lies) every
    /// `logCompactedAfter` incidents opened.
    public init(stateDirectory: String, logCompactedAfter: Int = 1_000) throws {
        directory = stateDirectory + "/incidents"
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw Failure(description: "cannot create \(directory): \(error.localizedDescription)")
        }
        openings = IncidentOpenings(directory: directory, compactAfter: logCompactedAfter)
        try openings.replayLog()
    }

    public func path(key: String) -> String { directory + "/" + key + ".json" }

    public func open(_ incident: AlertIncident) async throws -> (incident: AlertIncident, created: Bool) {
        try await openings.open(incident)
    }

    /// The batches `open` committed so far in this process (fewer than the incidents opened: they shared fsyncs).
    public var openBatches: Int { openings.batches }

    public var location: String { directory }

    public func keys() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: directory)
            .filter { $0.hasSuffix(".json") && !$0.hasPrefix(".") }.map { String($0.dropLast(5)) }
    }

    public func unavailability() -> String? {
        access(directory, W_OK) == 0 ? nil : "\(directory) is not writable: \(String(cString: strerror(errno)))"
    }

    public func resolve(key: String, at time: String) throws -> AlertIncident? {
        try whileLocked {
            guard var stored = try incident(key: key) else { return nil }
            guard stored.status != .resolved else { return stored }
            stored.status = .resolved
            stored.resolvedAt = time
            try replace(stored)
            return stored
        }
    }

    public func incident(key: String) throws -> AlertIncident? {
        guard let data = FileManager.default.contents(atPath: path(key: key)) else { return nil }
        do {
            return try JSONDecoder().decode(AlertIncident.self, from: data)
        } catch {
            throw Failure(description: "\(path(key: key)) is damaged: \(error)")
        }
    }

    public func all() -> (incidents: [AlertIncident], problems: [String]) {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        var incidents: [AlertIncident] = [], problems: [String] = []
        for name in names where name.hasSuffix(".json") && !name.hasPrefix(".") {
            do {
                if let found = try incident(key: String(name.dropLast(5))) { incidents.append(found) }
            } catch {
                problems.append("\(error)")
            }
        }
        return (incidents, problems)
    }

    /// `incident` written whole and fsync'ed under a fresh temporary name: that name.
    func writeTemporary(_ incident: AlertIncident) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return try writeTemporary(data: try encoder.encode(incident) + Data("\n".utf8))
    }

    /// `data` written whole and fsync'ed under a fresh temporary name of the folder: that name.
    func writeTemporary(data: Data) throws -> String {
        let temporary = directory + "/.tmp-" + UUID().uuidString
        let fd = Foundation.open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw Failure(description: "cannot write in \(directory): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var offset = 0
        let written = data.withUnsafeBytes { bytes -> Bool in
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
        guard written, fsync(fd) == 0 else {
            let error = errno
            unlink(temporary)
            throw Failure(description: "cannot write \(temporary): \(String(cString: strerror(error)))")
        }
        return temporary
    }

    func syncDirectory() throws {
        let fd = Foundation.open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw Failure(description: "cannot open \(directory): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw Failure(description: "cannot sync \(directory): \(String(cString: strerror(errno)))") }
    }

    /// Runs `body` holding the folder's write lock (`.lock`, flock: released with its holder).
    func whileLocked<T>(_ body: () throws -> T) throws -> T {
        let fd = try lockFolder()
        defer { close(fd) }
        return try body()
    }

    /// `whileLocked` for a body that waits (the lock is held across its suspensions).
    func whileLocked<T>(_ body: () async throws -> T) async throws -> T {
        let fd = try lockFolder()
        defer { close(fd) }
        return try await body()
    }

    /// The folder's `.lock`, opened and locked: closing it releases the lock.
    private func lockFolder() throws -> Int32 {
        let fd = Foundation.open(directory + "/.lock", O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw Failure(description: "cannot open \(directory)/.lock: \(String(cString: strerror(errno)))") }
        while flock(fd, LOCK_EX) != 0 {
            guard errno == EINTR else {
                let error = errno
                close(fd)
                throw Failure(description: "cannot lock \(directory)/.lock: \(String(cString: strerror(error)))")
            }
        }
        return fd
    }

    /// `incident` written over its document (call it holding the folder's lock: the temporary
    /// file beside it is named by the process, one writer at a time).
    func replace(_ incident: AlertIncident) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        do {
            try StateFiles.writeAtomically(try encoder.encode(incident) + Data("\n".utf8), to: path(key: incident.key))
        } catch {
            throw Failure(description: "cannot replace \(path(key: incident.key)): \(error)")
        }
    }

    public func update(key: String, _ change: (inout AlertIncident) async throws -> String?) async throws -> IncidentUpdate? {
        try await whileLocked {
            guard var stored = try incident(key: key) else { return nil }
            if let refusal = try await change(&stored) { return .refused(refusal) }
            try replace(stored)
            return .changed(stored)
        }
    }
}
