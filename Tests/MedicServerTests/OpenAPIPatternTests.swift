import Foundation
import MedicServeTestKit
import NIOHTTP1
import XCTest

/// The patterns of the OpenAPI document the server answers at `/openapi.json` say exactly what
/// the server accepts: for values on both sides of each limit, the server refuses (400) what the
/// pattern refuses, and accepts what it matches. Schemathesis (.ci/schemathesis.sh) checks the
/// same with generated values; these are the boundaries it found.
final class OpenAPIPatternTests: XCTestCase {
    func testTheDocumentsPatternsAgreeWithTheServer() async throws {
        let ws = try APIWorkspace(self)
        let token = try ws.token("pat", "operator", "sender")
        let serve = try await ServeProcess(self, in: ws.dir, arguments: ws.arguments + ["--tokens", ws.tokensFile, "--rate-limit", "100000"])
        let document = try await serve.get("/openapi.json").json
        let paths = try XCTUnwrap(document["paths"] as? [String: Any])

        // The health window: a whole number and a unit, 1 s to 30 days.
        let window = try pattern(of: "window", in: paths, "/api/v1/health", "get")
        for value in ["1s", "0s", "+0001h", "30d", "31d", "720h", "721h", "43200m", "43201m", "2592000s", "2592001s", "-1h", "1w", "1.5h", "99999999999999999999d"] {
            let answer = try await serve.call(.GET, "/api/v1/health?window=\(value.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? value)",
                                              token: token)
            XCTAssertEqual(answer.status == 400, !matches(window, value), "window=\(value): \(answer.status) \(answer.body)")
        }

        // An incident key: letters, digits, `-` and `_`, at most 200.
        let key = try pattern(of: "key", in: paths, "/api/v1/incidents/{key}/ack", "post")
        for value in ["abc-1_2", String(repeating: "a", count: 200), String(repeating: "a", count: 201), "a.b", "a~b"] {
            let answer = try await serve.call(.POST, "/api/v1/incidents/\(value)/ack", token: token, json: [:])
            XCTAssertEqual(answer.status == 400, !matches(key, value), "key \(value): \(answer.status) \(answer.body)")
        }

        // An immune event's id: no control character (Unicode Cc, C1 included).
        let event = ((document["components"] as? [String: Any])?["schemas"] as? [String: Any])?["ImmuneEvent"] as? [String: Any]
        let id = try XCTUnwrap(((event?["properties"] as? [String: Any])?["id"] as? [String: Any])?["pattern"] as? String)
        for (index, value) in ["plain-1", "tab\there", "del\u{7F}", "c1\u{85}", "nbsp\u{A0}é", String(repeating: "\u{1F600}", count: 64)].enumerated() {
            let body: [String: Any] = ["id": value, "severity": "INFO", "type": "ERROR_SPIKE", "message": "m\(index)"]
            let answer = try await serve.call(.POST, "/api/v1/events", token: token, json: body)
            XCTAssertEqual(answer.status == 400, !matches(id, value), "id \(value.unicodeScalars.map { String($0.value, radix: 16) }): \(answer.status) \(answer.body)")
        }
    }

    private func pattern(of name: String, in paths: [String: Any], _ path: String, _ method: String) throws -> String {
        let parameters = ((paths[path] as? [String: Any])?[method] as? [String: Any])?["parameters"] as? [[String: Any]] ?? []
        let parameter = try XCTUnwrap(parameters.first { $0["name"] as? String == name }, "\(method) \(path) has no parameter \(name)")
        return try XCTUnwrap((parameter["schema"] as? [String: Any])?["pattern"] as? String, "\(name) has no pattern")
    }

    /// Whether `value` matches `pattern`, a pattern anchored with `^` and `$`, as ECMA-262 reads
    /// it: `$` only at the end of the text. (ICU's `$` also matches before a final line
    /// terminator, NEL U+0085 among them, so the match must cover the whole text.)
    private func matches(_ pattern: String, _ value: String) -> Bool {
        guard pattern.hasPrefix("^"), pattern.hasSuffix("$"), let expression = try? NSRegularExpression(pattern: pattern) else {
            XCTFail("not an anchored pattern: \(pattern)")
            return false
        }
        let whole = NSRange(value.startIndex..., in: value)
        return expression.firstMatch(in: value, range: whole)?.range == whole
    }
}
