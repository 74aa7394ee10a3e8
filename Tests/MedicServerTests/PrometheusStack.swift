import AsyncHTTPClient
import Foundation
import MedicServeTestKit
import Hummingbird
import NIOCore
import NIOHTTP1
import XCTest

/// A real Prometheus and a real Alertmanager (Debian's `prometheus` and
/// `prometheus-alertmanager`), each a process of its own on a loopback port, with its
/// configuration, data and log in the test's folder. Every process is stopped when the test
/// ends, failed or not; when it failed, the tails of their logs (and of `medic serve`'s) are
/// printed for whoever reads the CI log.
final class PrometheusStack: @unchecked Sendable {
    let dir: URL
    let prometheusBinary: String
    let alertmanagerBinary: String
    private(set) var prometheus: StackProcess?
    private(set) var alertmanager: StackProcess?
    private(set) var prometheusURL = ""
    private(set) var alertmanagerURL = ""
    /// The `medic serve` whose stderr is printed with the logs on a failure.
    var medic: ServeProcess?

    /// The query log Prometheus writes (`query_log_file`): every PromQL query it answered, those
    /// of its API with `httpRequest`.
    var queryLog: URL { dir.appendingPathComponent("prometheus-queries.log") }

    /// The binaries, or a skip (a failure when CI=true: .ci/run installs them).
    init(_ test: XCTestCase, in dir: URL, file: StaticString = #filePath, line: UInt = #line) throws {
        self.dir = dir
        prometheusBinary = try Self.require("prometheus", environment: "MEDIC_PROMETHEUS", file: file, line: line)
        alertmanagerBinary = try Self.require("prometheus-alertmanager", environment: "MEDIC_ALERTMANAGER", file: file, line: line)
        test.addTeardownBlock { [self, weak test] in
            // hasSucceeded is false until the run stops, after the teardown: count the failures.
            if (test?.testRun?.totalFailureCount ?? 0) > 0 { print(self.logs()) }
            alertmanager?.stop()
            prometheus?.stop()
        }
    }

    private static func require(_ program: String, environment variable: String, file: StaticString, line: UInt) throws -> String {
        let environment = ProcessInfo.processInfo.environment
        let candidates = environment[variable].map { [$0] }
            ?? ((environment["PATH"] ?? "").split(separator: ":").map(String.init) + ["/usr/bin"]).map { "\($0)/\(program)" }
        if let found = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) { return found }
        let message = "\(program) is not installed (apt-get install prometheus prometheus-alertmanager): "
            + "the Prometheus -> Alertmanager -> Medic test does not run"
        if environment["CI"] == "true" {
            XCTFail(message + ", and CI=true requires it", file: file, line: line)
            throw CancellationError()
        }
        throw XCTSkip(message)
    }

    /// Starts Prometheus scraping `target` every second with `rules` (a rule file's text),
    /// evaluated every second, and waits (up to 3 minutes) until it is ready. No Alertmanager
    /// yet: `sendAlerts(to:)` adds it.
    func startPrometheus(scraping target: String, labels: [String: String], rules: String) async throws {
        let rulesFile = dir.appendingPathComponent("prometheus-rules.yml")
        try rules.write(to: rulesFile, atomically: true, encoding: .utf8)
        let labelLines = labels.sorted { $0.key < $1.key }.map { "          \($0.key): \"\($0.value)\"" }.joined(separator: "\n")
        scrapeConfiguration = """
            global:
              scrape_interval: 1s
              scrape_timeout: 1s
              evaluation_interval: 1s
              query_log_file: \(queryLog.path)
            rule_files: ["\(rulesFile.path)"]
            scrape_configs:
              - job_name: exporter
                static_configs:
                  - targets: ["\(target)"]
                    labels:
            \(labelLines)
            """
        let configuration = dir.appendingPathComponent("prometheus.yml")
        try scrapeConfiguration.write(to: configuration, atomically: true, encoding: .utf8)
        (prometheus, prometheusURL) = try await start("prometheus", prometheusBinary) { port in
            ["--config.file=\(configuration.path)", "--storage.tsdb.path=\(self.dir.appendingPathComponent("prometheus-data").path)",
             "--web.listen-address=127.0.0.1:\(port)", "--web.enable-lifecycle", "--log.level=debug"]
        }
    }

    private var scrapeConfiguration = ""

    /// Starts Alertmanager with one webhook receiver, `webhook`, resolved alerts sent too, and
    /// waits until it is ready.
    func startAlertmanager(webhook: String) async throws {
        let configuration = dir.appendingPathComponent("alertmanager.yml")
        try """
            route:
              receiver: medic
              group_by: [alertname, instance]
              group_wait: 1s
              group_interval: 1s
              repeat_interval: 1h
            receivers:
              - name: medic
                webhook_configs:
                  - url: "\(webhook)"
                    send_resolved: true
            """.write(to: configuration, atomically: true, encoding: .utf8)
        (alertmanager, alertmanagerURL) = try await start("alertmanager", alertmanagerBinary) { port in
            ["--config.file=\(configuration.path)", "--storage.path=\(self.dir.appendingPathComponent("alertmanager-data").path)",
             "--web.listen-address=127.0.0.1:\(port)", "--cluster.listen-address=", "--log.level=debug"]
        }
    }

    /// Points Prometheus at the Alertmanager (its configuration rewritten and reloaded over
    /// `/-/reload`), and waits until Prometheus lists it as active.
    func sendAlerts() async throws {
        let alerting = """

            alerting:
              alertmanagers:
                - static_configs:
                    - targets: ["\(alertmanagerURL.dropFirst("http://".count))"]
            """
        try (scrapeConfiguration + alerting).write(to: dir.appendingPathComponent("prometheus.yml"), atomically: true, encoding: .utf8)
        let reload = await LoopbackHTTP.send(prometheusURL + "/-/reload", method: .POST)
        guard reload?.status == 200 else { throw StackFailure("Prometheus refused to reload its configuration: \(String(describing: reload))") }
        _ = try await LoopbackHTTP.poll("Prometheus to list \(alertmanagerURL) as its Alertmanager") { () async -> Bool? in
            let answer = await LoopbackHTTP.json(self.prometheusURL + "/api/v1/alertmanagers")
            let active = (answer?["data"] as? [String: Any])?["activeAlertmanagers"] as? [[String: Any]] ?? []
            return active.contains { ($0["url"] as? String)?.hasPrefix(self.alertmanagerURL) == true } ? true : nil
        }
    }

    /// Starts `binary` on a free loopback port and waits (up to 3 minutes) for `/-/ready`. A port
    /// another process took between the choice and the bind is chosen again (up to 5 times).
    private func start(_ name: String, _ binary: String, arguments: (Int) -> [String]) async throws -> (StackProcess, String) {
        for attempt in 1...5 {
            let port = try Self.freePort()
            let process = try StackProcess(name: "\(name)-\(attempt)", executable: binary, arguments: arguments(port), in: dir)
            let url = "http://127.0.0.1:\(port)"
            let ready = try await LoopbackHTTP.poll("\(name) to be ready at \(url)\n\(process.tail())", seconds: 180) { () async -> Bool? in
                if await LoopbackHTTP.send(url + "/-/ready")?.status == 200 { return true }
                return process.isRunning ? nil : false
            }
            if ready { return (process, url) }
            let log = process.logText
            process.stop()
            guard log.contains("address already in use") else { throw StackFailure("\(name) exited before it was ready:\n\(process.tail())") }
        }
        throw StackFailure("\(name): no free port in 5 attempts")
    }

    /// A port no socket holds now: bound on 127.0.0.1 port 0, read, closed.
    static func freePort() throws -> Int {
        let socketFD = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard socketFD >= 0 else { throw StackFailure("socket: errno \(errno)") }
        defer { close(socketFD) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { socketAddress in
                bind(socketFD, socketAddress, length) == 0 && getsockname(socketFD, socketAddress, &length) == 0
            }
        }
        guard bound else { throw StackFailure("bind: errno \(errno)") }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// The tails of every log of the stack.
    func logs() -> String {
        var parts = [prometheus, alertmanager].compactMap { $0 }.map { "--- \($0.name) (\($0.log.path)):\n\($0.tail())" }
        if let medic { parts.append("--- medic serve stderr:\n" + medic.stderr.split(separator: "\n").suffix(60).joined(separator: "\n")) }
        return parts.joined(separator: "\n")
    }
}

struct StackFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// A program run as a real process, its standard output and error in one log file.
final class StackProcess: @unchecked Sendable {
    let name: String
    let log: URL
    private let process = Process()

    init(name: String, executable: String, arguments: [String], in dir: URL) throws {
        self.name = name
        log = dir.appendingPathComponent("\(name).log")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        let handle = try FileHandle(forWritingTo: log)
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.currentDirectoryURL = dir
        process.standardOutput = handle
        process.standardError = handle
        process.standardInput = FileHandle.nullDevice
        try process.run()
    }

    var isRunning: Bool { process.isRunning }
    var logText: String { (try? String(contentsOf: log, encoding: .utf8)) ?? "" }
    func tail(_ lines: Int = 40) -> String { logText.split(separator: "\n").suffix(lines).joined(separator: "\n") }

    /// SIGTERM, then SIGKILL if it has not ended within 15 s; returns once it has ended.
    func stop() {
        guard process.isRunning else { return }
        kill(process.processIdentifier, SIGTERM)
        let deadline = Date().addingTimeInterval(15)
        while process.isRunning && Date() < deadline { usleep(50_000) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }
}

/// An exporter of one gauge, `medic_test_queue_stuck`, in the Prometheus text format at
/// `GET /metrics`, on 127.0.0.1 (a port the system chose). Its value is read at every scrape
/// from `gauge`, a file the test and the playbook's shell step write.
final class QueueExporter: @unchecked Sendable {
    static let metric = "medic_test_queue_stuck"
    private(set) var port = 0

    init(_ test: XCTestCase, gauge: URL) async throws {
        let router = Router()
        router.get("/metrics") { _, _ in
            let value = ((try? String(contentsOf: gauge, encoding: .utf8)) ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
            let text = """
                # HELP \(Self.metric) 1 while the queue is stuck, 0 when it flows.
                # TYPE \(Self.metric) gauge
                \(Self.metric) \(Double(value) == nil ? "NaN" : value)

                """
            var headers = HTTPFields()
            headers[.contentType] = "text/plain; version=0.0.4; charset=utf-8"
            return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
        }
        let bound = AsyncStream<Int>.makeStream()
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
                              onServerRunning: { bound.continuation.yield($0.localAddress?.port ?? 0); bound.continuation.finish() })
        let task = Task { try? await app.run() }
        for await chosen in bound.stream { port = chosen }
        test.addTeardownBlock { task.cancel() }
    }
}

/// Plain HTTP to the loopback processes of the test; an answer, or nil when nothing answered.
enum LoopbackHTTP {
    struct Answer {
        var status: Int
        var body: String
    }

    static func send(_ url: String, method: HTTPMethod = .GET) async -> Answer? {
        var request = HTTPClientRequest(url: url)
        request.method = method
        do {
            let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
            let body = try await response.body.collect(upTo: 16 << 20)
            return Answer(status: Int(response.status.code), body: String(buffer: body))
        } catch {
            return nil
        }
    }

    /// The JSON object answered with a 200, or nil.
    static func json(_ url: String) async -> [String: Any]? {
        guard let answer = await send(url), answer.status == 200 else { return nil }
        return (try? JSONSerialization.jsonObject(with: Data(answer.body.utf8))) as? [String: Any]
    }

    /// Polls `probe` every 250 ms until it gives a value; fails after `seconds`. The bounds are
    /// generous: they only end a test that would otherwise hang.
    static func poll<T>(_ what: @autoclosure () -> String, seconds: Double = 300, _ probe: () async throws -> T?) async throws -> T {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if let value = try await probe() { return value }
            try await Task.sleep(nanoseconds: 250_000_000)
        }
        throw StackFailure("waited \(Int(seconds)) s for \(what())")
    }
}
