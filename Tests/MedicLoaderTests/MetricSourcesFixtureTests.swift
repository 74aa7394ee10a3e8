import Foundation
import MedicLoader
import MedicModel
import XCTest

/// The metric sources fixtures that .ci/check-schemas.py also checks against
/// schemas/metric-sources.schema.json: the loader must agree with the schema on each of them.
final class MetricSourcesFixtureTests: XCTestCase {
    private let folder = fixtures.appendingPathComponent("metric-sources")

    private func files(_ subfolder: String) throws -> [URL] {
        let directory = folder.appendingPathComponent(subfolder)
        return try FileManager.default.contentsOfDirectory(atPath: directory.path)
            .filter { $0.hasSuffix(".yaml") || $0.hasSuffix(".yml") || $0.hasSuffix(".json") }
            .sorted()
            .map { directory.appendingPathComponent($0) }
    }

    func testEveryValidFixtureLoadsWithoutAnError() throws {
        let valid = try files("valid")
        XCTAssertTrue(valid.contains { $0.pathExtension == "yaml" } && valid.contains { $0.pathExtension == "json" },
                      "a YAML and a JSON fixture")
        for file in valid {
            let (config, diagnostics) = MetricSourcesLoader.load(path: file.path)
            XCTAssertFalse(diagnostics.hasErrors, "\(file.lastPathComponent):\n\(describe(diagnostics))")
            let bindings = try XCTUnwrap(config, file.lastPathComponent).bindings
            XCTAssertFalse(bindings.isEmpty, file.lastPathComponent)
            for binding in bindings where binding.kind == .file {
                XCTAssertTrue(binding.path?.hasPrefix("/") == true, "\(binding.name): path resolved against the file's folder")
            }
        }
    }

    /// The YAML fixture has one binding of each kind.
    func testTheYAMLFixtureHasEveryKind() throws {
        let (config, diagnostics) = MetricSourcesLoader.load(path: folder.appendingPathComponent("valid/metrics.yaml").path)
        let bindings = try XCTUnwrap(config, describe(diagnostics)).bindings
        XCTAssertEqual(Set(bindings.map(\.kind)), Set(MetricSourceBinding.Kind.allCases))
    }

    /// Each invalid fixture is named `<CODE>-<slug>` after a code it must produce.
    func testEveryInvalidFixtureIsRefused() throws {
        let invalid = try files("invalid")
        XCTAssertGreaterThanOrEqual(invalid.count, 5)
        for file in invalid {
            let name = file.lastPathComponent
            let (config, diagnostics) = MetricSourcesLoader.load(path: file.path)
            XCTAssertNil(config, name)
            XCTAssertTrue(diagnostics.hasErrors, "\(name) loaded without an error")
            let code = String(name.prefix(4))
            XCTAssertTrue(diagnostics.contains { $0.code.rawValue == code },
                          "\(name) gave \(diagnostics.map(\.code.rawValue).sorted()):\n\(describe(diagnostics))")
        }
    }

    func testTheSchemaShippedAndEmbeddedAreTheSame() throws {
        let shipped = try String(contentsOf: repositoryRoot.appendingPathComponent("schemas/metric-sources.schema.json"), encoding: .utf8)
        let embedded = try XCTUnwrap(EmbeddedSchemas.byKind["metric-sources"], "run python3 scripts/embed-schemas.py")
        XCTAssertEqual(embedded.trimmingCharacters(in: .whitespacesAndNewlines), shipped.trimmingCharacters(in: .whitespacesAndNewlines),
                       "schemas/metric-sources.schema.json changed: run python3 scripts/embed-schemas.py")
        let object = try JSONSerialization.jsonObject(with: Data(embedded.utf8)) as? [String: Any]
        XCTAssertEqual(object?["$schema"] as? String, "https://json-schema.org/draft/2020-12/schema")
    }
}
