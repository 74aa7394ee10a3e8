import Foundation
import Hummingbird
import NIOCore

/// `serve-throughput`: requests accepted durably by a release `medic serve`, driven by `wrk`
/// (with a Lua script writing a distinct body for each request), interleaved round by round
/// with the floor: a bare Hummingbird route in this process that reads the same body and
/// answers 200 with nothing stored. Three loads:
/// - `alerts-new`: every post a new alert (an unhandled one: no run starts), so each is one
///   incident made durable;
/// - `alerts-storm`: posts over 50 groups of 3 alerts, as the storm test sends them (almost all
///   repeats: the incident exists);
/// - `events`: every post a new immune event.
/// Reported: requests/s, p99 latency, non-2xx answers, and the ratio to the floor. With
/// `--baseline PATH`, another `medic` binary (an older build, say) is measured in the same
/// rounds, between the floor and this one.
enum ServeThroughputBenchmark {
    static let loads = ["alerts-new", "alerts-storm", "events"]

    static func run(seconds: Int, connections: Int, threads: Int, rounds: Int, baseline: String?) async throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/wrk") else { fatalError("serve-throughput needs wrk (apt-get install wrk)") }
        let dir = try scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let scripts = try writeScripts(in: dir)
        let echo = try await EchoServer.start()
        var results: [String: [String: [WrkResult]]] = [:]
        for round in 1...rounds {
            // A fresh state for each round, so each starts from an empty store.
            let serve = try ServeChild(binary: medicBinary, directory: dir.appendingPathComponent("round-\(round)"))
            defer { serve.stop() }
            let peer = try baseline.map { try ServeChild(binary: $0, directory: dir.appendingPathComponent("baseline-\(round)")) }
            defer { peer?.stop() }
            var servers = [("floor", echo.baseURL), ("medic", serve.baseURL)]
            if let peer { servers.insert(("baseline", peer.baseURL), at: 1) }
            for load in loads {
                for (name, base) in servers {
                    let path = load == "events" ? "/api/v1/events" : "/api/v1/alerts"
                    let result = try wrk(base + path, script: scripts[load]!, seconds: seconds, connections: connections, threads: threads)
                    results[load, default: [:]][name, default: []].append(result)
                    if !json {
                        FileHandle.standardError.write(Data("  round \(round) \(load) \(name): \(Int(result.requestsPerSecond)) req/s, p99 \(result.p99Milliseconds) ms, non-2xx \(result.errors)\n".utf8))
                    }
                }
            }
            serve.stop()
            peer?.stop()
        }
        echo.stop()
        var fields: [(String, Any)] = [("seconds_per_measure", seconds), ("connections", connections), ("rounds", rounds),
                                       ("load_average", loadAverage())]
        var lines = ["serve-throughput: wrk -t\(threads) -c\(connections) -d\(seconds)s, \(rounds) rounds interleaved (floor, medic), load average \(loadAverage())"]
        for load in loads {
            let floor = median(results[load]?["floor"] ?? []), medic = median(results[load]?["medic"] ?? [])
            let ratio = floor.requestsPerSecond > 0 ? medic.requestsPerSecond / floor.requestsPerSecond : 0
            if baseline != nil {
                let old = median(results[load]?["baseline"] ?? [])
                fields.append((load + "_baseline", ["requests_per_second": old.requestsPerSecond, "p99_ms": old.p99Milliseconds,
                                                    "non_2xx": (results[load]?["baseline"] ?? []).map(\.errors).reduce(0, +)]))
                lines.append(String(format: "  %-13@ baseline %7.0f req/s p99 %6.1f ms | non-2xx %d", load as NSString, old.requestsPerSecond,
                                    old.p99Milliseconds, (results[load]?["baseline"] ?? []).map(\.errors).reduce(0, +)))
            }
            fields.append((load, ["medic_requests_per_second": medic.requestsPerSecond, "medic_p99_ms": medic.p99Milliseconds,
                                  "medic_non_2xx": (results[load]?["medic"] ?? []).map(\.errors).reduce(0, +),
                                  "floor_requests_per_second": floor.requestsPerSecond, "floor_p99_ms": floor.p99Milliseconds,
                                  "ratio_to_floor": ratio]))
            lines.append(String(format: "  %-13@ medic %7.0f req/s p99 %6.1f ms | floor %7.0f req/s p99 %6.1f ms | ratio %.2f | medic non-2xx %d",
                                load as NSString, medic.requestsPerSecond, medic.p99Milliseconds, floor.requestsPerSecond, floor.p99Milliseconds,
                                ratio, (results[load]?["medic"] ?? []).map(\.errors).reduce(0, +)))
        }
        report("serve-throughput", fields, lines: lines)
    }

    struct WrkResult {
        var requestsPerSecond: Double
        var p99Milliseconds: Double
        var errors: Int
    }

    /// The round with the median requests/s.
    static func median(_ results: [WrkResult]) -> WrkResult {
        let sorted = results.sorted { $0.requestsPerSecond < $1.requestsPerSecond }
        return sorted.isEmpty ? WrkResult(requestsPerSecond: 0, p99Milliseconds: 0, errors: 0) : sorted[sorted.count / 2]
    }

    static func loadAverage() -> String {
        ((try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8)) ?? "").split(separator: " ").prefix(3).joined(separator: " ")
    }

    static func wrk(_ url: String, script: String, seconds: Int, connections: Int, threads: Int) throws -> WrkResult {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/wrk")
        process.arguments = ["-t\(threads)", "-c\(connections)", "-d\(seconds)s", "--latency", "-s", script, url]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        try process.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        var result = WrkResult(requestsPerSecond: 0, p99Milliseconds: 0, errors: 0)
        for line in output.split(separator: "\n").map({ $0.trimmingCharacters(in: .whitespaces) }) {
            let words = line.split(separator: " ", omittingEmptySubsequences: true)
            if line.hasPrefix("Requests/sec:"), let value = words.last.flatMap({ Double($0) }) { result.requestsPerSecond = value }
            if line.hasPrefix("99%"), let value = words.last { result.p99Milliseconds = milliseconds(String(value)) }
            if line.hasPrefix("Non-2xx or 3xx responses:"), let value = words.last.flatMap({ Int($0) }) { result.errors += value }
            if line.hasPrefix("Socket errors:") { result.errors += line.split(whereSeparator: { !$0.isNumber }).compactMap { Int($0) }.reduce(0, +) }
        }
        return result
    }

    /// wrk's durations: `812.00us`, `3.21ms`, `1.02s`, `2.00m`.
    static func milliseconds(_ text: String) -> Double {
        for (unit, factor) in [("us", 0.001), ("ms", 1.0), ("s", 1000.0), ("m", 60_000.0)] where text.hasSuffix(unit) {
            if let value = Double(text.dropLast(unit.count)) { return value * factor }
        }
        return 0
    }

    /// The Lua scripts: each wrk thread numbers its requests, so every body is distinct.
    static func writeScripts(in dir: URL) throws -> [String: String] {
        let common = """
            local threads = 0
            function setup(thread) thread:set("tid", threads); threads = threads + 1 end
            local n = 0
            local nonce = tostring(os.time()) .. tostring(math.random(1000000))
            wrk.method = "POST"
            wrk.headers["Content-Type"] = "application/json"

            """
        let alert = #"'{"status":"firing","labels":{"alertname":"Bench","job":"' .. job .. '","probe":"' .. probe .. '"},"annotations":{},"startsAt":"' .. starts .. '","endsAt":"0001-01-01T00:00:00Z","generatorURL":"","fingerprint":"' .. fp .. '"}'"#
        let payload = #"'{"version":"4","groupKey":"' .. group .. '","truncatedAlerts":0,"status":"firing","receiver":"bench","groupLabels":{},"commonLabels":{},"commonAnnotations":{},"externalURL":"","alerts":[' .. alert .. ']}'"#
        let scripts = [
            "alerts-new": common + """
                function request()
                  n = n + 1
                  local fp = string.format("%s%x%x", nonce, tid, n)
                  local job, probe, group, starts = "svc", "p", "g" .. tid, "2026-12-06T05:00:00Z"
                  local alert = \(alert)
                  return wrk.format(nil, nil, nil, \(payload))
                end
                """,
            "alerts-storm": common + """
                function request()
                  n = n + 1
                  local g = math.random(0, 49)
                  local m = math.random(0, 2)
                  local fp = string.format("%08x%08x", g, m)
                  local job, probe, group = "svc-" .. g, "p" .. m, "{}:{job=svc-" .. g .. "}"
                  local starts = string.format("2026-12-06T05:00:00.%03dZ", m)
                  local alert = \(alert)
                  return wrk.format(nil, nil, nil, \(payload))
                end
                """,
            "events": common + """
                function request()
                  n = n + 1
                  local body = '{"id":"evt-' .. nonce .. '-' .. tid .. '-' .. n .. '","agent_id":"agent-' .. tid .. '","severity":"WARNING","type":"ERROR_SPIKE","message":"spike ' .. n .. '"}'
                  return wrk.format(nil, nil, nil, body)
                end
                """,
        ]
        var paths: [String: String] = [:]
        for (name, text) in scripts {
            let path = dir.appendingPathComponent("\(name).lua").path
            try text.write(toFile: path, atomically: true, encoding: .utf8)
            paths[name] = path
        }
        return paths
    }
}

/// The floor: a bare Hummingbird server in this process whose one route reads the body and
/// answers `200 {}`: the HTTP work of a post without any of Medic's.
struct EchoServer {
    let baseURL: String
    let task: Task<Void, any Error>

    static func start() async throws -> EchoServer {
        let router = Router()
        router.post("/api/v1/alerts") { request, _ in try await echo(request) }
        router.post("/api/v1/events") { request, _ in try await echo(request) }
        let (stream, continuation) = AsyncStream.makeStream(of: Int.self)
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
                              onServerRunning: { channel in continuation.yield(channel.localAddress?.port ?? 0) })
        let task = Task { try await app.runService(gracefulShutdownSignals: []) }
        var port = 0
        for await bound in stream {
            port = bound
            break
        }
        return EchoServer(baseURL: "http://127.0.0.1:\(port)", task: task)
    }

    static func echo(_ request: Request) async throws -> Response {
        _ = try await request.body.collect(upTo: 1 << 20)
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(string: "{}\n")))
    }

    /// Cancels the server; not awaited: Hummingbird's shutdown on cancellation can wait on a
    /// connection wrk left open, and the process ends after the report anyway.
    func stop() {
        task.cancel()
    }
}

/// A release `medic serve` (`binary`: the one beside MedicBench, or `--baseline`) on a free port, with an empty library.
final class ServeChild {
    let process = Process()
    let baseURL: String

    /// `extra`: more arguments for `medic serve`.
    init(binary: String, directory: URL, extra: [String] = []) throws {
        try FileManager.default.createDirectory(at: directory.appendingPathComponent("playbooks"), withIntermediateDirectories: true)
        let output = directory.appendingPathComponent("serve.out")
        _ = FileManager.default.createFile(atPath: output.path, contents: nil)
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = ["serve", "--listen", "127.0.0.1:0", "--root", directory.path, "--state-dir", directory.appendingPathComponent("state").path,
                             "--no-rules", "--log-level", "error"] + extra
        process.currentDirectoryURL = directory
        process.standardOutput = try FileHandle(forWritingTo: output)
        process.standardError = FileHandle.nullDevice
        try process.run()
        let deadline = Date().addingTimeInterval(60)
        var found: String?
        while found == nil, Date() < deadline, process.isRunning {
            let text = (try? String(contentsOf: output, encoding: .utf8)) ?? ""
            found = text.split(separator: "\n").first { $0.hasPrefix("medic serve: listening on ") }.map { String($0.dropFirst("medic serve: listening on ".count)) }
            if found == nil { usleep(50_000) }
        }
        guard let found else { fatalError("medic serve did not start (\(binary))") }
        baseURL = found
    }

    func stop() {
        guard process.isRunning else { return }
        process.terminate()
        process.waitUntilExit()
    }
}
