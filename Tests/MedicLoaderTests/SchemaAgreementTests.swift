import Foundation
import MedicLoader
import MedicModel
import XCTest

/// The JSON Schemas say of a value what the loader says of it. A whole-file comparison needs a
/// JSON Schema validator (`.ci/check-schemas.py` runs every fixture through both); here the
/// patterns the schemas give for values are held against the loader's own reading of them.
final class SchemaAgreementTests: XCTestCase {
    private func schema(_ kind: String) throws -> [String: Any] {
        let data = try Data(contentsOf: repositoryRoot.appendingPathComponent("schemas/\(kind).schema.json"))
        return try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    /// The object at a path of keys and list indices.
    private func node(_ root: Any, _ path: [Any]) throws -> Any {
        var current = root
        for step in path {
            if let key = step as? String {
                current = try XCTUnwrap((current as? [String: Any])?[key], "no '\(key)' in \(path)")
            } else if let index = step as? Int {
                let list = try XCTUnwrap(current as? [Any], "no list at \(path)")
                current = list[index]
            }
        }
        return current
    }

    private func pattern(_ kind: String, _ path: [Any]) throws -> NSRegularExpression {
        let text = try XCTUnwrap(try node(try schema(kind), path) as? String, "\(kind) \(path) is not a pattern")
        return try NSRegularExpression(pattern: text)
    }

    private func matches(_ regex: NSRegularExpression, _ text: String) -> Bool {
        regex.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)) != nil
    }

    private func assertAgree(_ regex: NSRegularExpression, _ samples: [String], _ what: String,
                             loaderAccepts: (String) -> Bool, file: StaticString = #filePath, line: UInt = #line) {
        for sample in samples {
            XCTAssertEqual(matches(regex, sample), loaderAccepts(sample),
                           "\(what) '\(sample)': the schema \(matches(regex, sample) ? "accepts" : "refuses") it, the loader does not",
                           file: file, line: line)
        }
    }

    func testDurationsAreReadAlike() throws {
        let samples = ["5m", "5M", "5MIN", "1h30m", "1h 30Min", "7_days", "1_000s", ".5s", "300", "100ms", "2 hours", "1.5h",
                       "+5m", "-5m", "5 minutess", "1e3s", "5m30", "m5", "5 mins ago", "1:30", "5x", ""]
        for kind in ["playbook", "actions", "rules", "policies", "metric-sources"] {
            let regex = try pattern(kind, ["$defs", "duration", "anyOf", 1, "pattern"])
            assertAgree(regex, samples, "\(kind) duration") { if case .success = Interval.parse($0) { true } else { false } }
        }
    }

    func testSeveritiesAreReadAlikeInAnyLetterCase() throws {
        let samples = ["high", "HIGH", "High", "critical", "Info", "SEV1", "sev2", "SEV1_HIGH", "SEV1_URGENT", "sev0_anything",
                       "urgent", "SEV4", "SEV1URGENT", "info_x", "SEVinfo_x", ""]
        for kind in ["playbook", "rules"] {
            let regex = try pattern(kind, ["$defs", "severity", "pattern"])
            assertAgree(regex, samples, "\(kind) severity") { Severity(text: $0) != nil }
        }
    }

    func testRolloutStagesAndExpectedRecoveryAreReadAlike() throws {
        let stage = try pattern("playbook", ["properties", "rollout", "properties", "stages", "items", "anyOf", 1, "pattern"])
        assertAgree(stage, ["1%", "50%", "100%", "100.0%", "0.5%", ".5%", "99.9%", "150%", "0%", "0.0%", "100.5%", "-5%", "5-10%", "5"],
                    "stage") { text in
            guard case .success(let p) = Percentage.parse(text) else { return false }
            return p.high == nil && p.low > 0 && p.low <= 100
        }
        let recovery = try pattern("playbook", ["$defs", "recoveryPercentage", "pattern"])
        assertAgree(recovery, ["5%", "+5%", "5-10%", "5%-10%", "0.1%", "-5%", "-5-10%", "5", "10-20 percent", "five%"],
                    "expected_recovery") { text in
            guard case .success(let p) = Percentage.parse(text) else { return false }
            return p.low >= 0
        }
        let percentage = try pattern("rules", ["$defs", "percentage", "pattern"])
        assertAgree(percentage, ["5%", "-5%", "+5%", "5-10%", "5 - 10%", "5", "5 %", "five%"], "percentage") { text in
            if case .success = Percentage.parse(text) { true } else { false }
        }
    }

    func testActionNamesAreReadAlike() throws {
        let regex = try pattern("actions", ["properties", "actions", "propertyNames", "pattern"])
        let step = try pattern("playbook", ["$defs", "step", "properties", "action", "pattern"])
        for name in ["noop", "NoopUpper", "_private", "restart_v2", "9lives", "with-dash", "dot.ted"] {
            let actions = "actions:\n  \(name):\n    type: shell\n    risk_level: low\n    implementation: \"true\"\n"
            let diagnostics = CatalogLoader().load(documents: [("a.yaml", Array(actions.utf8))]).diagnostics
            let accepted = !diagnostics.hasErrors
            XCTAssertEqual(matches(regex, name), accepted, "action name '\(name)': \(describe(diagnostics))")
            XCTAssertEqual(matches(step, name), accepted, "a step's action '\(name)'")
        }
    }
}
