import AsyncHTTPClient
import Foundation
import MedicServeTestKit
import NIOCore
import XCTest

/// `medic serve` as a real process under abuse, over real HTTP: bodies that are not what the
/// route takes, huge bodies, unknown routes, clients that never finish their headers, and many
/// concurrent clients. Each gets its error code, and the server never stops answering.
final class AbuseTests: XCTestCase {
    func testBadBodiesHugeBodiesAndUnknownRoutesGetTheirCodesAndTheServerGoesOn() async throws {
        let ws = try StormWorkspace(self, config: AlertStormTests.config)
        let serve = try await ServeProcess(self, in: ws.dir, arguments: ws.arguments)
        for route in ["/api/v1/alerts", "/api/v1/events"] {
            for body in ["{", "not json", "[1, 2", "\"\u{0}\"", "{\"version\": 4}", "{\"severity\": 1, \"type\": [], \"message\": {}}", "[]", "null"] {
                let answer = try await serve.post(route, body: Data(body.utf8))
                XCTAssertEqual(answer.status, 400, "\(route) \(body): \(answer.body)")
                XCTAssertNotNil(answer.json["error"] as? String, answer.body)
            }
            let wrongType = try await serve.post(route, body: Data("{}".utf8), contentType: "text/plain")
            XCTAssertEqual(wrongType.status, 415, wrongType.body)
            let huge = Data(repeating: UInt8(ascii: " "), count: (1 << 20) + 1)
            let tooLarge = try await serve.post(route, body: huge)
            XCTAssertEqual(tooLarge.status, 413, tooLarge.body)
            let streamed = try await Self.postWithoutLength(serve.baseURL + route, bytes: (1 << 20) + 4096)
            XCTAssertEqual(streamed, 413, "a body without a length is read only up to the limit")
        }
        let wrongField = try await serve.post("/api/v1/alerts", body: Data(#"{"version": 4, "groupKey": "g", "status": "firing", "receiver": "r", "alerts": []}"#.utf8))
        XCTAssertEqual(wrongField.status, 400, wrongField.body)
        XCTAssertEqual(wrongField.json["field"] as? String, "version", wrongField.body)
        for path in ["/no-such-route", "/api/v1/no-such-route", "/api/v2/alerts", "/../../etc/passwd"] {
            let unknown = try await serve.get(path)
            XCTAssertEqual(unknown.status, 404, "\(path): \(unknown.body)")
        }
        let unknownPost = try await serve.post("/api/v1/no-such-route", body: Data("{}".utf8))
        XCTAssertEqual(unknownPost.status, 404, unknownPost.body)
        XCTAssertTrue(serve.process.isRunning)
        let health = try await serve.get("/healthz")
        XCTAssertEqual(health.status, 200)
        let listed = try await serve.get("/api/v1/incidents")
        XCTAssertEqual((listed.json["incidents"] as? [Any])?.count, 0, "no bad request opened an incident: \(listed.body)")
        XCTAssertEqual(ws.journals, [], "no bad request started a run")
    }

    func testClientsThatNeverFinishTheirHeadersAreClosedWhileOthersAreServed() async throws {
        let ws = try StormWorkspace(self, config: AlertStormTests.config)
        let serve = try await ServeProcess(self, in: ws.dir, arguments: ws.arguments + ["--idle-timeout", "2"])
        let port = try XCTUnwrap(URL(string: serve.baseURL)?.port)
        let slow = try (0..<10).map { _ in try SlowClient(port: UInt16(port)) }
        addTeardownBlock { slow.forEach { $0.stop() } }
        // Served meanwhile, while the slow clients hold their connections.
        for index in 0..<20 {
            let health = try await serve.get("/healthz", timeout: 30)
            XCTAssertEqual(health.status, 200)
            let post = try await serve.post("/api/v1/alerts", body: AlertStormTests.post(group: index, members: [0]))
            XCTAssertEqual(post.status, 200, post.body)
        }
        XCTAssertTrue(slow.allSatisfy { $0.bytesSent > 0 }, "the slow clients were sending")
        // Each slow connection is closed by the server (the client never stops sending).
        _ = try await ServeProcess.poll("the server to close the slow connections", seconds: 60) { slow.allSatisfy(\.closedByServer) ? true : nil }
        let health = try await serve.get("/healthz")
        XCTAssertEqual(health.status, 200)
        XCTAssertTrue(serve.process.isRunning)
    }

    func testTwoHundredConcurrentClientsStoreEachImmuneEventExactlyOnce() async throws {
        let ws = try StormWorkspace(self, config: AlertStormTests.config)
        let serve = try await ServeProcess(self, in: ws.dir, arguments: ws.arguments)
        let clients = 200, events = 5_000
        var generator = SeededGenerator(seed: 200)
        // Each event once, and one in ten a second time (a client's retry), shuffled.
        var posts = Array(0..<events)
        posts += posts.filter { _ in Int.random(in: 0..<10, using: &generator) == 0 }
        posts.shuffle(using: &generator)
        let order = posts
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: HTTPClient.Configuration(
            connectionPool: .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: clients)))
        addTeardownBlock { try? await client.shutdown() }
        let answers = try await withThrowingTaskGroup(of: [String: Int].self) { tasks in
            for worker in 0..<clients {
                tasks.addTask {
                    var counts: [String: Int] = [:]
                    for index in stride(from: worker, to: order.count, by: clients) {
                        let body = #"{"id": "evt-\#(order[index])", "agent_id": "agent-\#(order[index] % 7)", "severity": "WARNING", "type": "ERROR_SPIKE", "message": "spike \#(order[index])"}"#
                        var request = HTTPClientRequest(url: serve.baseURL + "/api/v1/events")
                        request.method = .POST
                        request.headers.add(name: "Content-Type", value: "application/json")
                        request.body = .bytes(ByteBuffer(string: body))
                        let response = try await client.execute(request, timeout: .seconds(120))
                        let text = String(buffer: try await response.body.collect(upTo: 1 << 16))
                        counts["\(response.status.code) \(text.contains("\"stored\":true") ? "stored" : "not stored")", default: 0] += 1
                    }
                    return counts
                }
            }
            return try await tasks.reduce(into: [String: Int]()) { total, counts in total.merge(counts, uniquingKeysWith: +) }
        }
        XCTAssertEqual(answers, ["201 stored": events, "200 not stored": posts.count - events], "stderr: \(serve.stderr.suffix(2000))")
        let lines = try String(contentsOfFile: ws.state + "/events/events.jsonl", encoding: .utf8).split(separator: "\n")
        let ids = lines.compactMap { (try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])?["id"] as? String }
        XCTAssertEqual(ids.count, events, "one line per event")
        XCTAssertEqual(Set(ids), Set((0..<events).map { "evt-\($0)" }), "each event stored exactly once")
        let health = try await serve.get("/api/v1/health?window=1h")
        XCTAssertEqual(health.json["total"] as? Int, events, health.body)
        let alive = try await serve.get("/healthz")
        XCTAssertEqual(alive.status, 200)
    }

    /// Posts `bytes` bytes in chunks without a `Content-Length`: the answer's status.
    static func postWithoutLength(_ url: String, bytes: Int) async throws -> Int {
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        let chunk = ByteBuffer(repeating: UInt8(ascii: " "), count: 64 * 1024)
        let chunks = (bytes + chunk.readableBytes - 1) / chunk.readableBytes
        request.body = .stream(AsyncStream { continuation in
            for _ in 0..<chunks { continuation.yield(chunk) }
            continuation.finish()
        }, length: .unknown)
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(60))
        return Int(response.status.code)
    }
}

/// A slowloris client: a raw TCP connection that sends a request's headers one byte every
/// 200 ms and never finishes them. It notices when the server closes the connection.
final class SlowClient: @unchecked Sendable {
    private let fd: Int32
    private let lock = NSLock()
    private var sent = 0
    private var closed = false
    private var stopped = false

    init(port: UInt16) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw POSIXError(.EIO) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else {
            close(fd)
            throw POSIXError(.ECONNREFUSED)
        }
        let thread = Thread { [self] in self.trickle() }
        thread.start()
    }

    var bytesSent: Int { lock.withLock { sent } }
    var closedByServer: Bool { lock.withLock { closed } }
    func stop() { lock.withLock { stopped = true } }

    private func trickle() {
        let head = Array("POST /api/v1/alerts HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nX-Slow: ".utf8)
        var index = 0
        while !lock.withLock({ stopped }) {
            // Never ends the headers: after the fixed part, an endless header value.
            var byte = index < head.count ? head[index] : UInt8(ascii: "a")
            index += 1
            if send(fd, &byte, 1, Int32(MSG_NOSIGNAL)) != 1 { break }
            lock.withLock { sent += 1 }
            var probe: UInt8 = 0
            let read = recv(fd, &probe, 1, Int32(MSG_DONTWAIT))
            if read == 0 || (read < 0 && errno != EAGAIN && errno != EWOULDBLOCK) { break }
            usleep(200_000)
        }
        lock.withLock { if !stopped { closed = true } }
        close(fd)
    }
}
