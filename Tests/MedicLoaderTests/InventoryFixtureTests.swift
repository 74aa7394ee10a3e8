import Foundation
import MedicLoader
import MedicModel
import XCTest

/// The inventory fixtures that .ci/check-schemas.py also checks against
/// schemas/inventory.schema.json: the loader must agree with the schema on each of them.
final class InventoryFixtureTests: XCTestCase {
    private let folder = fixtures.appendingPathComponent("inventory")

    private func files(_ subfolder: String) throws -> [URL] {
        let directory = folder.appendingPathComponent(subfolder)
        return try FileManager.default.contentsOfDirectory(atPath: directory.path)
            .filter { $0.hasSuffix(".yaml") || $0.hasSuffix(".yml") || $0.hasSuffix(".json") }
            .sorted()
            .map { directory.appendingPathComponent($0) }
    }

    private func inventory(_ name: String) throws -> Inventory {
        let (inventory, diagnostics) = InventoryLoader.load(path: folder.appendingPathComponent("valid/\(name)").path)
        return try XCTUnwrap(inventory, describe(diagnostics))
    }

    func testEveryValidFixtureLoadsWithoutAnError() throws {
        let valid = try files("valid")
        XCTAssertTrue(valid.contains { $0.pathExtension == "yaml" } && valid.contains { $0.pathExtension == "json" },
                      "a YAML and a JSON fixture")
        for file in valid {
            let (inventory, diagnostics) = InventoryLoader.load(path: file.path)
            XCTAssertEqual(diagnostics, [], "\(file.lastPathComponent):\n\(describe(diagnostics))")
            XCTAssertFalse(try XCTUnwrap(inventory, file.lastPathComponent).hosts.isEmpty, file.lastPathComponent)
        }
    }

    func testHostNamesAloneAreHostsWithoutLabelsOrGroups() throws {
        let inventory = try inventory("names-only.yaml")
        XCTAssertEqual(inventory, Inventory(hosts: [
            .init(name: "web-1.example.com"), .init(name: "web-2.example.com"), .init(name: "db-1.example.com"),
        ]))
        XCTAssertEqual(inventory.targets(), inventory.hosts.map { TargetSpec(name: $0.name) })
    }

    func testHostsNameTheirOwnLabelsAndGroups() throws {
        let inventory = try inventory("labels-and-groups.yaml")
        XCTAssertEqual(inventory.hosts.map(\.name), ["web-1.example.com", "web-2.example.com", "db-1.example.com"])
        XCTAssertEqual(inventory.hosts[0].labels, ["service": "web", "cluster": "eu-1", "region": "eu-west-1", "canary": "yes"])
        XCTAssertEqual(inventory.hosts[0].groups, ["web", "canary"])
        XCTAssertEqual(inventory.hosts[1].labels["port"], "8080")
        XCTAssertEqual(inventory.hosts[2].groups, [])
        XCTAssertEqual(inventory.groups, [], "no `groups:` block")
        XCTAssertEqual(inventory.targets(inGroups: ["canary"]).map(\.name), ["web-1.example.com"])
        XCTAssertEqual(inventory.targets(inGroups: ["web"]).map { $0.labels["group"] }, ["web", "web"])
    }

    /// A host's own labels win, then its groups' in the order of its groups (those it names, then
    /// those whose `hosts` list it, in file order); `group` is its first group unless it has one.
    func testGroupsGiveLabelsThatAHostsOwnLabelsOverride() throws {
        let inventory = try inventory("groups.yaml")
        XCTAssertEqual(inventory.groups.map(\.name), ["canary", "web", "db", "eu-west-1"])
        XCTAssertEqual(inventory.hosts.map(\.groups), [["canary", "web"], ["web", "eu-west-1"], ["web"], ["db", "eu-west-1"], []])
        XCTAssertEqual(inventory.targets(), [
            TargetSpec(name: "web-1", labels: ["zone": "a", "stage": "canary", "service": "web", "group": "canary"]),
            TargetSpec(name: "web-2", labels: ["service": "web", "zone": "z", "region": "eu-west-1", "group": "web"]),
            TargetSpec(name: "web-3", labels: ["service": "web", "zone": "z", "group": "web"]),
            TargetSpec(name: "db-1", labels: ["group": "databases", "service": "postgres", "region": "eu-west-1"]),
            TargetSpec(name: "batch-1"),
        ])
        XCTAssertEqual(inventory.targets(inGroups: ["eu-west-1"]).map(\.name), ["web-2", "db-1"])
        XCTAssertEqual(inventory.targets(inGroups: ["db", "canary"]).map(\.name), ["web-1", "db-1"], "file order, not --group order")
        XCTAssertEqual(inventory.targets(inGroups: ["nobody"]), [])
    }

    func testTheJSONFixtureReadsLikeYAML() throws {
        let inventory = try inventory("inventory.json")
        XCTAssertEqual(inventory.targets(), [
            TargetSpec(name: "web-1.example.com", labels: ["service": "web", "tier": "front", "group": "web"]),
            TargetSpec(name: "web-2.example.com", labels: ["service": "web", "canary": "no", "tier": "front", "group": "web"]),
            TargetSpec(name: "db-1.example.com", labels: ["service": "postgres", "group": "db"]),
        ])
    }

    /// Each invalid fixture is named `<CODE>-<slug>` after the code it must produce, located at a
    /// line and column of the file.
    func testEveryInvalidFixtureIsRefusedWithItsCodeAtALocatedLine() throws {
        let invalid = try files("invalid")
        let codes = Set(invalid.map { String($0.lastPathComponent.prefix(4)) })
        XCTAssertTrue(codes.isSuperset(of: ["M101", "M102", "M103", "M105", "M106", "M309", "M311", "M312"]), "\(codes.sorted())")
        for file in invalid {
            let name = file.lastPathComponent
            let (inventory, diagnostics) = InventoryLoader.load(path: file.path)
            XCTAssertNil(inventory, name)
            let code = String(name.prefix(4))
            let matching = diagnostics.filter { $0.code.rawValue == code }
            XCTAssertFalse(matching.isEmpty, "\(name) gave \(diagnostics.map(\.code.rawValue).sorted()):\n\(describe(diagnostics))")
            for diagnostic in matching {
                XCTAssertEqual(diagnostic.severity, .error, name)
                XCTAssertEqual(diagnostic.location.file, file.path, name)
                XCTAssertNotNil(diagnostic.location.line, "\(name): \(diagnostic.message)")
                XCTAssertNotNil(diagnostic.location.column, "\(name): \(diagnostic.message)")
            }
        }
    }

    func testTheSchemaShippedAndEmbeddedAreTheSame() throws {
        let shipped = try String(contentsOf: repositoryRoot.appendingPathComponent("schemas/inventory.schema.json"), encoding: .utf8)
        let embedded = try XCTUnwrap(EmbeddedSchemas.byKind["inventory"], "run python3 scripts/embed-schemas.py")
        XCTAssertEqual(embedded.trimmingCharacters(in: .whitespacesAndNewlines), shipped.trimmingCharacters(in: .whitespacesAndNewlines),
                       "schemas/inventory.schema.json changed: run python3 scripts/embed-schemas.py")
        let object = try JSONSerialization.jsonObject(with: Data(embedded.utf8)) as? [String: Any]
        XCTAssertEqual(object?["$schema"] as? String, "https://json-schema.org/draft/2020-12/schema")
    }
}
