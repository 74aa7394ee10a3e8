import Foundation
import MedicServeTestKit
import XCTest

/// The web page's login form is limited: failed logins per client address and per token
/// presented, then 429 with `Retry-After`, the right token included, for that client only.
/// The `medic serve` binary over plain HTTP; a second client address (127.0.0.2, loopback on
/// Linux) through curl.
final class LoginThrottleTests: XCTestCase {
    func testFailedLoginsAreLimitedPerTokenAndPerClientAddressWithRetryAfter() async throws {
        let ws = try APIWorkspace(self)
        let olga = try ws.token("olga", "operator")
        let serve = try await ServeProcess(self, in: ws.dir, arguments: ws.arguments + ["--tokens", ws.tokensFile])
        let browser = WebVisitor(serve)
        // Each answer of the form is a new form, with a new CSRF token (and cookie) to send back.
        let form = try await browser.get("/login")
        var csrf = try XCTUnwrap(form.field("csrf"), form.body)
        func logIn(_ token: String) async throws -> WebVisitor.Page {
            let answer = try await browser.post("/login", [("csrf", csrf), ("token", token)])
            if let next = answer.field("csrf") { csrf = next }
            return answer
        }
        let wrong = { (digit: String) in "medic_" + String(repeating: digit, count: 64) }

        // One wrong token: five failures, then refused before it is checked.
        for attempt in 1...5 {
            let answer = try await logIn(wrong("1"))
            XCTAssertEqual(answer.status, 401, "attempt \(attempt): \(answer.body)")
        }
        let limitedToken = try await logIn(wrong("1"))
        XCTAssertEqual(limitedToken.status, 429, limitedToken.body)
        let wait = try XCTUnwrap(limitedToken.headers.first(name: "Retry-After").flatMap(Int.init), "\(limitedToken.headers)")
        XCTAssertTrue((1...60).contains(wait), "Retry-After: \(wait)")
        XCTAssertTrue(limitedToken.body.contains("Too many failed logins"), limitedToken.body)

        // Other tokens from this address: five more failures reach its limit of ten.
        for attempt in 1...5 {
            let answer = try await logIn(wrong("\(attempt + 1)"))
            XCTAssertEqual(answer.status, 401, "other token \(attempt): \(answer.body)")
        }
        let limitedAddress = try await logIn(olga)
        XCTAssertEqual(limitedAddress.status, 429, "even the right token, from a limited address: \(limitedAddress.body)")
        XCTAssertNotNil(limitedAddress.headers.first(name: "Retry-After"))
        XCTAssertNil(browser.cookies["medic_session"], "no session was opened")

        // Another client address is not limited by this one's failures.
        let curl = "/usr/bin/curl"
        guard FileManager.default.isExecutableFile(atPath: curl) else {
            if ProcessInfo.processInfo.environment["CI"] == "true" { return XCTFail("curl is required under CI") }
            throw XCTSkip("curl is not installed")
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: curl)
        process.arguments = ["-s", "-o", "/dev/null", "-w", "%{http_code}", "--interface", "127.0.0.2", "-b", "medic_login=\(browser.cookies["medic_login"] ?? "")",
                             "--data-urlencode", "csrf=\(csrf)", "--data-urlencode", "token=\(olga)", serve.baseURL + "/login"]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        process.waitUntilExit()
        let status = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        XCTAssertEqual(status, "303", "a login from 127.0.0.2 with the right token")
    }
}
