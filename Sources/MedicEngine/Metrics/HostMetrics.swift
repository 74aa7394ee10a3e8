import Foundation
import MedicModel

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Metrics of the machine Medic runs on, built in and needing no configuration (Linux: `/proc`
/// and `statvfs`).
///
/// - `disk_usage_percent{path="/var"}`: used / (used + available) * 100 of the file system
///   holding the path, as `df` computes it (blocks reserved for root count as neither); path "/"
///   when no label is given.
/// - `disk_free_bytes{path}`: bytes available to unprivileged users on that file system.
/// - `path_size_bytes{path}`: total size of the regular files under the path, recursively,
///   without following the symbolic links found under it (the path itself may be one);
///   directories that cannot be read are skipped; more than `maxEntries` entries is an error.
/// - `memory_available`: bytes, `MemAvailable` of `/proc/meminfo`.
/// - `memory_usage_percent`: (MemTotal - MemAvailable) / MemTotal * 100.
/// - `cpu_usage`: percent of CPU time busy across all CPUs, from two reads of `/proc/stat`
///   100 ms apart (real time).
/// - `load1`: the one-minute load average.
///
/// Another name answers nil. A path that does not exist, or a label the metric does not take,
/// is a `MetricError`.
public struct HostMetrics: MetricSource {
    /// Every name this source answers.
    public static let names = [
        "disk_usage_percent", "disk_free_bytes", "path_size_bytes", "memory_available", "memory_usage_percent",
        "cpu_usage", "load1",
    ]

    /// The most directory entries `path_size_bytes` visits before it gives up.
    public var maxEntries: Int

    public init(maxEntries: Int = 1_000_000) { self.maxEntries = maxEntries }

    public func value(of selector: MetricSelector) async throws -> MetricValue? {
        guard Self.names.contains(selector.name) else { return nil }
        let takesPath = ["disk_usage_percent", "disk_free_bytes", "path_size_bytes"].contains(selector.name)
        for matcher in selector.matchers where !(takesPath && matcher.label == "path" && matcher.op == .equal) {
            throw MetricError(takesPath
                ? "host metric \(selector.name) takes only path=\"...\", not \(matcher.label)\(matcher.op.rawValue)\"\(matcher.value)\""
                : "host metric \(selector.name) takes no labels, found \(matcher.label)")
        }
        let path = selector.equalityLabels["path"]
        switch selector.name {
        case "disk_usage_percent":
            let space = try Self.fileSystemSpace(path ?? "/")
            let total = space.used + space.available
            return .number(total > 0 ? space.used / total * 100 : 0)
        case "disk_free_bytes":
            return .number(try Self.fileSystemSpace(path ?? "/").available)
        case "path_size_bytes":
            guard let path else { throw MetricError("path_size_bytes needs a path: path_size_bytes{path=\"/var/log\"}") }
            let limit = maxEntries
            return .number(try await BlockingWork.run { try Self.totalSize(under: path, maxEntries: limit) })
        case "memory_available":
            return .number(try Self.memory().available)
        case "memory_usage_percent":
            let memory = try Self.memory()
            guard memory.total > 0 else { throw MetricError("/proc/meminfo reports MemTotal 0") }
            return .number((memory.total - memory.available) / memory.total * 100)
        case "cpu_usage":
            let first = try Self.cpuTimes()
            try await Task.sleep(nanoseconds: 100_000_000)
            let second = try Self.cpuTimes()
            let total = second.total - first.total, idle = second.idle - first.idle
            return .number(total > 0 ? max(0, min(100, (total - idle) / total * 100)) : 0)
        case "load1":
            let text = try Self.readWhole("/proc/loadavg")
            guard let first = text.split(separator: " ").first, let load = Double(first) else {
                throw MetricError("cannot read the load average from /proc/loadavg")
            }
            return .number(load)
        default:
            return nil
        }
    }

    // MARK: File systems

    static func fileSystemSpace(_ path: String) throws -> (used: Double, available: Double) {
        var info = statvfs()
        guard statvfs(path, &info) == 0 else { throw pathError(path, errno) }
        let unit = Double(info.f_frsize)
        let used = (Double(info.f_blocks) - Double(info.f_bfree)) * unit
        return (used, Double(info.f_bavail) * unit)
    }

    static func totalSize(under root: String, maxEntries: Int) throws -> Double {
        var info = stat()
        // The path itself may be a link (as with `du -H`); links found under it are not followed.
        guard stat(root, &info) == 0 else { throw pathError(root, errno) }
        if (info.st_mode & S_IFMT) == S_IFREG { return Double(info.st_size) }
        guard (info.st_mode & S_IFMT) == S_IFDIR else { return 0 }
        var total = 0.0, entries = 0
        var pending = [root]
        while let folder = pending.popLast() {
            guard let dir = opendir(folder) else { continue }  // unreadable: skipped, as du goes on
            defer { closedir(dir) }
            while let entry = readdir(dir) {
                let name = withUnsafePointer(to: &entry.pointee.d_name) {
                    String(cString: UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self))
                }
                if name == "." || name == ".." { continue }
                entries += 1
                if entries > maxEntries {
                    throw MetricError("more than \(maxEntries) entries under \(root); measure a smaller folder")
                }
                let child = folder.hasSuffix("/") ? folder + name : folder + "/" + name
                guard lstat(child, &info) == 0 else { continue }  // removed while we walked
                switch info.st_mode & S_IFMT {
                case S_IFREG: total += Double(info.st_size)
                case S_IFDIR: pending.append(child)
                default: break  // symbolic links, devices, sockets: not followed, not counted
                }
            }
        }
        return total
    }

    static func pathError(_ path: String, _ code: Int32) -> MetricError {
        code == ENOENT || code == ENOTDIR
            ? MetricError("path '\(path)' does not exist")
            : MetricError("cannot examine '\(path)': \(String(cString: strerror(code)))")
    }

    // MARK: /proc

    static func memory() throws -> (total: Double, available: Double) {
        var fields: [String: Double] = [:]
        for line in try readWhole("/proc/meminfo").split(separator: "\n") {
            let parts = line.split(whereSeparator: { $0 == ":" || $0 == " " })
            guard parts.count >= 2, let value = Double(parts[1]) else { continue }
            fields[String(parts[0])] = value * (parts.count > 2 && parts[2] == "kB" ? 1024 : 1)
        }
        guard let total = fields["MemTotal"], let available = fields["MemAvailable"] else {
            throw MetricError("/proc/meminfo has no MemTotal or MemAvailable")
        }
        return (total, available)
    }

    /// Jiffies since boot over all CPUs: everything, and idle plus iowait.
    static func cpuTimes() throws -> (total: Double, idle: Double) {
        guard let line = try readWhole("/proc/stat").split(separator: "\n").first(where: { $0.hasPrefix("cpu ") }) else {
            throw MetricError("/proc/stat has no cpu line")
        }
        // user nice system idle iowait irq softirq steal (guest time is already inside user).
        let values = line.split(separator: " ").dropFirst().prefix(8).compactMap { Double($0) }
        guard values.count >= 5 else { throw MetricError("cannot read CPU times from /proc/stat") }
        return (values.reduce(0, +), values[3] + values[4])
    }

    /// Reads a file to its end with read(2): files under /proc report a size of 0.
    static func readWhole(_ path: String) throws -> String {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw MetricError("cannot read \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 8192)
        while true {
            let count = read(fd, &chunk, chunk.count)
            if count > 0 {
                bytes += chunk[0..<count]
            } else if count == 0 || errno != EINTR {
                break
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
