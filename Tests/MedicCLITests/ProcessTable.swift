import Foundation

/// What Linux's /proc says of processes, for tests that check which are still alive.
enum ProcessTable {
    /// The fields of `/proc/PID/stat` after the command (state, ppid, pgrp, session ...), nil when
    /// there is no such process. Read to the end: /proc files report a size of 0, so a read by
    /// size (`String(contentsOfFile:)`) gets nothing and would make every process look gone.
    static func stat(_ pid: Int32) -> [Substring]? {
        guard let handle = FileHandle(forReadingAtPath: "/proc/\(pid)/stat") else { return nil }
        defer { try? handle.close() }
        let text = String(decoding: (try? handle.readToEnd()) ?? Data(), as: UTF8.self)
        guard let close = text.lastIndex(of: ")") else { return nil }
        return text[text.index(after: close)...].split(separator: " ")
    }

    /// Alive: it exists and is not a zombie.
    static func isAlive(_ pid: Int32) -> Bool {
        guard let fields = stat(pid), let state = fields.first else { return false }
        return state != "Z" && state != "X"
    }

    /// The live processes of session `sid`.
    static func members(ofSession sid: Int32) -> [Int32] {
        let pids = ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap { Int32($0) }
        return pids.filter { pid in
            guard let fields = stat(pid), fields.count > 3 else { return false }
            return Int32(fields[3]) == sid && fields[0] != "Z"
        }
    }
}
