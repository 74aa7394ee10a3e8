import Foundation

/// Wall time, and the peak resident memory of a child process.
enum Measure {
    static func seconds(_ body: () throws -> Void) rethrows -> Double {
        let start = DispatchTime.now().uptimeNanoseconds
        try body()
        return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    }

    static func seconds(_ body: () async throws -> Void) async rethrows -> Double {
        let start = DispatchTime.now().uptimeNanoseconds
        try await body()
        return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    }

    struct ChildRun {
        var status: Int32
        var seconds: Double
        var peakRSS: Int
    }

    /// Runs a program to completion with stdout/stderr discarded; returns its wall time and its
    /// own peak memory. Memory comes from GNU time (`apt-get install time`), which forks from a
    /// small process: Linux carries a parent's peak RSS across posix_spawn + exec, so wait4 on a
    /// child spawned from this (large) process would report this process's peak instead.
    static func child(_ executable: String, _ arguments: [String]) -> ChildRun? {
        let timeTool = "/usr/bin/time"
        let useTime = FileManager.default.isExecutableFile(atPath: timeTool)
        let report = FileManager.default.temporaryDirectory.appendingPathComponent("medic-bench-rss-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: report) }
        let command = useTime ? [timeTool, "-f", "%M", "-o", report, executable] + arguments : [executable] + arguments
        var pid: pid_t = 0
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        let argv = command.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        let start = DispatchTime.now().uptimeNanoseconds
        guard posix_spawnp(&pid, command[0], &actions, nil, argv, environ) == 0 else { return nil }
        var status: Int32 = 0
        var usage = rusage()
        guard wait4(pid, &status, 0, &usage) == pid else { return nil }
        let elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        var exitStatus = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        var peak = usage.ru_maxrss * 1024
        if useTime, let text = try? String(contentsOfFile: report, encoding: .utf8) {
            // GNU time prefixes "Command exited with non-zero status N" when the child failed.
            let lines = text.split(separator: "\n")
            if let last = lines.last, let kilobytes = Int(last.trimmingCharacters(in: .whitespaces)) { peak = kilobytes * 1024 }
            if let first = lines.first, first.hasPrefix("Command exited with non-zero status"),
               let code = Int32(first.split(separator: " ").last ?? "") { exitStatus = code }
        }
        return ChildRun(status: exitStatus, seconds: elapsed, peakRSS: peak)
    }

    static func megabytes(_ bytes: Int) -> String { String(format: "%.1f MB", Double(bytes) / 1e6) }
}
