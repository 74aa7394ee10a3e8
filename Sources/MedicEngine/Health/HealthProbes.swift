import AsyncHTTPClient
import Foundation
import MedicModel
import NIOCore
import NIOHTTP1

#if canImport(Glibc)
import Glibc
#endif

/// What one run of a check found: passed or not, why, how long its last attempt took and how
/// many attempts it made (1 + the retries it needed).
public struct ProbeOutcome: Sendable, Hashable, Codable {
    public var passed: Bool
    public var detail: String
    public var seconds: Double
    public var attempts: Int

    public init(passed: Bool, detail: String, seconds: Double = 0, attempts: Int = 1) {
        self.passed = passed
        self.detail = detail
        self.seconds = seconds
        self.attempts = attempts
    }
}

/// Carries out the probes of health checks. Each attempt is bounded by the check's timeout,
/// except a metrics check, whose readings are bounded by their metric source's own timeout
/// (the built-in `cpu_usage` alone takes 100 ms to read).
public struct HealthProbes: Sendable {
    /// Runs `statement` on the PostgreSQL server at `url` within `timeout` seconds, throwing
    /// when it cannot. The engine has no PostgreSQL client of its own: the `medic` binary gives
    /// the one of MedicPostgres; without it a postgres check fails saying so.
    public typealias PostgresStatement = @Sendable (_ url: String, _ statement: String, _ timeout: Double) async throws -> Void

    public var http: EngineHTTPClient
    public var metrics: MetricRegistry
    public var postgres: PostgresStatement?
    public var runningSteps: RunningSteps?

    public init(http: EngineHTTPClient = EngineHTTPClient(), metrics: MetricRegistry = MetricRegistry(config: nil),
                postgres: PostgresStatement? = nil, runningSteps: RunningSteps? = nil) {
        self.http = http
        self.metrics = metrics
        self.postgres = postgres
        self.runningSteps = runningSteps
    }

    /// Runs the check: a first attempt, then up to `retries` more at once while it fails.
    public func run(_ check: HealthCheckDefinition) async -> ProbeOutcome {
        var outcome = ProbeOutcome(passed: false, detail: "not run")
        for attempt in 1...(check.retries + 1) {
            let started = ContinuousClock.now
            var result = await once(check)
            let elapsed = ContinuousClock.now - started
            result.seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            result.attempts = attempt
            outcome = result
            if result.passed || Task.isCancelled { break }
        }
        return outcome
    }

    func once(_ check: HealthCheckDefinition) async -> ProbeOutcome {
        switch check.probe {
        case .http(let url, let method, let statuses, let body, let maxLatency):
            return await http(url: url, method: method, statuses: statuses, body: body, maxLatency: maxLatency, timeout: check.timeout)
        case .tcp(let host, let port):
            return await Self.bounded(seconds: check.timeout, what: "connecting to \(host):\(port)") {
                try await BlockingWork.run { try TCPProbe.connect(host: host, port: port, timeout: check.timeout) }
                return ProbeOutcome(passed: true, detail: "\(host):\(port) accepted a connection")
            }
        case .process(let name, let pidFile):
            return ProcessProbe.check(name: name, pidFile: pidFile)
        case .command(let script):
            let command = ShellCommand(script: script, timeout: check.timeout, gracePeriod: 1, outputLimit: 4096)
            do {
                _ = try await ShellExecutor.output(of: command, what: "the command", running: runningSteps)
                return ProbeOutcome(passed: true, detail: "the command exited 0")
            } catch {
                return ProbeOutcome(passed: false, detail: "\(error)")
            }
        case .metrics(let bounds):
            return await metricBounds(bounds)
        case .postgres(let url, let statement):
            guard let postgres else { return ProbeOutcome(passed: false, detail: "this Medic has no PostgreSQL client for '\(statement)'") }
            return await Self.bounded(seconds: check.timeout, what: statement) {
                try await postgres(url, statement, check.timeout)
                return ProbeOutcome(passed: true, detail: "'\(statement)' answered")
            }
        case .notRun(let reason):
            return ProbeOutcome(passed: false, detail: "not run: \(reason)")
        }
    }

    private func http(url: String, method: String, statuses: [Int], body: String?, maxLatency: Double?, timeout: Double) async -> ProbeOutcome {
        var request = HTTPClientRequest(url: url)
        request.method = HTTPMethod(rawValue: method)
        let started = ContinuousClock.now
        switch await HTTPExchange.perform(request, through: self.http, timeout: timeout, keepingLast: 64 << 10) {
        case .failed(let summary, _):
            return ProbeOutcome(passed: false, detail: summary)
        case .answered(let status, let tail):
            let elapsed = ContinuousClock.now - started
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            guard statuses.contains(status) else {
                return ProbeOutcome(passed: false, detail: "\(method) \(url) answered \(status), expected \(statuses.map(String.init).joined(separator: " or "))")
            }
            if let body, !tail.text.contains(body) {
                return ProbeOutcome(passed: false, detail: "\(method) \(url) answered \(status) without '\(body)' in its body")
            }
            if let maxLatency, seconds > maxLatency {
                return ProbeOutcome(passed: false, detail: "\(method) \(url) answered in \(Interval.trim(seconds))s, over \(Interval.trim(maxLatency))s")
            }
            return ProbeOutcome(passed: true, detail: "\(method) \(url) answered \(status)")
        }
    }

    private func metricBounds(_ bounds: [HealthCheckDefinition.MetricBound]) async -> ProbeOutcome {
        var seen: [String] = []
        for item in bounds {
            let selector = MetricSelector(name: item.metric, matchers: item.labels.sorted { $0.key < $1.key }
                .map { MetricSelector.LabelMatcher(label: $0.key, op: .equal, value: $0.value) })
            let value: MetricValue
            do {
                value = try await metrics.value(of: selector)
            } catch {
                return ProbeOutcome(passed: false, detail: "\(item.key): \(error)")
            }
            guard case .number(let number) = value else { return ProbeOutcome(passed: false, detail: "\(item.key) is \(value), not a number") }
            guard item.bound.op.holds(number, item.bound.value.magnitude) else {
                return ProbeOutcome(passed: false, detail: "\(item.key) is \(value), not \(item.bound)")
            }
            seen.append("\(item.key) \(value) \(item.bound)")
        }
        return ProbeOutcome(passed: true, detail: seen.joined(separator: ", "))
    }

    /// `body`'s outcome, or a failure saying it took longer than `seconds` (or threw).
    static func bounded(seconds: Double, what: String, _ body: @escaping @Sendable () async throws -> ProbeOutcome) async -> ProbeOutcome {
        await withTaskGroup(of: ProbeOutcome?.self) { group in
            group.addTask {
                do { return try await body() } catch { return ProbeOutcome(passed: false, detail: "\(what): \(error)") }
            }
            group.addTask {
                do { try await Task.sleep(for: .seconds(seconds)) } catch { return nil }
                return ProbeOutcome(passed: false, detail: "\(what) timed out after \(Interval.trim(seconds))s")
            }
            for await outcome in group {
                if let outcome {
                    group.cancelAll()
                    return outcome
                }
            }
            return ProbeOutcome(passed: false, detail: "cancelled")
        }
    }
}

/// A TCP connection opened and closed, with a bounded wait.
enum TCPProbe {
    struct Failure: Error, CustomStringConvertible { var description: String }

    static func connect(host: String, port: Int, timeout: Double) throws {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, String(port), &hints, &list)
        guard status == 0, let first = list else { throw Failure(description: "cannot resolve \(host): \(String(cString: gai_strerror(status)))") }
        defer { freeaddrinfo(list) }
        var lastError = "no address"
        var entry: UnsafeMutablePointer<addrinfo>? = first
        while let info = entry {
            entry = info.pointee.ai_next
            let fd = socket(info.pointee.ai_family, info.pointee.ai_socktype | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), info.pointee.ai_protocol)
            guard fd >= 0 else { continue }
            defer { close(fd) }
            if Glibc.connect(fd, info.pointee.ai_addr, info.pointee.ai_addrlen) == 0 { return }
            guard errno == EINPROGRESS else {
                lastError = String(cString: strerror(errno))
                continue
            }
            var poller = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
            let ready = poll(&poller, 1, Int32(max(1, min(timeout * 1000, 86_400_000))))
            guard ready > 0 else {
                lastError = ready == 0 ? "no answer within \(Interval.trim(timeout))s" : String(cString: strerror(errno))
                continue
            }
            var error: Int32 = 0
            var length = socklen_t(MemoryLayout<Int32>.size)
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length)
            if error == 0 { return }
            lastError = String(cString: strerror(error))
        }
        throw Failure(description: "\(host):\(port): \(lastError)")
    }
}

/// Whether a process runs: the pid its pid file holds, or any process of that name (`/proc`).
enum ProcessProbe {
    static func check(name: String, pidFile: String?) -> ProbeOutcome {
        if let pidFile {
            guard let text = try? String(contentsOfFile: pidFile, encoding: .utf8) else {
                return ProbeOutcome(passed: false, detail: "cannot read the pid file \(pidFile)")
            }
            guard let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)), pid > 0 else {
                return ProbeOutcome(passed: false, detail: "the pid file \(pidFile) holds no pid")
            }
            guard kill(pid, 0) == 0 || errno == EPERM else {
                return ProbeOutcome(passed: false, detail: "\(name): no process \(pid) (from \(pidFile))")
            }
            return ProbeOutcome(passed: true, detail: "\(name) runs as pid \(pid)")
        }
        // The kernel keeps the first 15 bytes of a name in `comm`.
        let wanted = String(decoding: Array(name.utf8.prefix(15)), as: UTF8.self)
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        for entry in entries where entry.allSatisfy(\.isNumber) {
            guard let comm = try? String(contentsOfFile: "/proc/\(entry)/comm", encoding: .utf8) else { continue }
            if comm.trimmingCharacters(in: .newlines) == wanted { return ProbeOutcome(passed: true, detail: "\(name) runs as pid \(entry)") }
        }
        return ProbeOutcome(passed: false, detail: "no process named \(name)")
    }
}
