import Foundation
import XCTest

/// The OpenAPI document describes a run of `GET /api/v1/runs`, a record of a run's timeline and
/// the plan of `POST /api/v1/plans` with the JSON Schemas of `medic runs --json`,
/// `medic show --json` and `medic plan --json` (schemas/output/), copied in so that Schemathesis checks the answers against them: the
/// copies must stay those schemas, `$ref`s into `$defs` pointing at components instead.
final class OpenAPIOutputSchemaTests: XCTestCase {
    static let planDefinitions = ["rendered": "PlanRendered", "duration": "PlanDuration", "precondition": "PlanPrecondition", "step": "PlanStep"]

    func testTheDocumentsRunAndPlanSchemasAreThoseOfTheCommandsOutput() throws {
        let root = OpenAPIDocumentTests.repositoryRoot
        let document = try object(at: root.appendingPathComponent("openapi/medic.openapi.json"))
        let schemas = try XCTUnwrap((document["components"] as? [String: Any])?["schemas"] as? [String: Any])

        let runs = try object(at: root.appendingPathComponent("schemas/output/runs.schema.json"))
        XCTAssertEqual(schemas["RunSummary"] as? NSDictionary, runs["items"] as? NSDictionary, "RunSummary is not runs.schema.json's item")
        let show = try object(at: root.appendingPathComponent("schemas/output/show.schema.json"))
        let records = (show["properties"] as? [String: Any])?["records"] as? [String: Any]
        XCTAssertEqual(schemas["JournalRecord"] as? NSDictionary, records?["items"] as? NSDictionary, "JournalRecord is not show.schema.json's record")
        let timeline = ((schemas["RunDetail"] as? [String: Any])?["properties"] as? [String: Any])?["timeline"] as? [String: Any]
        XCTAssertEqual(timeline?["items"] as? NSDictionary, ["$ref": "#/components/schemas/JournalRecord"] as NSDictionary)

        var plan = try object(at: root.appendingPathComponent("schemas/output/plan.schema.json"))
        let definitions = try XCTUnwrap(plan["$defs"] as? [String: Any])
        XCTAssertEqual(Set(definitions.keys), Set(Self.planDefinitions.keys), "plan.schema.json's $defs")
        for key in ["$schema", "$id", "$defs"] { plan[key] = nil }
        XCTAssertEqual(schemas["Plan"] as? NSDictionary, try pointingAtComponents(plan) as? NSDictionary, "Plan is not plan.schema.json")
        for (definition, component) in Self.planDefinitions {
            XCTAssertEqual(schemas[component] as? NSDictionary, try pointingAtComponents(definitions[definition] as Any) as? NSDictionary,
                           "\(component) is not plan.schema.json's $defs/\(definition)")
        }
    }

    private func object(at file: URL) throws -> [String: Any] {
        try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: file)) as? [String: Any], file.path)
    }

    /// `value` with every `"$ref": "#/$defs/NAME"` made `"#/components/schemas/<component>"`.
    private func pointingAtComponents(_ value: Any) throws -> Any {
        if let object = value as? [String: Any] {
            var result: [String: Any] = [:]
            for (key, item) in object {
                if key == "$ref", let reference = item as? String {
                    let name = try XCTUnwrap(reference.hasPrefix("#/$defs/") ? Self.planDefinitions[String(reference.dropFirst(8))] : nil, reference)
                    result[key] = "#/components/schemas/\(name)"
                } else {
                    result[key] = try pointingAtComponents(item)
                }
            }
            return result
        }
        if let array = value as? [Any] { return try array.map(pointingAtComponents) }
        return value
    }
}
