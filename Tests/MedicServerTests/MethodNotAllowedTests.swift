import AsyncHTTPClient
import Foundation
import MedicServeTestKit
import NIOCore
import NIOHTTP1
import XCTest

/// A method the API does not take on a path it has: 405 with `Allow`, over real HTTP.
final class MethodNotAllowedTests: XCTestCase {
    private func send(_ method: HTTPMethod, _ url: String) async throws -> (status: Int, allow: String?, body: String) {
        var request = HTTPClientRequest(url: url)
        request.method = method
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(60))
        let body = try await response.body.collect(upTo: 1 << 20)
        return (Int(response.status.code), response.headers.first(name: "Allow"), String(buffer: body))
    }

    func testAMethodThePathDoesNotTakeIs405WithAllow() async throws {
        let ws = try APIWorkspace(self)
        let serve = try await ServeProcess(self, in: ws.dir, arguments: ws.arguments)
        let base = serve.baseURL
        let alerts = try await send(.GET, base + "/api/v1/alerts")
        XCTAssertEqual(alerts.status, 405, alerts.body)
        XCTAssertEqual(alerts.allow, "POST")
        let body = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(alerts.body.utf8)) as? [String: Any])
        XCTAssertEqual(body["error"] as? String, "GET is not a method of /api/v1/alerts; it takes POST")

        let run = try await send(.DELETE, base + "/api/v1/runs/20261206-000000-00000000")
        XCTAssertEqual(run.status, 405, run.body)
        XCTAssertEqual(run.allow, "GET, HEAD", "a path with a parameter is matched too")

        // What stays a 404: a path the API does not have, and a thing a route looks for and does not find.
        let unknown = try await send(.GET, base + "/api/v1/nothing-here")
        XCTAssertEqual(unknown.status, 404, unknown.body)
        XCTAssertNil(unknown.allow)
        let missing = try await send(.GET, base + "/api/v1/runs/20261206-000000-00000000")
        XCTAssertEqual(missing.status, 404, missing.body)
        XCTAssertNil(missing.allow)
        let health = try await serve.get("/healthz")
        XCTAssertEqual(health.status, 200)
    }
}
