import Foundation
import MedicLoader
import MedicModel
import XCTest

/// The `range` detector's parameters and a composite component's `gate`, as a rules file writes
/// them: defaults, values, and out-of-range or mistyped ones refused at their place.
final class RangeAndGateDecodingTests: XCTestCase {
    private func rules(_ detector: String, params: String) -> LoadResult {
        let text = """
            rules:
              - name: temperature
                metric: machine_temperature
                detector: \(detector)
                severity: SEV2
                params: \(params)

            """
        return CatalogLoader(threads: 1).load(documents: [("gates.yaml", Array(text.utf8))])
    }

    func testRangeParamsAndDefaults() throws {
        let given = rules("range", params: "{tolerance: 0.05, warmup: 20}")
        XCTAssertEqual(given.diagnostics, [], describe(given.diagnostics))
        XCTAssertEqual(given.catalog.rules.first?.detector, .range(tolerance: 0.05, warmup: 20))
        let defaults = rules("range", params: "{}")
        XCTAssertEqual(defaults.diagnostics, [], describe(defaults.diagnostics))
        XCTAssertEqual(defaults.catalog.rules.first?.detector, .range(tolerance: 0, warmup: 100))
    }

    func testRangeRefusesOutOfRangeAndUnknownParams() throws {
        for params in ["{tolerance: 11}", "{tolerance: -0.1}", "{warmup: 0}", "{window: 5}"] {
            let result = rules("range", params: params)
            let error = try XCTUnwrap(result.diagnostics.first { $0.severity == .error }, params)
            XCTAssertEqual(error.location.file, "gates.yaml")
            XCTAssertEqual(error.location.line, 6, "\(params): \(error.message)")
        }
    }

    func testACompositeComponentMayBeAGate() throws {
        let result = rules("composite", params: "{components: [{detector: ewma}, {detector: range, gate: true}], threshold: 0.8}")
        XCTAssertEqual(result.diagnostics, [], describe(result.diagnostics))
        guard case .composite(let components, let threshold, _) = try XCTUnwrap(result.catalog.rules.first).detector else {
            return XCTFail("not a composite")
        }
        XCTAssertEqual(components.map(\.gate), [false, true])
        XCTAssertEqual(components.last?.detector, .range(tolerance: 0, warmup: 100))
        XCTAssertEqual(threshold, 0.8)

        let wrong = rules("composite", params: "{components: [{detector: ewma}, {detector: range, gate: 3}]}")
        let error = try XCTUnwrap(wrong.diagnostics.first { $0.severity == .error }, describe(wrong.diagnostics))
        XCTAssertTrue(error.message.contains("'gate'"), error.message)
        XCTAssertTrue(wrong.catalog.rules.isEmpty || wrong.catalog.rules.first.map { rule in
            if case .composite(let components, _, _) = rule.detector { return components.allSatisfy { !$0.gate } }
            return true
        } == true)
    }

    /// A gate survives JSON encoding; a component without one encodes as before (no `gate` key).
    func testGateEncodingIsBackwardCompatible() throws {
        let plain = DetectorSpec.WeightedDetector(detector: .range(tolerance: 0, warmup: 1), weight: 2)
        let plainJSON = String(decoding: try JSONEncoder().encode(plain), as: UTF8.self)
        XCTAssertFalse(plainJSON.contains("gate"), plainJSON)
        XCTAssertEqual(try JSONDecoder().decode(DetectorSpec.WeightedDetector.self, from: Data(plainJSON.utf8)), plain)
        let gate = DetectorSpec.WeightedDetector(detector: .range(tolerance: 0, warmup: 1), weight: 1, gate: true)
        XCTAssertEqual(try JSONDecoder().decode(DetectorSpec.WeightedDetector.self, from: JSONEncoder().encode(gate)), gate)
    }
}
