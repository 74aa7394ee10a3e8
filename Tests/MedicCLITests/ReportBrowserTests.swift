import Foundation
import XCTest

/// The HTML reports in a real browser: headless Chromium (Debian's `chromium`) loads each page,
/// and the test checks the DOM it built, that the page logged nothing to the console, that it
/// asked the network for nothing, and that a screenshot comes out. Without Chromium the tests are
/// skipped, except under CI=true, where they fail (.ci/run installs it).
final class ReportBrowserTests: XCTestCase {
    private let at = "2026-11-23T08:00:00Z"

    func testReportPagesRenderWithoutErrorsOrNetworkRequests() throws {
        let browser = try Chromium.require()
        let dir = try Medic.temporaryDirectory(self)
        let state = try ReportHistory.write(ReportHistory.sample, in: dir)
        var pages: [(URL, String)] = []
        for kind in ["daily", "weekly"] {
            let result = try Medic.run(["report", kind, "--at", at, "--state-dir", state.path, "--out", dir.path], in: dir)
            XCTAssertEqual(result.status, 0, result.stderr)
            pages.append((dir.appendingPathComponent("medic-report-\(kind)-2026-11-23.html"), kind == "daily" ? "Daily" : "Weekly"))
        }
        // And a period with no incident at all.
        let empty = dir.appendingPathComponent("empty")
        XCTAssertEqual(try Medic.run(["report", "daily", "--at", "2020-01-01T00:00:00Z", "--state-dir", state.path,
                                      "--out", empty.path], in: dir).status, 0)
        pages.append((empty.appendingPathComponent("medic-report-daily-2020-01-01.html"), "Daily"))

        for (page, title) in pages {
            let html = try String(contentsOf: page, encoding: .utf8)
            for reference in ["http://", "https://", " src=", " href=", "url(", "@import", "<script", "<link", "<img"] {
                XCTAssertFalse(html.contains(reference), "\(page.lastPathComponent) refers to something outside it: \(reference)")
            }
            let load = try browser.load(page, in: dir)
            XCTAssertEqual(load.status, 0, load.stderr)
            XCTAssertEqual(load.dom.components(separatedBy: "<svg").count - 1, 4, "\(page.lastPathComponent): 4 charts")
            XCTAssertTrue(load.dom.contains("<h1>\(title) self-healing report</h1>"), load.dom)
            XCTAssertTrue(load.dom.contains("<th>KPI</th>"), "the KPI table")
            XCTAssertEqual(load.consoleMessages, [], "\(page.lastPathComponent) logged to the console")
            XCTAssertEqual(load.pageRequests, [], "\(page.lastPathComponent) asked the network")
        }

        let screenshot = dir.appendingPathComponent("weekly.png")
        let shot = try browser.screenshot(pages[1].0, to: screenshot, in: dir)
        XCTAssertEqual(shot.status, 0, shot.stderr)
        let png = try Data(contentsOf: screenshot)
        XCTAssertEqual(Array(png.prefix(8)), [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        XCTAssertGreaterThan(png.count, 20_000)   // a blank 1280x2000 page compresses to a few KB
    }

    /// The checks above can fail: a page with a script error and a remote image is caught.
    func testTheChecksCatchAPageThatLogsAndFetches() throws {
        let browser = try Chromium.require()
        let dir = try Medic.temporaryDirectory(self)
        let page = dir.appendingPathComponent("bad.html")
        try #"<!DOCTYPE html><html><body><svg></svg><img src="http://medic.invalid/x.png"><script>no_such_function()</script></body></html>"#
            .write(to: page, atomically: true, encoding: .utf8)
        let load = try browser.load(page, in: dir)
        XCTAssertEqual(load.dom.components(separatedBy: "<svg").count - 1, 1)
        XCTAssertTrue(load.consoleMessages.contains { $0.contains("Uncaught ReferenceError") }, load.stderr)
        XCTAssertEqual(load.pageRequests, ["http://medic.invalid/x.png"])
    }
}

/// Headless Chromium run as a real process in its own process group, killed with the group when
/// done or after its time limit, with a throwaway profile.
struct Chromium {
    struct Load {
        var status: Int32
        var dom: String
        var stderr: String
        /// Lines the page logged to the console (`…:CONSOLE…`), errors or not: the report has no script.
        var consoleMessages: [String]
        /// URLs the page asked for, other than `file:` ones, from Chromium's net log.
        var pageRequests: [String]
    }

    let path: String

    /// Chromium (`$MEDIC_CHROMIUM` when set, else `chromium` or `chromium-browser` on the PATH),
    /// or a skip (a failure when CI=true).
    static func require(file: StaticString = #filePath, line: UInt = #line) throws -> Chromium {
        let environment = ProcessInfo.processInfo.environment
        let candidates = environment["MEDIC_CHROMIUM"].map { [$0] }
            ?? ((environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":") + ["/usr/bin"]).flatMap { directory in
                ["chromium", "chromium-browser"].map { "\(directory)/\($0)" }
            }
        if let found = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) { return Chromium(path: found) }
        let message = "chromium is not installed (apt-get install chromium): the HTML reports are not checked in a browser"
        if environment["CI"] == "true" {
            XCTFail(message + ", and CI=true requires it", file: file, line: line)
            throw CancellationError()
        }
        throw XCTSkip(message)
    }

    /// Loads `page` and returns the DOM it built, its console lines and its network requests.
    func load(_ page: URL, in dir: URL) throws -> Load {
        let netLog = dir.appendingPathComponent("net-\(UUID().uuidString).json")
        let run = try self.run(["--dump-dom", "--log-net-log=\(netLog.path)", page.absoluteString], in: dir)
        let console = run.stderr.split(separator: "\n").map(String.init).filter { $0.contains(":CONSOLE") || $0.contains("Uncaught") }
        return Load(status: run.status, dom: run.stdout, stderr: run.stderr, consoleMessages: console,
                    pageRequests: try Self.pageRequests(in: netLog))
    }

    func screenshot(_ page: URL, to png: URL, in dir: URL) throws -> (status: Int32, stderr: String) {
        let run = try self.run(["--screenshot=\(png.path)", "--window-size=1280,2000", "--hide-scrollbars", page.absoluteString], in: dir)
        return (run.status, run.stderr)
    }

    private func run(_ arguments: [String], in dir: URL, timeout: Double = 120) throws -> (status: Int32, stdout: String, stderr: String) {
        let scratch = dir.appendingPathComponent("chromium-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        let out = scratch.appendingPathComponent("out"), err = scratch.appendingPathComponent("err")
        _ = FileManager.default.createFile(atPath: out.path, contents: nil)
        _ = FileManager.default.createFile(atPath: err.path, contents: nil)
        let process = Process()
        // setsid: Chromium and every process it starts are one process group, killed together.
        process.executableURL = URL(fileURLWithPath: "/usr/bin/setsid")
        process.arguments = [path, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions",
                             "--enable-logging=stderr", "--v=0", "--log-level=0",
                             // Any host name resolves to nothing: a request cannot leave the machine.
                             "--host-resolver-rules=MAP * ~NOTFOUND",
                             "--user-data-dir=\(scratch.appendingPathComponent("profile").path)"] + arguments
        process.standardOutput = try FileHandle(forWritingTo: out)
        process.standardError = try FileHandle(forWritingTo: err)
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let group = process.processIdentifier
        let finished = DispatchSemaphore(value: 0)
        DispatchQueue.global().async {
            process.waitUntilExit()
            finished.signal()
        }
        if finished.wait(timeout: .now() + timeout) == .timedOut {
            kill(-group, SIGKILL)
            finished.wait()
            XCTFail("chromium did not finish within \(timeout) s: killed")
        }
        kill(-group, SIGKILL)   // helpers it may have left behind
        return (process.terminationStatus, try String(contentsOf: out, encoding: .utf8), try String(contentsOf: err, encoding: .utf8))
    }

    /// Requests started on behalf of a `file:` page (its network isolation key or initiator),
    /// leaving out Chromium's own background requests and the page itself.
    static func pageRequests(in netLog: URL) throws -> [String] {
        let data = try Data(contentsOf: netLog)
        let log = try XCTUnwrap(try JSONSerialization.jsonObject(with: data) as? [String: Any], "the net log is not a JSON object")
        let types = try XCTUnwrap((log["constants"] as? [String: Any])?["logEventTypes"] as? [String: Int])
        let start = try XCTUnwrap(types["URL_REQUEST_START_JOB"])
        var urls: [String] = []
        for case let event as [String: Any] in log["events"] as? [Any] ?? [] where event["type"] as? Int == start {
            guard let params = event["params"] as? [String: Any], let url = params["url"] as? String, !url.hasPrefix("file:") else { continue }
            let key = params["network_isolation_key"] as? String ?? "", initiator = params["initiator"] as? String ?? ""
            if key.contains("file://") || initiator == "null" || initiator.hasPrefix("file:") { urls.append(url) }
        }
        return Array(Set(urls)).sorted()
    }
}
