import Foundation
import MedicEngine
import MedicModel
import NIOCore
import NIOPosix
import XCTest

final class HTTPExecutorTests: XCTestCase {
    private func server(_ respond: @escaping @Sendable (LoopbackHTTPServer.Request) -> LoopbackHTTPServer.Response = { _ in .init() })
        throws -> LoopbackHTTPServer {
        let server = try LoopbackHTTPServer(respond: respond)
        addTeardownBlock { server.shutdown() }
        return server
    }

    private func request(_ spec: HTTPRequestSpec?, parameters: [String: String] = [:], timeout: Double = 20) -> ExecutionRequest {
        ExecutionRequest(runID: "run-1", stepNumber: 1, stepName: "probe", action: "notify_webhook", purpose: .step,
                         executor: .http, request: spec, parameters: parameters, timeout: timeout)
    }

    func testMethodHeadersAndBodyReachTheServer() async throws {
        let server = try server()
        let spec = HTTPRequestSpec(method: "put", url: server.baseURL + "/plugins/${plugin}",
                                   headers: ["X-Token": "t-${token}", "Content-Type": "text/plain"], body: "restart ${plugin} now")
        let result = try await HTTPExecutor().execute(request(spec, parameters: ["plugin": "cache", "token": "s3cret"]))
        XCTAssertTrue(result.succeeded, result.summary)
        XCTAssertEqual(result.summary, "HTTP 200")
        XCTAssertEqual(result.exitStatus, 200)
        let received = try XCTUnwrap(server.requests.first)
        XCTAssertEqual(server.requests.count, 1)
        XCTAssertEqual(received.method, "PUT")
        XCTAssertEqual(received.uri, "/plugins/cache")
        XCTAssertEqual(received.header("x-token"), "t-s3cret")
        XCTAssertEqual(String(decoding: received.body, as: UTF8.self), "restart cache now")
    }

    func testURLValuesArePercentEncoded() async throws {
        let server = try server()
        let spec = HTTPRequestSpec(method: "GET", url: server.baseURL + "/items/${item}?q=${item}&n=1")
        let result = try await HTTPExecutor().execute(request(spec, parameters: ["item": "a b/c?d&e"]))
        XCTAssertTrue(result.succeeded, result.summary)
        XCTAssertEqual(server.requests.map(\.uri), ["/items/a%20b%2Fc%3Fd%26e?q=a%20b%2Fc%3Fd%26e&n=1"])
    }

    func testJSONBodyValuesCannotBreakOutOfTheirString() async throws {
        let server = try server()
        let message = "he said \"stop\"\nthen left \\ \u{01} \"}, \"admin\": true, \"x\": \"é☃"
        let spec = HTTPRequestSpec(method: "POST", url: server.baseURL + "/hook",
                                   headers: ["content-type": "application/json; charset=utf-8"],
                                   body: #"{"text": "${message}", "level": "${level}"}"#)
        let result = try await HTTPExecutor().execute(request(spec, parameters: ["message": message, "level": "SEV2"]))
        XCTAssertTrue(result.succeeded, result.summary)
        let body = try XCTUnwrap(server.requests.first?.body)
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: body) as? [String: String])
        XCTAssertEqual(object, ["text": message, "level": "SEV2"])
    }

    func testPlainBodyValuesAreInsertedAsTheyAre() async throws {
        let server = try server()
        let spec = HTTPRequestSpec(method: "POST", url: server.baseURL, headers: ["Content-Type": "text/plain"], body: "say ${message}")
        _ = try await HTTPExecutor().execute(request(spec, parameters: ["message": "\"hi\"\n"]))
        XCTAssertEqual(server.requests.map { String(decoding: $0.body, as: UTF8.self) }, ["say \"hi\"\n"])
    }

    func testHeaderValueWithLineBreakIsRefusedAndNothingIsSent() async throws {
        let server = try server()
        for value in ["ok\r\nX-Evil: 1", "ok\nX-Evil: 1", "ok\0"] {
            let spec = HTTPRequestSpec(method: "GET", url: server.baseURL, headers: ["X-Reason": "because ${reason}"])
            let result = try await HTTPExecutor().execute(request(spec, parameters: ["reason": value]))
            XCTAssertFalse(result.succeeded)
            XCTAssertTrue(result.summary.contains("'reason'") && result.summary.contains("X-Reason"), result.summary)
            XCTAssertTrue(result.summary.hasSuffix("nothing sent"), result.summary)
        }
        // The server answers a clean request, so it was there to see the refused ones.
        let clean = HTTPRequestSpec(method: "GET", url: server.baseURL + "/clean")
        let result = try await HTTPExecutor().execute(request(clean))
        XCTAssertTrue(result.succeeded, result.summary)
        XCTAssertEqual(server.requests.map(\.uri), ["/clean"])
    }

    func testUndefinedReferenceIsRefused() async throws {
        let server = try server()
        let spec = HTTPRequestSpec(method: "POST", url: server.baseURL, body: "node ${node}")
        let result = try await HTTPExecutor().execute(request(spec))
        XCTAssertFalse(result.succeeded)
        XCTAssertEqual(result.summary, "${node} in the body is not a parameter of the step; nothing sent")
        XCTAssertTrue(server.requests.isEmpty)
    }

    func testOnlyHTTPAndHTTPSURLs() async throws {
        for url in ["file:///etc/passwd", "ftp://example.com/x", "no scheme at all"] {
            let result = try await HTTPExecutor().execute(request(HTTPRequestSpec(method: "GET", url: url)))
            XCTAssertFalse(result.succeeded)
            XCTAssertTrue(result.summary.contains("not an http or https URL"), result.summary)
        }
    }

    func testMissingRequestThrows() async {
        do {
            _ = try await HTTPExecutor().execute(request(nil))
            XCTFail("expected ExecutorError")
        } catch {
            XCTAssertTrue(error is ExecutorError)
        }
    }

    func testExpectStatusList() async throws {
        let server = try server { request in .init(status: request.uri == "/accepted" ? 202 : 503, body: "busy") }
        let accepted = try await HTTPExecutor().execute(request(
            HTTPRequestSpec(method: "POST", url: server.baseURL + "/accepted", expectStatus: [200, 202])))
        XCTAssertTrue(accepted.succeeded, accepted.summary)
        XCTAssertEqual(accepted.summary, "HTTP 202")

        let busy = try await HTTPExecutor().execute(request(
            HTTPRequestSpec(method: "POST", url: server.baseURL + "/busy", expectStatus: [200, 202])))
        XCTAssertFalse(busy.succeeded)
        XCTAssertEqual(busy.exitStatus, 503)
        XCTAssertEqual(busy.summary, "HTTP 503, expected 200 or 202")
        XCTAssertEqual(busy.stdout, "busy")

        let defaulted = try await HTTPExecutor().execute(request(
            HTTPRequestSpec(method: "GET", url: server.baseURL + "/accepted", expectStatus: [])))
        XCTAssertFalse(defaulted.succeeded)
        XCTAssertEqual(defaulted.summary, "HTTP 202, expected 200")
    }

    func testExpectJSONComparesTheFieldAsText() async throws {
        let server = try server { _ in
            .init(body: #"{"ok": false, "data": {"items": [{"state": "ready", "healthy": true, "count": 1.0, "ratio": 0.5}]}}"#)
        }
        let expectations: [(path: String, equals: String, summary: String)] = [
            ("data.items.0.state", "ready", "HTTP 200"),
            ("data.items.0.healthy", "true", "HTTP 200"),
            ("data.items.0.count", "1", "HTTP 200"),
            ("data.items.0.ratio", "0.5", "HTTP 200"),
            ("ok", "true", #"HTTP 200 but ok is "false", expected "true""#),
            ("data.items.0.count", "true", #"HTTP 200 but data.items.0.count is "1", expected "true""#),
            ("data.items.0.healthy", "1", #"HTTP 200 but data.items.0.healthy is "true", expected "1""#),
            ("data.items.0.state", "Ready", #"HTTP 200 but data.items.0.state is "ready", expected "Ready""#),
            ("data.items.1.state", "ready", #"HTTP 200 but data.items.1.state is missing, expected "ready""#),
            ("data.items", "ready", #"HTTP 200 but data.items is an array, expected "ready""#),
        ]
        for expectation in expectations {
            let spec = HTTPRequestSpec(method: "GET", url: server.baseURL,
                                       expectJSON: .init(path: expectation.path, equals: expectation.equals))
            let result = try await HTTPExecutor().execute(request(spec))
            XCTAssertEqual(result.succeeded, expectation.summary == "HTTP 200", expectation.path)
            XCTAssertEqual(result.summary, expectation.summary)
        }
    }

    func testExpectJSONOnABodyThatIsNotJSONFails() async throws {
        let server = try server { _ in .init(headers: [("Content-Type", "text/html")], body: "<html>ok</html>") }
        let spec = HTTPRequestSpec(method: "GET", url: server.baseURL, expectJSON: .init(path: "ok", equals: "true"))
        let result = try await HTTPExecutor().execute(request(spec))
        XCTAssertFalse(result.succeeded)
        XCTAssertEqual(result.summary, #"HTTP 200 but the body is not JSON, expected "true" at ok"#)
    }

    func testResultKeepsTheLastBytesOfTheBody() async throws {
        let server = try server { _ in .init(body: String(repeating: "a", count: 100) + "☃the end") }
        let spec = HTTPRequestSpec(method: "GET", url: server.baseURL)
        let whole = try await HTTPExecutor(maxBodyBytes: 10).execute(request(spec))
        XCTAssertTrue(whole.succeeded, whole.summary)
        XCTAssertEqual(whole.stdout, "☃the end")
        // 9 bytes cut the 3-byte snowman: its remains are left out rather than garbled.
        let cut = try await HTTPExecutor(maxBodyBytes: 9).execute(request(spec))
        XCTAssertEqual(cut.stdout, "the end")
    }

    func testServerThatNeverAnswersTimesOut() async throws {
        let silent = try SilentServer()
        addTeardownBlock { silent.shutdown() }
        let started = Date()
        let result = try await HTTPExecutor().execute(request(HTTPRequestSpec(method: "GET", url: silent.baseURL), timeout: 1))
        XCTAssertLessThan(Date().timeIntervalSince(started), 10)
        XCTAssertFalse(result.succeeded)
        XCTAssertTrue(result.timedOut)
        XCTAssertEqual(result.summary, "timed out after 1s")
        XCTAssertGreaterThan(result.seconds, 0.5)
    }

    func testBodyThatNeverEndsTimesOut() async throws {
        let silent = try SilentServer(answer: "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\nonly the start")
        addTeardownBlock { silent.shutdown() }
        let started = Date()
        let result = try await HTTPExecutor().execute(request(HTTPRequestSpec(method: "GET", url: silent.baseURL), timeout: 1))
        XCTAssertLessThan(Date().timeIntervalSince(started), 10)
        XCTAssertFalse(result.succeeded)
        XCTAssertTrue(result.timedOut)
    }

    func testClosedPortFailsWithoutThrowing() async throws {
        let closed = try LoopbackHTTPServer()
        let url = closed.baseURL
        closed.shutdown()
        let result = try await HTTPExecutor().execute(request(HTTPRequestSpec(method: "GET", url: url), timeout: 30))
        XCTAssertFalse(result.succeeded)
        XCTAssertLessThan(result.seconds, 10, "a refused connection fails at once, not at the step's deadline")
        XCTAssertNil(result.exitStatus)
        XCTAssertTrue(result.summary.hasPrefix("request to \(url.replacingOccurrences(of: "http://", with: "")) failed: "), result.summary)
        XCTAssertTrue(result.summary.lowercased().contains("refused"), result.summary)
        XCTAssertFalse(result.timedOut)
    }

    func testRedirectsAreAnswersNotFollowed() async throws {
        let server = try LoopbackHTTPServer { request in
            request.uri == "/moved" ? .init(status: 302, headers: [("Location", "/elsewhere")]) : .init(status: 200)
        }
        defer { server.shutdown() }
        let result = try await HTTPExecutor().execute(request(HTTPRequestSpec(method: "GET", url: server.baseURL + "/moved"), timeout: 10))
        XCTAssertFalse(result.succeeded, result.summary)
        XCTAssertEqual(result.exitStatus, 302)
        XCTAssertEqual(server.requests.map(\.uri), ["/moved"], "the redirect was not followed")
    }
}

/// Accepts connections on 127.0.0.1 and never answers (or answers `answer` and then nothing
/// more): a server that hangs, for timeout tests.
final class SilentServer: @unchecked Sendable {
    private let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    private var channel: Channel?
    /// `http://127.0.0.1:PORT`
    private(set) var baseURL = ""

    init(answer: String? = nil) throws {
        let channel = try ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                guard let answer else { return channel.eventLoop.makeSucceededVoidFuture() }
                return channel.pipeline.addHandler(PartialAnswer(answer: answer))
            }
            .bind(host: "127.0.0.1", port: 0).wait()
        self.channel = channel
        baseURL = "http://127.0.0.1:\(channel.localAddress?.port ?? 0)"
    }

    func shutdown() {
        try? channel?.close().wait()
        try? group.syncShutdownGracefully()
    }

    private final class PartialAnswer: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer

        private let answer: String
        private var answered = false

        init(answer: String) { self.answer = answer }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            guard !answered else { return }
            answered = true
            context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(string: answer)), promise: nil)
        }
    }
}
