import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// `medic pause` / `medic resume-all`: one file in the state directory, `paused.json`, that every
/// Medic process sharing the directory reads before a run. Its decisions go to `audit.jsonl`.
public struct KillSwitch: Sendable {
    public struct Pause: Sendable, Hashable, Codable {
        public var by: String
        public var reason: String?
        public var at: String
    }

    public let stateDirectory: String
    var path: String { stateDirectory + "/paused.json" }

    public init(stateDirectory: String) { self.stateDirectory = stateDirectory }

    /// The pause in force, if any. A file that cannot be read as a pause still counts as one:
    /// a damaged kill switch must not silently let automation through.
    public func status() -> Pause? {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        return (try? JSONDecoder().decode(Pause.self, from: data))
            ?? Pause(by: "unknown", reason: "\(path) is not readable as a pause; remove it with `medic resume-all`", at: "?")
    }

    public func pause(by: String, reason: String?, now: Date = Date()) throws {
        let pause = Pause(by: by, reason: reason, at: JournalRecord.timestamp(now))
        try StateFiles.writeAtomically(try JSONEncoder().encode(pause), to: path)
        try StateFiles.audit(in: stateDirectory, ["event": "paused", "by": by, "reason": reason ?? "", "at": pause.at])
    }

    /// Lifts the pause; false when there was none.
    @discardableResult
    public func resume(by: String, reason: String? = nil, now: Date = Date()) throws -> Bool {
        guard FileManager.default.fileExists(atPath: path) else { return false }
        guard unlink(path) == 0 else { throw JournalError("cannot remove \(path): \(String(cString: strerror(errno)))") }
        try StateFiles.audit(in: stateDirectory, ["event": "resumed", "by": by, "reason": reason ?? "", "at": JournalRecord.timestamp(now)])
        return true
    }
}

/// Gate 1: a paused Medic starts no automated run; a person may go through with `--force`.
public struct KillSwitchGate: Gate {
    public let name = "kill_switch"
    public init() {}

    public func evaluate(_ context: GateContext) -> GateVerdict {
        guard let pause = KillSwitch(stateDirectory: context.stateDirectory).status() else {
            return .pass(name, "not paused")
        }
        let why = "Medic is paused (by \(pause.by) at \(pause.at)\(pause.reason.map { ": \($0)" } ?? ""))"
        if context.mode == .manual && context.force {
            return .pass(name, why + "; this manual run goes through with --force")
        }
        return .refuse(name, why + (context.mode == .manual
            ? "; `medic resume-all --by NAME` lifts it, or run with --force"
            : "; automated runs start again after `medic resume-all --by NAME`"))
    }
}

/// Small durable files of the state directory.
enum StateFiles {
    /// Writes `data` to a temporary file beside `path`, fsyncs it, renames it over `path` and
    /// fsyncs the directory: readers see the old content or the new, never a part.
    static func writeAtomically(_ data: Data, to path: String) throws {
        let directory = (path as NSString).deletingLastPathComponent
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let temporary = path + ".tmp-\(getpid())"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw JournalError("cannot write \(temporary): \(String(cString: strerror(errno)))") }
        let written = data.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        let synced = fsync(fd) == 0
        close(fd)
        guard written == data.count, synced, rename(temporary, path) == 0 else {
            unlink(temporary)
            throw JournalError("cannot write \(path): \(String(cString: strerror(errno)))")
        }
        let dir = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dir >= 0 { _ = fsync(dir); close(dir) }
    }

    /// Appends one audit record (who, when, what, why) to `<state>/audit.jsonl`, fsync'ed.
    static func audit(in stateDirectory: String, _ fields: [String: String]) throws {
        try FileManager.default.createDirectory(atPath: stateDirectory, withIntermediateDirectories: true)
        let path = stateDirectory + "/audit.jsonl"
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let line = try encoder.encode(fields) + Data("\n".utf8)
        let fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw JournalError("cannot open \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        let written = line.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        guard written == line.count, fsync(fd) == 0 else {
            throw JournalError("cannot write the audit log \(path): \(String(cString: strerror(errno)))")
        }
    }
}
