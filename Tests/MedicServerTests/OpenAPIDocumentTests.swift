import AsyncHTTPClient
import Foundation
import MedicServeTestKit
import MedicServer
import NIOCore
import NIOHTTP1
import XCTest

/// openapi/medic.openapi.json describes the server: it is embedded unchanged, served at
/// `/openapi.json`, and its operations are exactly the routes the server registers.
final class OpenAPIDocumentTests: XCTestCase {
    static let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static func shipped() throws -> (text: String, object: [String: Any]) {
        let text = try String(contentsOf: repositoryRoot.appendingPathComponent("openapi/medic.openapi.json"), encoding: .utf8)
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        return (text, object)
    }

    /// "METHOD /path" for every operation of the document.
    static func operations(_ document: [String: Any]) throws -> Set<String> {
        let paths = try XCTUnwrap(document["paths"] as? [String: [String: Any]])
        return Set(paths.flatMap { path, item in item.keys.map { "\($0.uppercased()) \(path)" } })
    }

    /// "METHOD /path" for every `router.get("/path")` (and post, put, delete) in the server's
    /// sources, with `:name` written `{name}` as OpenAPI writes it.
    static func registeredRoutes() throws -> Set<String> {
        let folder = repositoryRoot.appendingPathComponent("Sources/MedicServer")
        let pattern = try NSRegularExpression(pattern: #"router\.(get|post|put|delete|patch|head)\("([^"]+)""#)
        var routes = Set<String>()
        // Web*.swift: the web page for people (docs/serving.md, "The web page") is not the JSON API.
        for name in try FileManager.default.contentsOfDirectory(atPath: folder.path) where name.hasSuffix(".swift") && !name.hasPrefix("Web") {
            let source = try String(contentsOf: folder.appendingPathComponent(name), encoding: .utf8)
            for match in pattern.matches(in: source, range: NSRange(source.startIndex..., in: source)) {
                let method = String(source[Range(match.range(at: 1), in: source)!]).uppercased()
                let path = String(source[Range(match.range(at: 2), in: source)!]).split(separator: "/", omittingEmptySubsequences: false)
                    .map { $0.hasPrefix(":") ? "{\($0.dropFirst())}" : String($0) }.joined(separator: "/")
                routes.insert("\(method) \(path)")
            }
        }
        return routes
    }

    func testTheEmbeddedDocumentIsTheRepositorysFile() throws {
        XCTAssertEqual(EmbeddedOpenAPI.document, try Self.shipped().text.trimmingCharacters(in: .newlines),
                       "openapi/medic.openapi.json changed: run python3 scripts/embed-openapi.py")
    }

    func testTheDocumentHasEveryRouteTheServerRegistersAndNoOther() throws {
        let registered = try Self.registeredRoutes()
        XCTAssertGreaterThan(registered.count, 15, "the route pattern found too few routes: \(registered.sorted())")
        let documented = try Self.operations(try Self.shipped().object)
        XCTAssertEqual(registered.subtracting(documented).sorted(), [], "routes the server registers that the document lacks")
        XCTAssertEqual(documented.subtracting(registered).sorted(), [], "operations of the document that no route registers")
    }

    /// Against a running server with tokens: `/openapi.json` answers the document; every operation
    /// is served (never 404 or 405 without a body or token), and those the document puts behind
    /// the bearer scheme answer 401 without a token while the others do not.
    func testTheServerServesTheDocumentAndEveryOperationInIt() async throws {
        let ws = try APIWorkspace(self)
        _ = try ws.token("alice", "viewer")
        let serve = try await ServeProcess(self, in: ws.dir, arguments: ws.arguments + ["--tokens", ws.tokensFile])
        let (_, shipped) = try Self.shipped()

        let served = try await serve.get("/openapi.json")
        XCTAssertEqual(served.status, 200)
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(served.body.utf8)) as? NSDictionary, served.body)
        XCTAssertEqual(object, shipped as NSDictionary, "/openapi.json is not openapi/medic.openapi.json")

        let paths = try XCTUnwrap(shipped["paths"] as? [String: [String: Any]])
        for (path, item) in paths.sorted(by: { $0.key < $1.key }) {
            for (method, value) in item {
                let operation = try XCTUnwrap(value as? [String: Any])
                let concrete = path.replacingOccurrences(of: #"\{[^}]+\}"#, with: "x", options: .regularExpression)
                var request = HTTPClientRequest(url: serve.baseURL + concrete)
                request.method = HTTPMethod(rawValue: method.uppercased())
                let response = try await HTTPClient.shared.execute(request, timeout: .seconds(60))
                _ = try await response.body.collect(upTo: 4 << 20)
                let code = Int(response.status.code)
                let what = "\(method.uppercased()) \(concrete)"
                XCTAssertFalse([404, 405].contains(code), "\(what) answered \(code): the document has a route the server does not serve")
                let needsToken = !((operation["security"] as? [Any]) ?? []).isEmpty
                if needsToken {
                    XCTAssertEqual(code, 401, "\(what) is behind the bearer scheme in the document, and answered \(code) without a token")
                } else {
                    XCTAssertNotEqual(code, 401, "\(what) takes no token in the document, and answered 401 without one")
                }
            }
        }
    }
}
