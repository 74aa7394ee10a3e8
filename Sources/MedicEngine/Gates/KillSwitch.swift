import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// An operator's switch kept in one file of the state directory, which every Medic process
/// sharing the directory reads before a run: the kill switch (`medic pause` / `resume-all`,
/// `paused.json`) and safe mode (`medic safe-mode on|off`, `safe-mode.json`). Turning it on or
/// off is written to the audit log (`audit.jsonl` by default): who, when, why.
public struct OperatorSwitch: Sendable {
    /// Who turned the switch on, when and why.
    public struct Setting: Sendable, Hashable, Codable {
        public var by: String
        public var reason: String?
        public var at: String

        public init(by: String, reason: String?, at: String) {
            (self.by, self.reason, self.at) = (by, reason, at)
        }
    }

    public let stateDirectory: String
    let file: String
    let onEvent: String
    let offEvent: String
    /// Where each change is recorded.
    let audit: any AuditLog
    var path: String { stateDirectory + "/" + file }

    /// `audit`: nil, the state directory's `audit.jsonl` (`FileAuditLog`).
    public static func killSwitch(stateDirectory: String, audit: (any AuditLog)? = nil) -> OperatorSwitch {
        OperatorSwitch(stateDirectory: stateDirectory, file: "paused.json", onEvent: "paused", offEvent: "resumed",
                       audit: audit ?? FileAuditLog(stateDirectory: stateDirectory))
    }

    public static func safeMode(stateDirectory: String, audit: (any AuditLog)? = nil) -> OperatorSwitch {
        OperatorSwitch(stateDirectory: stateDirectory, file: "safe-mode.json", onEvent: "safe_mode_on", offEvent: "safe_mode_off",
                       audit: audit ?? FileAuditLog(stateDirectory: stateDirectory))
    }

    /// The setting in force, if the switch is on. A file that cannot be read still counts as on:
    /// a damaged switch must not silently let automation through.
    public func status() -> Setting? {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        return (try? JSONDecoder().decode(Setting.self, from: data))
            ?? Setting(by: "unknown", reason: "\(path) is not readable; turn the switch off to remove it", at: "?")
    }

    public func turnOn(by: String, reason: String?, now: Date) async throws {
        let setting = Setting(by: by, reason: reason, at: JournalRecord.timestamp(now))
        try StateFiles.writeAtomically(try JSONEncoder().encode(setting), to: path)
        try await audit.record(["event": onEvent, "by": by, "reason": reason ?? "", "at": setting.at])
    }

    /// Turns the switch off; false when it was off.
    @discardableResult
    public func turnOff(by: String, reason: String? = nil, now: Date) async throws -> Bool {
        guard FileManager.default.fileExists(atPath: path) else { return false }
        guard unlink(path) == 0 else { throw JournalError("cannot remove \(path): \(String(cString: strerror(errno)))") }
        try await audit.record(["event": offEvent, "by": by, "reason": reason ?? "", "at": JournalRecord.timestamp(now)])
        return true
    }
}

/// Gate 1: a paused Medic starts no automated run; a person may go through with `--force`.
public struct KillSwitchGate: Gate {
    public let name = GateID.killSwitch
    public init() {}

    public func evaluate(_ context: GateContext) async -> GateVerdict {
        guard let pause = await context.flags.setting(.killSwitch) else {
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
public enum StateFiles {
    /// Writes `data` to a temporary file beside `path` (mode 0600), fsyncs it, renames it over
    /// `path` and fsyncs the directory: readers see the old content or the new, never a part.
    /// Throws when any of these fails, the folder's fsync included (the new content may then be
    /// in place without being durable). The temporary file is named by the process: one writer
    /// of a path at a time in a process (callers serialise, e.g. under a lock).
    public static func writeAtomically(_ data: Data, to path: String) throws {
        let directory = (path as NSString).deletingLastPathComponent
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let temporary = path + ".tmp-\(getpid())"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw JournalError("cannot write \(temporary): \(String(cString: strerror(errno)))") }
        var offset = 0
        while offset < data.count {
            let n = data.withUnsafeBytes { write(fd, $0.baseAddress! + offset, $0.count - offset) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { break }
            offset += n
        }
        let synced = offset == data.count && fsync(fd) == 0
        close(fd)
        guard synced, rename(temporary, path) == 0 else {
            let error = errno
            unlink(temporary)
            throw JournalError("cannot write \(path): \(String(cString: strerror(error)))")
        }
        let dir = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard dir >= 0 else { throw JournalError("cannot open \(directory) to sync it: \(String(cString: strerror(errno)))") }
        defer { close(dir) }
        guard fsync(dir) == 0 else { throw JournalError("cannot sync \(directory): \(String(cString: strerror(errno)))") }
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
