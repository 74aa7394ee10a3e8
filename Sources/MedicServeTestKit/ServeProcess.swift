import AsyncHTTPClient
@_exported import MedicTestSupport
import Foundation
import NIOCore
import XCTest

/// A `medic serve` started as a real process on a port the system chose, and talked to over real
/// HTTP (AsyncHTTPClient). Every wait is bounded and polls; none is a timing assertion.
public final class ServeProcess: @unchecked Sendable {
    public let process = Process()
    public let output: URL
    public let errors: URL
    public private(set) var baseURL = ""

    /// `swift test` runs the test bundle from the build products folder, beside the `medic` binary.
    public static var binary: URL {
        let products = Bundle.main.bundleURL
        let candidate = products.appendingPathComponent("medic")
        if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
        return Bundle(for: ServeProcess.self).bundleURL.deletingLastPathComponent().appendingPathComponent("medic")
    }

    /// Starts `medic serve ARGUMENTS --listen 127.0.0.1:0` in `directory` and waits (up to 60 s)
    /// for the line saying where it listens. The process is ended when `test` ends.
    public init(_ test: XCTestCase, in directory: URL, arguments: [String]) async throws {
        output = directory.appendingPathComponent("serve-\(UUID().uuidString).out")
        errors = directory.appendingPathComponent("serve-\(UUID().uuidString).err")
        _ = FileManager.default.createFile(atPath: output.path, contents: nil)
        _ = FileManager.default.createFile(atPath: errors.path, contents: nil)
        process.executableURL = Self.binary
        process.arguments = ["serve", "--listen", "127.0.0.1:0"] + arguments
        process.currentDirectoryURL = directory
        process.standardOutput = try FileHandle(forWritingTo: output)
        process.standardError = try FileHandle(forWritingTo: errors)
        process.standardInput = FileHandle.nullDevice
        try process.run()
        test.addTeardownBlock { [process] in
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            process.waitUntilExit()
        }
        let line = try await Self.poll("the listening line of medic serve (stderr: \(self.stderr))") { () -> String? in
            self.stdout.split(separator: "\n").first { $0.hasPrefix("medic serve: listening on ") }.map(String.init)
        }
        baseURL = String(line.dropFirst("medic serve: listening on ".count))
    }

    public var stdout: String { (try? String(contentsOf: output, encoding: .utf8)) ?? "" }
    public var stderr: String { (try? String(contentsOf: errors, encoding: .utf8)) ?? "" }

    public struct Answer: Sendable {
        public var status: Int
        public var body: String
        public var json: [String: Any] { (try? JSONSerialization.jsonObject(with: Data(body.utf8))) as? [String: Any] ?? [:] }
    }

    /// `timeout`: seconds to wait for the answer (a request left unanswered that long fails).
    public func get(_ path: String, timeout: Int64 = 60) async throws -> Answer {
        try await send(HTTPClientRequest(url: baseURL + path), timeout: timeout)
    }

    /// `token`: sent as `Authorization: Bearer TOKEN`.
    public func post(_ path: String, body: Data, contentType: String? = "application/json", token: String? = nil) async throws -> Answer {
        var request = HTTPClientRequest(url: baseURL + path)
        request.method = .POST
        if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        if let contentType { request.headers.add(name: "Content-Type", value: contentType) }
        request.body = .bytes(ByteBuffer(bytes: body))
        return try await send(request)
    }

    private func send(_ request: HTTPClientRequest, timeout: Int64 = 60) async throws -> Answer {
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(timeout))
        let body = try await response.body.collect(upTo: 4 << 20)
        return Answer(status: Int(response.status.code), body: String(buffer: body))
    }

    /// Sends `signal` and waits (up to 60 s) for the process to end: its exit status.
    public func stop(with signal: Int32 = SIGTERM) async throws -> Int32 {
        kill(process.processIdentifier, signal)
        return try await exitStatus()
    }

    /// Waits (up to 60 s) for the process to end: its exit status.
    public func exitStatus() async throws -> Int32 {
        _ = try await Self.poll("medic serve to exit") { self.process.isRunning ? nil : true }
        return process.terminationStatus
    }

    /// Polls `probe` every 50 ms until it gives a value; fails after `seconds`.
    /// `what` is said only when the wait times out, so a message quoting the server's log
    /// quotes it as it is then, not as it was when the wait began.
    public static func poll<T>(_ what: @autoclosure () -> String, seconds: Double = 60, _ probe: () async throws -> T?) async throws -> T {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if let value = try await probe() { return value }
            try await Task.sleep(nanoseconds: 50_000_000)
        }
        throw Timeout(what: what(), seconds: seconds)
    }

    public struct Timeout: Error, CustomStringConvertible {
        public var what: String
        public var seconds: Double
        public var description: String { "waited \(seconds) s for \(what)" }

        public init(what: String, seconds: Double) {
            self.what = what
            self.seconds = seconds
        }
    }
}


extension LocalPostgres {
    /// `make()`, or a skip when PostgreSQL is not installed (a failure under CI=true, which must have it).
    public static func orSkip<T>(_ make: () throws -> T) throws -> T {
        do {
            return try make()
        } catch let missing as NotInstalled {
            if ProcessInfo.processInfo.environment["CI"] == "true" {
                XCTFail("CI must have PostgreSQL: \(missing)")
                throw missing
            }
            throw XCTSkip(missing.description)
        }
    }
}
