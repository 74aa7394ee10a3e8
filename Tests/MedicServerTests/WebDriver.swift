import AsyncHTTPClient
import Foundation
import MedicServeTestKit
import NIOCore
import NIOHTTP1
import XCTest

/// A real headless Chromium driven over WebDriver: Debian's `chromedriver` started as a process
/// in its own process group (setsid) on a port the system chose, one browser session with a
/// throwaway profile, and the W3C WebDriver commands the tests need, sent over loopback HTTP.
/// `close()` ends the session and then kills the whole group (chromedriver, Chromium and its
/// helpers); the test calls it in its tearDown, so it runs even when the test fails.
final class WebDriver: @unchecked Sendable {  // used by one test at a time
    struct Programs {
        var chromedriver: String
        var chromium: String
    }

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// chromedriver and Chromium (`$MEDIC_CHROMEDRIVER`, `$MEDIC_CHROMIUM` when set, else on the
    /// PATH or in /usr/bin), or a skip: a failure when CI=true (.ci/run installs both).
    static func require(file: StaticString = #filePath, line: UInt = #line) throws -> Programs {
        let environment = ProcessInfo.processInfo.environment
        let folders = (environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":").map(String.init) + ["/usr/bin"]
        func find(_ variable: String, _ names: [String]) -> String? {
            let candidates = environment[variable].map { [$0] } ?? folders.flatMap { folder in names.map { "\(folder)/\($0)" } }
            return candidates.first { FileManager.default.isExecutableFile(atPath: $0) }
        }
        if let driver = find("MEDIC_CHROMEDRIVER", ["chromedriver"]), let browser = find("MEDIC_CHROMIUM", ["chromium", "chromium-browser"]) {
            return Programs(chromedriver: driver, chromium: browser)
        }
        let message = "chromium and chromedriver are not both installed (apt-get install chromium chromium-driver): the web page is not checked in a browser"
        if environment["CI"] == "true" {
            XCTFail(message + ", and CI=true requires them", file: file, line: line)
            throw CancellationError()
        }
        throw XCTSkip(message)
    }

    static let elementKey = "element-6066-11e4-a52e-4f735466cecf"

    let process = Process()
    let scratch: URL
    private(set) var base = ""
    private(set) var session = ""
    /// chromedriver's process group, which Chromium and its helpers join.
    private(set) var group: Int32 = 0

    /// Starts chromedriver (waiting up to 60 s for the port it listens on) and opens a session.
    init(_ programs: Programs, scratch: URL) async throws {
        self.scratch = scratch
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        let log = scratch.appendingPathComponent("chromedriver.out")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        // setsid makes a new process group; its leader (the shell, then chromedriver in its place)
        // writes its pid, which is the group's id, since setsid may have forked to get there.
        let leader = scratch.appendingPathComponent("chromedriver.pid")
        process.executableURL = URL(fileURLWithPath: "/usr/bin/setsid")
        process.arguments = ["/bin/sh", "-c", "echo $$ > \"$0\"; exec \"$1\" --port=0", leader.path, programs.chromedriver]
        process.standardOutput = try FileHandle(forWritingTo: log)
        process.standardError = try FileHandle(forWritingTo: log)
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let port = try await ServeProcess.poll("chromedriver to say its port") { () -> String? in
            let text = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
            guard let found = text.range(of: "started successfully on port ") else { return nil }
            let digits = text[found.upperBound...].prefix { $0.isNumber }
            return digits.isEmpty ? nil : String(digits)
        }
        group = try await ServeProcess.poll("chromedriver's process group") { () -> Int32? in
            (try? String(contentsOf: leader, encoding: .utf8)).flatMap { Int32($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
        }
        base = "http://127.0.0.1:\(port)"
        let options: [String: Any] = [
            "binary": programs.chromium,
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run", "--disable-extensions",
                     "--user-data-dir=\(scratch.appendingPathComponent("profile").path)"],
        ]
        let created = try await command(.POST, "/session", ["capabilities": ["alwaysMatch": ["goog:chromeOptions": options]]])
        session = try XCTUnwrap((created as? [String: Any])?["sessionId"] as? String, "no session id in \(String(describing: created))")
    }

    /// Ends the session (closing Chromium), then kills what is left of the process group.
    func close() async {
        if !session.isEmpty { _ = try? await command(.DELETE, "/session/\(session)", nil, timeout: 30) }
        session = ""
        if group > 1 { kill(-group, SIGKILL) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        try? FileManager.default.removeItem(at: scratch)
    }

    // MARK: Commands

    func go(_ url: String) async throws { _ = try await command(.POST, "/session/\(session)/url", ["url": url]) }

    func url() async throws -> String { try await command(.GET, "/session/\(session)/url", nil) as? String ?? "" }

    /// The element `css` selects (an error when none does).
    func element(_ css: String) async throws -> String {
        let found = try await command(.POST, "/session/\(session)/element", ["using": "css selector", "value": css])
        return try XCTUnwrap((found as? [String: Any])?[Self.elementKey] as? String, "no element for \(css)")
    }

    func elements(_ css: String) async throws -> [String] {
        let found = try await command(.POST, "/session/\(session)/elements", ["using": "css selector", "value": css])
        return (found as? [[String: Any]] ?? []).compactMap { $0[Self.elementKey] as? String }
    }

    func type(_ text: String, into element: String) async throws {
        _ = try await command(.POST, "/session/\(session)/element/\(element)/value", ["text": text])
    }

    func click(_ element: String) async throws { _ = try await command(.POST, "/session/\(session)/element/\(element)/click", [:]) }

    /// Clicks a form's submit button and waits (up to 60 s) for the page it leads to: the old
    /// document's root has gone stale and the new document is loaded. A click may return
    /// before the browser has even started the navigation, so the URL alone proves nothing.
    func submit(_ button: String) async throws {
        let old = try await element("html")
        try await click(button)
        _ = try await Self.poll("the page after the form post", seconds: 60) { () -> Bool? in
            do {
                _ = try await command(.GET, "/session/\(session)/element/\(old)/name", nil)
                return nil
            } catch let failure as Failure where Self.gone.contains(where: failure.description.contains) {
                return true
            }
        }
        _ = try await Self.poll("the new page to load", seconds: 60) { () -> Bool? in
            try await execute("return document.readyState") as? String == "complete" ? true : nil
        }
    }

    /// What the driver answers about an element of a document that has been replaced: the
    /// standard "stale element reference", "no such element", or, when the new document is
    /// still being built, Chromium's inspector saying the node is not in the document.
    static let gone = ["stale element reference", "no such element", "does not belong to the document"]

    func text(_ element: String) async throws -> String {
        try await command(.GET, "/session/\(session)/element/\(element)/text", nil) as? String ?? ""
    }

    func execute(_ script: String) async throws -> Any? {
        try await command(.POST, "/session/\(session)/execute/sync", ["script": script, "args": [Any]()])
    }

    func cookies() async throws -> [[String: Any]] {
        try await command(.GET, "/session/\(session)/cookie", nil) as? [[String: Any]] ?? []
    }

    /// Sends one command: its `value`, or the WebDriver error it answered.
    func command(_ method: HTTPMethod, _ path: String, _ body: [String: Any]?, timeout: Int64 = 120) async throws -> Any? {
        var request = HTTPClientRequest(url: base + path)
        request.method = method
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: try JSONSerialization.data(withJSONObject: body)))
        }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(timeout))
        let data = try await response.body.collect(upTo: 16 << 20)
        let object = (try? JSONSerialization.jsonObject(with: Data(data.readableBytesView))) as? [String: Any]
        let value = object?["value"]
        if response.status.code >= 400 || (value as? [String: Any])?["error"] != nil {
            let error = value as? [String: Any]
            throw Failure(description: "WebDriver \(method) \(path): \(response.status.code) \(error?["error"] ?? "") \(error?["message"] ?? String(buffer: data))")
        }
        return value is NSNull ? nil : value
    }
}

extension WebDriver {
    /// Polls an async `probe` (a browser command) every 200 ms until it gives a value; fails after `seconds`.
    static func poll<T>(_ what: String, seconds: Double = 120, _ probe: () async throws -> T?) async throws -> T {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if let value = try await probe() { return value }
            try await Task.sleep(nanoseconds: 200_000_000)
        }
        throw ServeProcess.Timeout(what: what, seconds: seconds)
    }
}
