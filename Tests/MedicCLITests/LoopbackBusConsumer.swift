import Foundation
import MedicTestSupport
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// A system on the other end of the bus, on 127.0.0.1: an HTTP server that takes the
/// structured-mode CloudEvents a webhook bus POSTs, records each, and answers as `answer` says
/// for the event's `type`: a status and body, or no answer at all (the connection is held open
/// until the consumer stops, so the publisher's timeout is what ends the wait).
final class LoopbackBusConsumer: @unchecked Sendable {
    enum Answer: Sendable {
        case status(Int, String)
        case never
    }

    let port: Int
    private let listener: Int32
    private let answer: @Sendable (String) -> Answer
    private let lock = NSLock()
    private var received: [[String: Any]] = []
    private var held: [Int32] = []

    /// The events received, in order, as JSON objects.
    var events: [[String: Any]] { lock.withLock { received } }

    /// `http://127.0.0.1:PORT/bus`
    var url: String { "http://127.0.0.1:\(port)/bus" }

    init(answer: @escaping @Sendable (String) -> Answer) throws {
        let (fd, port) = try LocalPostgres.boundLoopbackSocket()
        guard listen(fd, 16) == 0 else {
            close(fd)
            throw LocalPostgres.Failure("listen failed")
        }
        self.listener = fd
        self.port = port
        self.answer = answer
        Thread.detachNewThread { [self] in acceptLoop() }
    }

    /// Stops listening and closes every held connection.
    func stop() {
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
        for fd in lock.withLock({ held }) { close(fd) }
    }

    private func acceptLoop() {
        while true {
            let connection = accept(listener, nil, nil)
            if connection < 0 {
                if errno == EINTR { continue }
                return
            }
            Thread.detachNewThread { [self] in serve(connection) }
        }
    }

    private func serve(_ fd: Int32) {
        guard let body = Self.readRequestBody(fd),
              let event = try? JSONSerialization.jsonObject(with: body) as? [String: Any] else {
            respond(fd, 400, "not a CloudEvent")
            return
        }
        lock.withLock { received.append(event) }
        switch answer(event["type"] as? String ?? "") {
        case .status(let status, let text):
            respond(fd, status, text)
        case .never:
            lock.withLock { held.append(fd) }
        }
    }

    private func respond(_ fd: Int32, _ status: Int, _ text: String) {
        let body = Array(text.utf8)
        let head = "HTTP/1.1 \(status) Answer\r\nContent-Type: text/plain\r\nContent-Length: \(body.count)\r\nConnection: close\r\n\r\n"
        let bytes = Array(head.utf8) + body
        var sent = 0
        while sent < bytes.count {
            let count = bytes[sent...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if count <= 0 { break }
            sent += count
        }
        close(fd)
    }

    /// The body of one HTTP/1.1 request with a Content-Length; nil when the peer left before it.
    private static func readRequestBody(_ fd: Int32) -> Data? {
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        var bodyStart: Int?
        var length = 0
        while true {
            if let start = bodyStart, bytes.count - start >= length { return Data(bytes[start..<(start + length)]) }
            let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { return nil }
            bytes += chunk[0..<count]
            if bodyStart == nil, let end = find([13, 10, 13, 10], in: bytes) {
                bodyStart = end + 4
                let head = String(decoding: bytes[0..<end], as: UTF8.self).lowercased()
                for line in head.split(separator: "\r\n") where line.hasPrefix("content-length:") {
                    length = Int(line.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces)) ?? 0
                }
            }
        }
    }

    private static func find(_ needle: [UInt8], in haystack: [UInt8]) -> Int? {
        guard haystack.count >= needle.count else { return nil }
        for index in 0...(haystack.count - needle.count) where Array(haystack[index..<(index + needle.count)]) == needle { return index }
        return nil
    }
}
