import MedicLoader
import MedicModel
import XCTest

/// `retention.every`: how often servers sharing a database prune it.
final class RetentionScheduleTests: XCTestCase {
    private func load(_ yaml: String) -> LoadResult {
        CatalogLoader().load(documents: [("policies/p.yaml", Array(yaml.utf8))])
    }

    func testEveryIsReadAndLeftOutMeansNever() throws {
        let daily = load("retention:\n  every: 1d\n")
        XCTAssertEqual(daily.diagnostics.map(\.code), [])
        XCTAssertEqual(try XCTUnwrap(daily.catalog.policies.retention).every?.seconds, 86_400)
        XCTAssertNil(try XCTUnwrap(load("retention:\n  runs: {keep_at_least: 7}\n").catalog.policies.retention).every)
    }

    func testAnEveryThatIsNotALengthOfTimeIsRefused() {
        for yaml in ["retention:\n  every: 0s\n", "retention:\n  every: daily\n"] {
            let result = load(yaml)
            XCTAssertEqual(result.diagnostics.map(\.code), [.badDuration], yaml)
            XCTAssertNil(result.catalog.policies.retention, yaml)
        }
    }
}
