import Foundation
import MedicServeTestKit
import XCTest

/// The web page over plain HTTP against the `medic serve` binary: the login and its cookie,
/// the CSRF token of every form, the role of each action, and text from outside shown as text.
/// (WebPageBrowserTests drives the same page in a real browser.)
final class WebPageTests: XCTestCase {
    func testLoggingInGivesAnOpaqueHttpOnlySessionCookieAndLoggingOutEndsIt() async throws {
        let ws = try APIWorkspace(self)
        let olga = try ws.token("olga", "operator")
        let serve = try await ServeProcess(self, in: ws.dir, arguments: ws.arguments + ["--tokens", ws.tokensFile])
        let browser = WebVisitor(serve)

        let stranger = try await browser.get("/")
        XCTAssertEqual(stranger.status, 303, "with tokens configured the page needs a login: \(stranger.body)")
        XCTAssertEqual(stranger.location, "/login")
        let runPage = try await browser.get("/runs/anything")
        XCTAssertEqual(runPage.location, "/login")

        let form = try await browser.get("/login")
        let csrf = try XCTUnwrap(form.field("csrf"), form.body)
        let wrong = try await browser.post("/login", [("csrf", csrf), ("token", "medic_" + String(repeating: "0", count: 64))])
        XCTAssertEqual(wrong.status, 401, wrong.body)
        XCTAssertTrue(wrong.body.contains("The token is not valid."), wrong.body)
        XCTAssertNil(browser.cookies["medic_session"], "a wrong token opens no session")

        let noCSRF = try await browser.post("/login", [("token", olga)])
        XCTAssertEqual(noCSRF.status, 403, "a login post without the form's CSRF token: \(noCSRF.body)")
        XCTAssertNil(browser.cookies["medic_session"])

        let again = try await browser.get("/login")
        let answer = try await browser.post("/login", [("csrf", try XCTUnwrap(again.field("csrf"))), ("token", olga)])
        XCTAssertEqual(answer.status, 303, answer.body)
        let cookie = try XCTUnwrap(answer.setCookies.first { $0.hasPrefix("medic_session=") }, "\(answer.headers)")
        for attribute in ["HttpOnly", "SameSite=Strict", "Path=/"] {
            XCTAssertTrue(cookie.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }.contains(attribute), "\(attribute) in \(cookie)")
        }
        let session = try XCTUnwrap(browser.cookies["medic_session"])
        XCTAssertEqual(session.count, 64, cookie)
        XCTAssertFalse(session.contains(olga.dropFirst(6)), "the cookie is not the token")
        let tokensFile = try String(contentsOfFile: ws.tokensFile, encoding: .utf8)
        XCTAssertFalse(tokensFile.contains(session), "the cookie is not the token's hash either")

        let page = try await browser.get("/")
        XCTAssertEqual(page.status, 200, page.body)
        XCTAssertTrue(page.body.contains("Signed in as <strong id=\"who\">olga</strong>"), page.body)
        XCTAssertEqual(page.headers.first(name: "Content-Type"), "text/html; charset=utf-8")

        // A made-up session id is nobody: the cookie cannot be forged.
        let forger = WebVisitor(serve)
        forger.cookies["medic_session"] = String(repeating: "ab", count: 32)
        let forged = try await forger.get("/")
        XCTAssertEqual(forged.location, "/login")

        let out = try await browser.post("/logout", [("csrf", try XCTUnwrap(page.field("csrf")))])
        XCTAssertEqual(out.status, 303, out.body)
        XCTAssertNil(browser.cookies["medic_session"], "logging out clears the cookie: \(out.headers)")
        // The old id no longer means anything to the server, even sent again.
        browser.cookies["medic_session"] = session
        let ended = try await browser.get("/")
        XCTAssertEqual(ended.location, "/login")
    }

    /// One token logging in again and again ends only its own oldest sessions: another person's
    /// session goes on.
    func testLoggingInOverAndOverEndsOnlyTheSameIdentitysOldestSessions() async throws {
        let ws = try APIWorkspace(self)
        let olga = try ws.token("olga", "operator")
        let sender = try ws.token("alertmanager", "sender")
        let serve = try await ServeProcess(self, in: ws.dir, arguments: ws.arguments + ["--tokens", ws.tokensFile])
        let person = WebVisitor(serve)
        try await person.logIn(olga)
        let first = WebVisitor(serve)
        try await first.logIn(sender)
        for _ in 0..<25 { try await WebVisitor(serve).logIn(sender) }
        let still = try await person.get("/")
        XCTAssertEqual(still.status, 200, "another identity's logins never end this session: \(still.location ?? still.body)")
        let evicted = try await first.get("/")
        XCTAssertEqual(evicted.status, 303, "the same identity's oldest session ended")
        XCTAssertEqual(evicted.location, "/login")
    }

    func testAFormPostWithoutTheSessionsCSRFTokenIsRefusedAndChangesNothing() async throws {
        let ws = try APIWorkspace(self)
        let olga = try ws.token("olga", "operator")
        let serve = try await ServeProcess(self, in: ws.dir, arguments: ws.arguments + ["--tokens", ws.tokensFile])
        let browser = WebVisitor(serve)
        let page = try await browser.logIn(olga)
        let csrf = try XCTUnwrap(page.field("csrf"), page.body)
        XCTAssertTrue(page.body.contains("action=\"/actions/switches/kill_switch/on\""), page.body)

        let without = try await browser.post("/actions/switches/kill_switch/on", [("reason", "no token")])
        XCTAssertEqual(without.status, 403, without.body)
        let wrong = try await browser.post("/actions/switches/kill_switch/on", [("csrf", String(repeating: "0", count: 64)), ("reason", "wrong")])
        XCTAssertEqual(wrong.status, 403, wrong.body)
        // Another session's token is not this session's.
        let other = WebVisitor(serve)
        let otherPage = try await other.logIn(olga)
        let otherCSRF = try XCTUnwrap(otherPage.field("csrf"))
        XCTAssertNotEqual(otherCSRF, csrf)
        let crossed = try await browser.post("/actions/switches/kill_switch/on", [("csrf", otherCSRF)])
        XCTAssertEqual(crossed.status, 403)
        // The right token without the session cookie: no session, no action.
        let sessionless = try await WebVisitor(serve).post("/actions/switches/kill_switch/on", [("csrf", csrf)])
        XCTAssertEqual(sessionless.status, 403)
        let switches = try await serve.call(.GET, "/api/v1/switches", token: olga)
        XCTAssertEqual((switches.json["switches"] as? [String: Any]).flatMap { $0["kill_switch"] as? [String: Any] }?["on"] as? Bool, false, switches.body)
        XCTAssertEqual(ws.audit.count, 0, "\(ws.audit)")

        let done = try await browser.post("/actions/switches/kill_switch/on", [("csrf", csrf), ("reason", "db migration"), ("by", "mallory")])
        XCTAssertEqual(done.status, 303, done.body)
        XCTAssertEqual(done.location, "/")
        let after = try await serve.call(.GET, "/api/v1/switches", token: olga)
        let killSwitch = (after.json["switches"] as? [String: Any]).flatMap { $0["kill_switch"] as? [String: Any] }
        XCTAssertEqual(killSwitch?["on"] as? Bool, true, after.body)
        XCTAssertEqual(killSwitch?["by"] as? String, "olga", "the session's identity, whatever the form says: \(after.body)")
        XCTAssertEqual(ws.audit.map { $0["by"] as? String }, ["olga"], "\(ws.audit)")
        XCTAssertEqual(ws.audit.first?["reason"] as? String, "db migration")
        let shown = try await browser.get("/")
        XCTAssertTrue(shown.body.contains("Done: switch kill_switch turned on"), shown.body)
        XCTAssertTrue(shown.body.contains("by olga at"), shown.body)
        let next = try await browser.get("/")
        XCTAssertFalse(next.body.contains("Done: switch"), "the flash is shown once")
    }

    func testEachFormNeedsTheRoleItsAPIRouteNeeds() async throws {
        let ws = try APIWorkspace(self)
        let vera = try ws.token("vera", "viewer")
        let alice = try ws.token("alice", "approver")
        let run = try ws.pendingRun("approve-001")
        let serve = try await ServeProcess(self, in: ws.dir, arguments: ws.arguments + ["--tokens", ws.tokensFile])

        let viewer = WebVisitor(serve)
        let seen = try await viewer.logIn(vera)
        XCTAssertTrue(seen.body.contains("id=\"approval-\(run)\""), "a viewer sees the run waiting: \(seen.body)")
        XCTAssertFalse(seen.body.contains("/actions/runs/\(run)/approve"), "and is offered no approve form")
        XCTAssertTrue(seen.body.contains("Approve: needs the approver role"), seen.body)
        let refused = try await viewer.post("/actions/runs/\(run)/approve", [("csrf", try XCTUnwrap(seen.field("csrf")))])
        XCTAssertEqual(refused.status, 403, refused.body)
        XCTAssertFalse(ws.journal(run).contains { $0["event"] as? String == "approval_given" })

        let approver = WebVisitor(serve)
        let page = try await approver.logIn(alice)
        XCTAssertTrue(page.body.contains("/actions/runs/\(run)/approve"), page.body)
        XCTAssertTrue(page.body.contains("Turn on: needs the operator role"), "switches are the operator's: \(page.body)")
        let flip = try await approver.post("/actions/switches/safe_mode/on", [("csrf", try XCTUnwrap(page.field("csrf")))])
        XCTAssertEqual(flip.status, 403, flip.body)

        // A denial without a reason is refused by the API's own check, shown after the redirect.
        let deny = try await approver.post("/actions/runs/\(run)/deny", [("csrf", try XCTUnwrap(page.field("csrf"))), ("back", "/runs/\(run)")])
        XCTAssertEqual(deny.status, 303, deny.body)
        XCTAssertEqual(deny.location, "/runs/\(run)")
        let runPage = try await approver.get("/runs/\(run)")
        XCTAssertTrue(runPage.body.contains("Refused (400): a denial needs a &#39;reason&#39;"), runPage.body)
        XCTAssertTrue(runPage.body.contains("<strong id=\"run-status\">pending_approval</strong>"), runPage.body)
        // A redirect goes back to the page or a run's page, nowhere else.
        let away = try await approver.post("/actions/runs/\(run)/deny", [("csrf", try XCTUnwrap(page.field("csrf"))), ("back", "//evil.example/")])
        XCTAssertEqual(away.location, "/")
    }

    func testAnOperatorAcknowledgesAndResolvesAnIncidentAndResetsABreakerFromThePage() async throws {
        let ws = try APIWorkspace(self)
        let olga = try ws.token("olga", "operator")
        let sender = try ws.token("alertmanager", "sender")
        let serve = try await ServeProcess(self, in: ws.dir, arguments: ws.arguments + ["--tokens", ws.tokensFile])
        let posted = try await serve.post("/api/v1/alerts", body: ServeTests.post(labels: ["alertname": "DiskFull", "instance": "db-1"]), token: sender)
        XCTAssertEqual(posted.status, 200, posted.body)
        let key = try XCTUnwrap((posted.json["incidents"] as? [[String: Any]])?.first?["key"] as? String, posted.body)

        let browser = WebVisitor(serve)
        let page = try await browser.logIn(olga)
        let csrf = try XCTUnwrap(page.field("csrf"))
        XCTAssertTrue(page.body.contains("id=\"incident-\(key)\""), page.body)
        XCTAssertTrue(page.body.contains("<span>instance=db-1</span>"), page.body)
        let ack = try await browser.post("/actions/incidents/\(key)/ack", [("csrf", csrf), ("note", "on it"), ("by", "mallory")])
        XCTAssertEqual(ack.status, 303, ack.body)
        let acknowledged = try await browser.get("/")
        XCTAssertTrue(acknowledged.body.contains("Done: incident \(key) acknowledged"), acknowledged.body)
        XCTAssertTrue(acknowledged.body.contains("by olga at"), acknowledged.body)
        XCTAssertFalse(acknowledged.body.contains("/actions/incidents/\(key)/ack"), "acknowledged once: no second ack form")
        // The API's own refusal comes back as the flash: a second acknowledgement is a conflict.
        _ = try await browser.post("/actions/incidents/\(key)/ack", [("csrf", csrf)])
        let twice = try await browser.get("/")
        XCTAssertTrue(twice.body.contains("Refused (409)"), twice.body)

        let resolve = try await browser.post("/actions/incidents/\(key)/resolve", [("csrf", csrf), ("note", "disk cleaned")])
        XCTAssertEqual(resolve.status, 303, resolve.body)
        let resolved = try await browser.get("/")
        XCTAssertFalse(resolved.body.contains("id=\"incident-\(key)\""), "a resolved incident is not open: \(resolved.body)")

        let reset = try await browser.post("/actions/breakers/plain-001/reset", [("csrf", csrf), ("reason", "fixed upstream")])
        XCTAssertEqual(reset.status, 303, reset.body)
        let events = ws.audit.map { "\($0["event"] as? String ?? "?") \($0["by"] as? String ?? "?")" }
        XCTAssertEqual(events.filter { !$0.hasPrefix("breaker") }, ["incident_acknowledged olga", "incident_resolved olga"], "\(ws.audit)")
        XCTAssertEqual(events.filter { $0.hasPrefix("breaker") }.count, 1, "\(ws.audit)")
        XCTAssertTrue(events.allSatisfy { $0.hasSuffix(" olga") }, "\(ws.audit)")
    }

    func testWithoutTokensThePageReadsAsTheAnonymousViewerAndShowsOutsideTextAsText() async throws {
        let ws = try APIWorkspace(self)
        let serve = try await ServeProcess(self, in: ws.dir, arguments: ws.arguments)
        let xss = "<script>document.title='owned'</script>"
        let alert = ServeTests.post(labels: ["alertname": "NoSuchPlaybook\"><b>", "team": xss])
        let posted = try await serve.post("/api/v1/alerts", body: alert)
        XCTAssertEqual(posted.status, 200, posted.body)

        let browser = WebVisitor(serve)
        let page = try await browser.get("/")
        XCTAssertEqual(page.status, 200, page.body)
        XCTAssertTrue(page.body.contains("Anonymous viewer"), page.body)
        XCTAssertTrue(page.body.contains("id=\"incidents\""), page.body)
        XCTAssertTrue(page.body.contains("team=&lt;script&gt;document.title=&#39;owned&#39;&lt;/script&gt;"), page.body)
        XCTAssertTrue(page.body.contains("alertname=NoSuchPlaybook&quot;&gt;&lt;b&gt;"), page.body)
        XCTAssertFalse(page.body.contains(xss), "the label is never markup")
        for reference in ["<script", "http://", "https://", "<link", "<img", "@import", "url("] {
            XCTAssertFalse(page.body.contains(reference), "the page refers to \(reference)")
        }
        XCTAssertFalse(page.body.contains("<form"), "the anonymous viewer is offered no form (no session, no role)")
        let post = try await browser.post("/actions/switches/kill_switch/on", [("csrf", "x")])
        XCTAssertEqual(post.status, 403)
        XCTAssertEqual(ws.audit.count, 0)
        let login = try await browser.get("/login")
        XCTAssertTrue(login.body.contains("No tokens are configured"), login.body)
    }
}
