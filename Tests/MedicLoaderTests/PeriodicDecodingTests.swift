import Foundation
import MedicLoader
import MedicModel
import XCTest

/// The `periodic` detector's parameters as a rules file writes them: defaults, values, and
/// out-of-range or unknown ones refused at their place.
final class PeriodicDecodingTests: XCTestCase {
    private func rules(params: String) -> LoadResult {
        let text = """
            rules:
              - name: taxi
                metric: nyc_taxi
                detector: periodic
                severity: SEV2
                params: \(params)

            """
        return CatalogLoader(threads: 1).load(documents: [("periodic.yaml", Array(text.utf8))])
    }

    func testParamsAndDefaults() throws {
        let given = rules(params: "{block: 10m, alpha: 0.05, threshold: 4, warmup: 20}")
        XCTAssertEqual(given.diagnostics, [], describe(given.diagnostics))
        XCTAssertEqual(given.catalog.rules.first?.detector, .periodic(block: Interval(seconds: 600), alpha: 0.05, threshold: 4, warmup: 20))
        let defaults = rules(params: "{}")
        XCTAssertEqual(defaults.diagnostics, [], describe(defaults.diagnostics))
        XCTAssertEqual(defaults.catalog.rules.first?.detector, .periodic(block: Interval(seconds: 1_800), alpha: 0.01, threshold: 3, warmup: 100))
    }

    func testRefusesOutOfRangeAndUnknownParams() throws {
        for params in ["{block: 1m}", "{block: 2d}", "{block: soon}", "{block: 7m}", "{block: 13h}", "{alpha: 0}", "{alpha: 1.5}", "{threshold: -1}", "{warmup: 0}",
                       "{window: 5}"] {
            let result = rules(params: params)
            let error = try XCTUnwrap(result.diagnostics.first { $0.severity == .error }, params)
            XCTAssertEqual(error.location.file, "periodic.yaml")
            XCTAssertEqual(error.location.line, 6, "\(params): \(error.message)")
        }
    }
}
