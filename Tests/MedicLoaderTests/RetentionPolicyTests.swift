import MedicLoader
import MedicModel
import XCTest

/// `retention:` in a policy file: its values, its defaults, and what is refused.
final class RetentionPolicyTests: XCTestCase {
    private func load(_ yaml: String) -> LoadResult {
        CatalogLoader().load(documents: [("policies/p.yaml", Array(yaml.utf8))])
    }

    func testValuesAreReadAndLeftOutKeysKeepTheirDefaults() throws {
        let full = load("""
            retention:
              runs: {max_age: 10d, keep_at_least: 5, keep_at_most: 50}
              knowledge: {max_age: 400d}
              disposal: delete
              archive: {max_age: 730d}
            """)
        XCTAssertEqual(full.diagnostics.map(\.code), [])
        let policy = try XCTUnwrap(full.catalog.policies.retention)
        XCTAssertEqual(policy.runsMaxAge.seconds, 10 * 86_400)
        XCTAssertEqual(policy.runsKeepAtLeast, 5)
        XCTAssertEqual(policy.runsKeepAtMost, 50)
        XCTAssertEqual(policy.knowledgeMaxAge?.seconds, 400 * 86_400)
        XCTAssertEqual(policy.disposal, .delete)
        XCTAssertEqual(policy.archiveMaxAge?.seconds, 730 * 86_400)

        let partial = try XCTUnwrap(load("retention:\n  runs: {keep_at_least: 7}\n").catalog.policies.retention)
        XCTAssertEqual(partial.runsMaxAge, RetentionPolicy.defaults.runsMaxAge)
        XCTAssertEqual(partial.runsKeepAtLeast, 7)
        XCTAssertNil(partial.knowledgeMaxAge, "incident records are kept for ever unless a max_age is given")
        XCTAssertEqual(partial.disposal, .archive)
        XCTAssertNil(partial.archiveMaxAge, "the archive is kept for ever unless a max_age is given")
        XCTAssertNil(load("severity_levels: {}\n").catalog.policies.retention)
    }

    func testAKnowledgeMaxAgeShorterThanTheReportsWindowsIsRefused() {
        let result = load("retention:\n  knowledge: {max_age: 7d}\n")
        XCTAssertEqual(result.diagnostics.map(\.code), [.outOfRange], result.diagnostics.map(\.message).joined(separator: "\n"))
        XCTAssertNil(result.catalog.policies.retention)
    }

    func testKeepAtMostBelowKeepAtLeastAndUnknownWordsAreRefused() {
        XCTAssertEqual(load("retention:\n  runs: {keep_at_least: 10, keep_at_most: 3}\n").diagnostics.map(\.code), [.outOfRange])
        XCTAssertEqual(load("retention:\n  disposal: shred\n").diagnostics.map(\.code), [.invalidValue])
        XCTAssertEqual(load("retention:\n  runs: {max_age: 0s}\n").diagnostics.map(\.code), [.badDuration])
        XCTAssertEqual(load("retention:\n  keep: 3\n").diagnostics.map(\.code), [.unknownKey])
        XCTAssertEqual(load("retention:\n  archive: {max_age: 0}\n").diagnostics.map(\.code), [.badDuration])
        XCTAssertEqual(load("retention:\n  archive: {max_age: soon}\n").diagnostics.map(\.code), [.badDuration])
        XCTAssertEqual(load("retention:\n  archive: {keep: 3}\n").diagnostics.map(\.code), [.unknownKey])
        XCTAssertNil(load("retention:\n  archive: {max_age: 0}\n").catalog.policies.retention)
    }
}
