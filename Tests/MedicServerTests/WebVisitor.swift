import AsyncHTTPClient
import Foundation
import MedicServeTestKit
import NIOCore
import NIOHTTP1
import XCTest

/// A person at the web page over plain HTTP: redirects are not followed (the test reads each
/// 303), and the cookies the server sets are kept by hand and sent back, as a browser would.
final class WebVisitor {
    /// One client for every test, never shut down (as `HTTPClient.shared`), that does not follow redirects.
    static let client = HTTPClient(eventLoopGroupProvider: .singleton,
                                   configuration: HTTPClient.Configuration(tlsConfiguration: nil, redirectConfiguration: .disallow,
                                                                           timeout: .init(), connectionPool: .init()))

    struct Page {
        var status: Int
        var headers: HTTPHeaders
        var body: String
        var location: String? { headers.first(name: "Location") }
        var setCookies: [String] { headers["Set-Cookie"] }

        /// The value of the first `<input ... name="NAME" value="VALUE">` of the page.
        func field(_ name: String) -> String? {
            guard let start = body.range(of: "name=\"\(name)\" value=\"") else { return nil }
            return String(body[start.upperBound...].prefix { $0 != "\"" })
        }
    }

    let base: String
    var cookies: [String: String] = [:]

    init(_ serve: ServeProcess) { base = serve.baseURL }

    func get(_ path: String) async throws -> Page {
        try await send(HTTPClientRequest(url: base + path))
    }

    /// A form post, fields URL-encoded in the given order.
    func post(_ path: String, _ fields: [(String, String)]) async throws -> Page {
        var request = HTTPClientRequest(url: base + path)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
        let allowed = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
        let body = fields.map { "\($0.0)=\($0.1.addingPercentEncoding(withAllowedCharacters: allowed) ?? "")" }.joined(separator: "&")
        request.body = .bytes(ByteBuffer(string: body))
        return try await send(request)
    }

    /// Logs in with `token` through the login form: the page after the redirect.
    @discardableResult
    func logIn(_ token: String) async throws -> Page {
        let form = try await get("/login")
        XCTAssertEqual(form.status, 200, form.body)
        let answer = try await post("/login", [("csrf", try XCTUnwrap(form.field("csrf"), form.body)), ("token", token)])
        XCTAssertEqual(answer.status, 303, answer.body)
        XCTAssertEqual(answer.location, "/")
        return try await get("/")
    }

    private func send(_ request: HTTPClientRequest) async throws -> Page {
        var request = request
        if !cookies.isEmpty { request.headers.add(name: "Cookie", value: cookies.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: "; ")) }
        let response = try await Self.client.execute(request, timeout: .seconds(60))
        let body = try await response.body.collect(upTo: 4 << 20)
        let page = Page(status: Int(response.status.code), headers: response.headers, body: String(buffer: body))
        for cookie in page.setCookies {
            let pair = cookie.split(separator: ";")[0].split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let name = String(pair[0]), value = pair.count > 1 ? String(pair[1]) : ""
            cookies[name] = cookie.contains("Max-Age=0") ? nil : value
        }
        return page
    }
}
