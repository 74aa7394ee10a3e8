import Foundation
import MedicServeTestKit
import XCTest

/// The web page's logins with two servers sharing one PostgreSQL (behind one address, a load
/// balancer sends each request to either): a login at one is a login at the other, a form's
/// message is shown once by whichever answers next, a logout at one ends it at both, and with
/// no database the page answers 503 rather than logging people out.
final class SharedWebSessionTests: XCTestCase {
    func testALoginThroughOneServerIsALoginAtTheOtherAndALogoutEndsItAtBoth() async throws {
        let ws = try APIWorkspace(self)
        let olga = try ws.token("olga", "operator")
        let (postgres, address) = try SharedServers.database(self, in: ws.dir)
        let servers = try await SharedServers.start(self, ["one", "two"], in: ws.dir, address: address, arguments: ["--tokens", ws.tokensFile])
        let one = WebVisitor(servers[0]), two = WebVisitor(servers[1])
        let page = try await one.logIn(olga)
        XCTAssertTrue(page.body.contains("Signed in as <strong id=\"who\">olga</strong>"), page.body)
        two.cookies = one.cookies

        // The same cookie at the other server: the same person, the same CSRF token.
        let there = try await two.get("/")
        XCTAssertEqual(there.status, 200, there.body)
        XCTAssertTrue(there.body.contains("Signed in as <strong id=\"who\">olga</strong>"), there.body)
        let csrf = try XCTUnwrap(there.field("csrf"), there.body)
        XCTAssertEqual(csrf, page.field("csrf"))

        // A form posted to the second, its message shown by the first, once.
        let done = try await two.post("/actions/switches/safe_mode/on", [("csrf", csrf), ("reason", "shared login")])
        XCTAssertEqual(done.status, 303, done.body)
        let shown = try await one.get("/")
        XCTAssertTrue(shown.body.contains("Done: switch safe_mode turned on"), shown.body)
        let next = try await two.get("/")
        XCTAssertFalse(next.body.contains("Done: switch"), "the message is shown once, whichever server answers")

        // Logged out at the second: the first sends the same cookie to the login form.
        let out = try await two.post("/logout", [("csrf", csrf)])
        XCTAssertEqual(out.status, 303, out.body)
        let gone = try await one.get("/")
        XCTAssertEqual(gone.status, 303, gone.body)
        XCTAssertEqual(gone.location, "/login")

        // The database stopped: a page with a session cookie is 503, not a silent logout.
        let again = try await one.logIn(olga)
        XCTAssertEqual(again.status, 200, again.body)
        postgres.stop()
        defer { try? postgres.start() }
        let down = try await one.get("/")
        XCTAssertEqual(down.status, 503, down.body)
        XCTAssertTrue(down.body.contains("the sessions cannot be read now"), down.body)
        XCTAssertNotNil(one.cookies["medic_session"], "the cookie is kept")
    }

    /// A session kept in the database outlives a restart, so it follows the tokens as they are
    /// now: an entry removed ends its sessions, a role changed applies to them.
    func testASessionFollowsTheTokensAsTheyAreNow() async throws {
        let ws = try APIWorkspace(self)
        let olga = try ws.token("olga", "operator")
        let (_, address) = try SharedServers.database(self, in: ws.dir)
        let arguments = ws.arguments + ["--tokens", ws.tokensFile, "--store", address]
        let first = try await ServeProcess(self, in: ws.dir, arguments: arguments)
        let browser = WebVisitor(first)
        let page = try await browser.logIn(olga)
        XCTAssertTrue(page.body.contains("/actions/switches/"), "an operator is offered the switches: \(page.body)")
        let stopped = try await first.stop()
        XCTAssertEqual(stopped, 0, first.stderr)

        // olga demoted to viewer: the same cookie, after a restart, is a viewer's.
        try FileManager.default.removeItem(atPath: ws.tokensFile)
        _ = try ws.token("olga", "viewer")
        let second = try await ServeProcess(self, in: ws.dir, arguments: arguments)
        let demoted = WebVisitor(second)
        demoted.cookies = browser.cookies
        let viewer = try await demoted.get("/")
        XCTAssertEqual(viewer.status, 200, viewer.body)
        XCTAssertTrue(viewer.body.contains("Signed in as <strong id=\"who\">olga</strong>"), viewer.body)
        let refused = try await demoted.post("/actions/switches/safe_mode/on", [("csrf", try XCTUnwrap(viewer.field("csrf"), viewer.body))])
        XCTAssertEqual(refused.status, 403, "the role in force is the token's now: \(refused.body)")
        _ = try await second.stop()

        // olga's entry removed: her session is over.
        try FileManager.default.removeItem(atPath: ws.tokensFile)
        _ = try ws.token("someone-else", "viewer")
        let third = try await ServeProcess(self, in: ws.dir, arguments: arguments)
        let removed = WebVisitor(third)
        removed.cookies = browser.cookies
        let gone = try await removed.get("/")
        XCTAssertEqual(gone.status, 303, gone.body)
        XCTAssertEqual(gone.location, "/login")
    }
}
