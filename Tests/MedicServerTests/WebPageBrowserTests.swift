import Foundation
import MedicServeTestKit
import XCTest

/// The web page in a real headless Chromium driven through chromedriver (WebDriver), against
/// the `medic serve` binary: a person logs in with a token, sees a run waiting for approval,
/// approves it, and watches it run to success. Skipped without chromium and chromedriver,
/// except under CI=true, where it fails (.ci/run installs them).
final class WebPageBrowserTests: XCTestCase {
    private var driver: WebDriver?

    override func tearDown() async throws {
        await driver?.close()
        driver = nil
        try await super.tearDown()
    }

    func testAnApproverLogsInApprovesAPendingRunAndSeesItSucceed() async throws {
        let programs = try WebDriver.require()
        let ws = try APIWorkspace(self)
        let alice = try ws.token("alice", "approver")
        let sender = try ws.token("alertmanager", "sender")
        let run = try ws.pendingRun("approve-001")
        let serve = try await ServeProcess(self, in: ws.dir, arguments: ws.arguments + ["--tokens", ws.tokensFile, "--no-rules"])
        // An incident whose label is markup: the page must show it as text.
        let xss = "<script>window.medicXSS = 1</script>"
        let posted = try await serve.post("/api/v1/alerts", body: ServeTests.post(labels: ["alertname": "NoSuchPlaybook", "team": xss]), token: sender)
        XCTAssertEqual(posted.status, 200, posted.body)

        let browser = try await WebDriver(programs, scratch: ws.dir.appendingPathComponent("webdriver"))
        driver = browser
        try await browser.go(serve.baseURL + "/")
        var url = try await browser.url()
        XCTAssertEqual(url, serve.baseURL + "/login", "a stranger is sent to the login form")

        // A wrong token is refused on the form.
        try await browser.type("medic_" + String(repeating: "f", count: 64), into: try await browser.element("#token"))
        try await browser.submit(try await browser.element("#log-in"))
        let message = try await browser.text(try await browser.element("#message"))
        XCTAssertEqual(message, "The token is not valid.")
        url = try await browser.url()
        XCTAssertEqual(url, serve.baseURL + "/login")
        var cookies = try await browser.cookies()
        XCTAssertFalse(cookies.contains { $0["name"] as? String == "medic_session" }, "\(cookies)")

        try await browser.type(alice, into: try await browser.element("#token"))
        try await browser.submit(try await browser.element("#log-in"))
        url = try await browser.url()
        XCTAssertEqual(url, serve.baseURL + "/")
        let who = try await browser.text(try await browser.element("#who"))
        XCTAssertEqual(who, "alice")
        cookies = try await browser.cookies()
        let cookie = try XCTUnwrap(cookies.first { $0["name"] as? String == "medic_session" }, "\(cookies)")
        XCTAssertEqual(cookie["httpOnly"] as? Bool, true, "\(cookie)")
        XCTAssertEqual(cookie["sameSite"] as? String, "Strict", "\(cookie)")
        let readable = try await browser.execute("return document.cookie") as? String
        XCTAssertEqual(readable, "", "no script reads the session")

        // The label renders as text, and no script element came of it.
        let incidents = try await browser.text(try await browser.element("#incidents"))
        XCTAssertTrue(incidents.contains("team=" + xss), incidents)
        let scripts = try await browser.execute("return document.getElementsByTagName('script').length") as? Int
        XCTAssertEqual(scripts, 0)
        let ran = try await browser.execute("return typeof window.medicXSS") as? String
        XCTAssertEqual(ran, "undefined")

        // The run waits for approval; approve it with a reason.
        let row = "#approval-\(run)"
        let waiting = try await browser.text(try await browser.element(row))
        XCTAssertTrue(waiting.contains("approve-001"), waiting)
        try await browser.type("checked the graphs", into: try await browser.element("\(row) form.approve input[name=reason]"))
        try await browser.submit(try await browser.element("\(row) form.approve button"))
        let flash = try await WebDriver.poll("the page after the approval") {
            try? await browser.text(try await browser.element("#flash"))
        }
        XCTAssertEqual(flash, "Done: run \(run) approved")
        url = try await browser.url()
        XCTAssertEqual(url, serve.baseURL + "/", "Post/Redirect/Get: back on the page")

        // The run page's timeline shows it go on to succeed.
        let status = try await WebDriver.poll("the run page to show the run finished (stderr: \(serve.stderr))") { () -> String? in
            try? await browser.go(serve.baseURL + "/runs/\(run)")
            let shown = try? await browser.text(try await browser.element("#run-status"))
            // Between the approval and the run's end it may read as waiting, running or (between two holders of its lock) interrupted.
            return shown.map { ["pending_approval", "running", "interrupted"].contains($0) } == false ? shown : nil
        }
        XCTAssertEqual(status, "succeeded")
        let timeline = try await browser.text(try await browser.element("#timeline"))
        XCTAssertTrue(timeline.contains("approval_given"), timeline)
        XCTAssertTrue(timeline.contains("run_finished"), timeline)
        XCTAssertTrue(timeline.contains("Status: succeeded"), timeline)

        // Through the API's own code: the approver is the session's identity, and it is audited.
        XCTAssertEqual(ws.journal(run).first { $0["event"] as? String == "approval_given" }?["by"] as? String, "alice")
        XCTAssertEqual(ws.audit.filter { $0["event"] as? String == "approved" }.map { $0["by"] as? String }, ["alice"], "\(ws.audit)")
        XCTAssertEqual(ws.effects, ["approve-001"])

        // Logging out ends the session: the page asks for a login again.
        try await browser.go(serve.baseURL + "/")
        try await browser.submit(try await browser.element("#identity button"))
        url = try await browser.url()
        XCTAssertEqual(url, serve.baseURL + "/login")
        try await browser.go(serve.baseURL + "/")
        url = try await browser.url()
        XCTAssertEqual(url, serve.baseURL + "/login")
    }
}
