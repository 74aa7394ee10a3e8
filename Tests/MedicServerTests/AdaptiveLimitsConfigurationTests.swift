import Foundation
import MedicEngine
import MedicResilience
import MedicServer
import XCTest

/// `adaptive:` in the `resilience:` section (docs/resilience.md, "Adaptive limits"): true takes
/// Medic's bounds, a mapping sets some, false keeps a key fixed under an adaptive kind; a bad
/// value is refused, located, with a hint, and nothing is loaded.
final class AdaptiveLimitsConfigurationTests: XCTestCase {
    func load(_ text: String) throws -> (ResilienceSettings?, [String]) {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("medic-adaptive-\(UUID().uuidString).yaml")
        addTeardownBlock { try? FileManager.default.removeItem(at: file) }
        try text.write(to: file, atomically: true, encoding: .utf8)
        let (settings, diagnostics) = ResilienceConfiguration.load(path: file.path)
        return (settings, diagnostics.map { "\($0.location.line ?? 0):\($0.code.rawValue) \($0.message) | \($0.hint ?? "")" })
    }

    func testTrueBoundsAndFalseAreRead() throws {
        let (settings, problems) = try load("""
            resilience:
              shell: {adaptive: true}
              http: {failure_threshold: 4, adaptive: {failure_threshold: [2, 9], reset_timeout: [1s, 90s], smoothing: 0.5}}
              keys:
                "shell:db-1": {adaptive: false}
            """)
        XCTAssertEqual(problems, [])
        let read = try XCTUnwrap(settings)
        XCTAssertEqual(read.adaptiveBounds(for: "shell:web-1"), AdaptiveLimits.Bounds())
        XCTAssertNil(read.adaptiveBounds(for: "shell:db-1"), "a key's false over its kind's true")
        let http = try XCTUnwrap(read.adaptiveBounds(for: "http:api:80"))
        XCTAssertEqual(http.failureThreshold, 2...9)
        XCTAssertEqual(http.resetTimeout, 1...90)
        XCTAssertEqual(http.maxConcurrent, AdaptiveLimits.Bounds().maxConcurrent, "a bound not given is Medic's")
        XCTAssertEqual(http.smoothing, 0.5)
        XCTAssertNil(read.adaptiveBounds(for: "channel:pager"))
        XCTAssertEqual(read.configuration(for: "http:api:80").breaker.failureThreshold, 4, "the other limits as set")
    }

    func testBadBoundsAreRefusedLocatedWithAHint() throws {
        for (value, expected) in [
            ("adaptive: yes-please", "must be true, false or a mapping of bounds"),
            ("adaptive: {failure_threshold: [3]}", "must be a list of two bounds"),
            ("adaptive: {failure_threshold: [20, 3]}", "the lowest bound is above the highest"),
            ("adaptive: {reset_timeout: [5s, forever]}", "'forever' is not a duration"),
            ("adaptive: {max_concurrent: [0, 10]}", "'0' is not a whole number from 1 to 100000"),
            ("adaptive: {smoothing: 2}", "must be a number above 0 and at most 1"),
            ("adaptive: {ceiling: [1, 2]}", "unknown key 'ceiling'"),
        ] {
            let (settings, problems) = try load("resilience:\n  http:\n    \(value)\n")
            XCTAssertNil(settings, value)
            XCTAssertTrue(problems.contains { $0.hasPrefix("3:") && $0.contains(expected) }, "\(value): \(problems)")
        }
    }
}
