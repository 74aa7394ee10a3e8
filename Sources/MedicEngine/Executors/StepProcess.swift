import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Who a shell step's process is, journaled once it exists (`step_process`), so that a later
/// Medic can find it, and everything it started, after the Medic that ran it was killed — and
/// never mistake an unrelated process that was given the same pid for it.
public struct StepProcess: Sendable, Hashable, Codable {
    /// The process id. For the shell of a step it is also the id of its session and process
    /// group (each step's shell starts a session of its own).
    public var pid: Int32
    /// When the process started, in clock ticks since boot (field 22 of `/proc/PID/stat`): with
    /// `bootID`, what tells this process from a later one with the same pid.
    public var startTicks: UInt64
    /// The kernel's boot id (`/proc/sys/kernel/random/boot_id`); ticks count from that boot.
    public var bootID: String
    /// The step's `MEDIC_STEP` (`RUN/SEQ`, the `seq` of its `step_started`), which the step's
    /// processes and their descendants inherit.
    public var token: String?
    /// Its command line, for people (`/proc/PID/cmdline`, at most 200 bytes).
    public var command: String?

    public init(pid: Int32, startTicks: UInt64, bootID: String, token: String? = nil, command: String? = nil) {
        self.pid = pid
        self.startTicks = startTicks
        self.bootID = bootID
        self.token = token
        self.command = command
    }
}

/// What Linux's `/proc` says of a process.
struct ProcessEntry: Sendable, Equatable {
    var pid: Int32
    /// `R`, `S`, `D`, `Z` (a zombie: ended, not yet reaped), `T` ...
    var state: Character
    var parent: Int32
    var group: Int32
    var session: Int32
    var startTicks: UInt64

    var isAlive: Bool { state != "Z" && state != "X" && state != "x" }

    /// nil when there is no such process (or it ended while being read).
    static func read(_ pid: Int32) -> ProcessEntry? {
        guard let text = ProcFiles.read("/proc/\(pid)/stat", limit: 4096).map({ String(decoding: $0, as: UTF8.self) }),
              let close = text.lastIndex(of: ")") else { return nil }
        // After the command's closing parenthesis: state, ppid, pgrp, session, ... starttime (22nd
        // field of the whole line, the 20th after the command).
        let fields = text[text.index(after: close)...].split(separator: " ")
        guard fields.count > 19, let state = fields[0].first, let parent = Int32(fields[1]), let group = Int32(fields[2]),
              let session = Int32(fields[3]), let start = UInt64(fields[19]) else { return nil }
        return ProcessEntry(pid: pid, state: state, parent: parent, group: group, session: session, startTicks: start)
    }

    /// Every process visible in `/proc` now.
    static func all() -> [Int32] {
        ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap { Int32($0) }
    }
}

enum ProcFiles {
    /// The kernel's boot id, or "" where `/proc` does not have it.
    static let bootID: String = {
        read("/proc/sys/kernel/random/boot_id", limit: 64)
            .map { String(decoding: $0, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines) } ?? ""
    }()

    /// Up to `limit` bytes of a file under `/proc` (whose sizes `stat` does not tell), nil when it
    /// cannot be read.
    static func read(_ path: String, limit: Int) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while bytes.count < limit {
            let count = Glibc.read(fd, &chunk, min(chunk.count, limit - bytes.count))
            if count < 0 && errno == EINTR { continue }
            if count <= 0 { break }
            bytes += chunk[0..<count]
        }
        return bytes
    }

    /// The process's environment as `NAME=value` entries (empty for a zombie or a kernel thread).
    static func environment(_ pid: Int32) -> [Substring] {
        guard let bytes = read("/proc/\(pid)/environ", limit: 1 << 20) else { return [] }
        return String(decoding: bytes, as: UTF8.self).split(separator: "\0")
    }

    static func command(_ pid: Int32) -> String? {
        guard let bytes = read("/proc/\(pid)/cmdline", limit: 200), !bytes.isEmpty else { return nil }
        return String(decoding: bytes.map { $0 == 0 ? UInt8(ascii: " ") : $0 }, as: UTF8.self)
            .trimmingCharacters(in: .whitespaces)
    }
}

extension StepProcess {
    /// The identity of a process that exists now, nil when it does not (or `/proc` is missing).
    static func current(_ pid: Int32, token: String?) -> StepProcess? {
        guard let entry = ProcessEntry.read(pid) else { return nil }
        return StepProcess(pid: pid, startTicks: entry.startTicks, bootID: ProcFiles.bootID, token: token)
    }

    /// The environment variables that mark a step's processes: the run, and the step's
    /// `step_started` (`RUN/SEQ`).
    static let runVariable = "MEDIC_RUN_ID"
    static let stepVariable = "MEDIC_STEP"
}
