import Foundation
import MedicLoader
import MedicModel
import XCTest

/// A rule's `detector:` naming a preset: the configuration it stands for, refused with a place
/// and a hint when misspelt or given `params`, and listed by the rules schema.
final class DetectorPresetTests: XCTestCase {
    private func rules(_ detector: String, params: String? = nil) -> LoadResult {
        var text = """
            rules:
              - name: temperature
                metric: machine_temperature
                detector: \(detector)
                severity: SEV2

            """
        if let params { text += "    params: \(params)\n" }
        return CatalogLoader(threads: 1).load(documents: [("presets.yaml", Array(text.utf8))])
    }

    func testAPresetLoadsAsTheConfigurationDocsDetectionMdGivesForIt() throws {
        let composite = rules("composite-nab")
        XCTAssertEqual(composite.diagnostics, [], describe(composite.diagnostics))
        // docs/detection.md, "NAB scores": the NAB-tuned composite as a rules file spells it out.
        let spelled = rules("composite", params: "{components: [{detector: ewma, params: {alpha: 0.01, threshold: 3, warmup: 100}}], refractory: 8h}")
        XCTAssertEqual(spelled.diagnostics, [], describe(spelled.diagnostics))
        XCTAssertEqual(composite.catalog.rules.first?.detector, try XCTUnwrap(spelled.catalog.rules.first).detector)

        let ewma = rules("ewma-nab")
        XCTAssertEqual(ewma.diagnostics, [], describe(ewma.diagnostics))
        XCTAssertEqual(ewma.catalog.rules.first?.detector, .ewma(alpha: 0.01, threshold: 3, warmup: 100))

        // docs/detection.md, "Presets": auto, as a rules file spells it out.
        let auto = rules("auto")
        XCTAssertEqual(auto.diagnostics, [], describe(auto.diagnostics))
        let autoSpelled = rules("composite", params: """
            {components: [{detector: knn_conformal, weight: 1}, {detector: context, weight: 1},
                          {detector: periodic, params: {block: 30m}, weight: 3}, {detector: range, gate: true}],
             threshold: 0.73, refractory: 16h}
            """)
        XCTAssertEqual(autoSpelled.diagnostics, [], describe(autoSpelled.diagnostics))
        XCTAssertEqual(auto.catalog.rules.first?.detector, try XCTUnwrap(autoSpelled.catalog.rules.first).detector)
    }

    func testAMisspeltPresetIsRefusedAtItsPlaceWithTheNameItResembles() throws {
        let result = rules("composite-nb")
        XCTAssertTrue(result.catalog.rules.isEmpty)
        let error = try XCTUnwrap(result.diagnostics.first { $0.severity == .error }, describe(result.diagnostics))
        XCTAssertEqual(error.code, .invalidValue)
        XCTAssertEqual(error.location.file, "presets.yaml")
        XCTAssertEqual(error.location.line, 4)
        XCTAssertEqual(error.location.column, 15)
        XCTAssertTrue(error.message.contains("'composite-nb' is not one of"), error.message)
        XCTAssertTrue(error.message.contains("ewma-nab, composite-nab"), "the presets are listed with the detectors: \(error.message)")
        XCTAssertEqual(error.hint, "did you mean 'composite-nab'?")
    }

    func testAPresetTakesNoParams() throws {
        let result = rules("ewma-nab", params: "{alpha: 0.1}")
        XCTAssertTrue(result.catalog.rules.isEmpty)
        let error = try XCTUnwrap(result.diagnostics.first { $0.severity == .error }, describe(result.diagnostics))
        XCTAssertEqual(error.code, .unknownKey)
        XCTAssertEqual(error.location.line, 6)
        XCTAssertEqual(error.message, "detector ewma-nab is a preset and takes no 'params'")
        XCTAssertTrue(error.hint?.contains("alpha 0.01") == true, error.hint ?? "")
    }

    /// The schema lists what the loader accepts: every detector and every preset, no more.
    func testTheRulesSchemaListsEveryDetectorAndPreset() throws {
        let data = try Data(contentsOf: repositoryRoot.appendingPathComponent("schemas/rules.schema.json"))
        let schema = try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any])
        let rule = try XCTUnwrap((schema["$defs"] as? [String: Any])?["rule"] as? [String: Any])
        let detector = try XCTUnwrap((rule["properties"] as? [String: Any])?["detector"] as? [String: Any])
        XCTAssertEqual(Set(try XCTUnwrap(detector["enum"] as? [String])),
                       Set(DetectorKind.allCases.map(\.rawValue) + DetectorPreset.names))
        // And the presets are the names for which it refuses `params`.
        let conditions = try XCTUnwrap(rule["allOf"] as? [[String: Any]])
        let presetCondition = conditions.compactMap { ($0["if"] as? [String: Any])?["properties"] as? [String: Any] }
            .compactMap { ($0["detector"] as? [String: Any])?["enum"] as? [String] }
        XCTAssertEqual(presetCondition.map(Set.init), [Set(DetectorPreset.names)])
        XCTAssertTrue(Set(DetectorPreset.names).isDisjoint(with: DetectorKind.allCases.map(\.rawValue)))
    }
}
