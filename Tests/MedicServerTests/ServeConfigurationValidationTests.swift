import Foundation
import MedicServeTestKit
import MedicEngine
import MedicLoader
import MedicModel
import MedicServer
import XCTest

/// The serve configuration is checked like the library: its fixtures (which .ci/check-schemas.py
/// also checks against schemas/serve.schema.json) are judged the same by the loader, and
/// `medic validate` reports its problems located, with a stable code and a hint.
final class ServeConfigurationValidationTests: XCTestCase {
    static let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let fixtures = repositoryRoot.appendingPathComponent("Tests/MedicLoaderTests/Fixtures/serve")

    private func files(_ subfolder: String) throws -> [URL] {
        let directory = Self.fixtures.appendingPathComponent(subfolder)
        return try FileManager.default.contentsOfDirectory(atPath: directory.path)
            .filter { $0.hasSuffix(".yaml") || $0.hasSuffix(".yml") || $0.hasSuffix(".json") }
            .sorted()
            .map { directory.appendingPathComponent($0) }
    }

    /// The repository's own library: the fixtures' routes name its playbooks.
    private func libraryCatalog() throws -> Catalog {
        try CatalogStage().run(root: Self.repositoryRoot.path)
    }

    func testEveryValidFixtureLoadsWithoutAnError() throws {
        let catalog = try libraryCatalog()
        let valid = try files("valid")
        XCTAssertTrue(valid.contains { $0.pathExtension == "yaml" } && valid.contains { $0.pathExtension == "json" }, "a YAML and a JSON fixture")
        for file in valid {
            let (configuration, diagnostics) = ServeConfiguration.load(path: file.path, catalog: catalog)
            XCTAssertEqual(diagnostics, [], file.lastPathComponent)
            XCTAssertFalse(try XCTUnwrap(configuration, file.lastPathComponent).routes.isEmpty, file.lastPathComponent)
        }
    }

    /// Each invalid fixture is named `<CODE>-<slug>` after the code it must produce, located in it
    /// and with a hint.
    func testEveryInvalidFixtureIsRefusedWithItsCodeLocatedAndAHint() throws {
        let catalog = try libraryCatalog()
        let invalid = try files("invalid")
        XCTAssertGreaterThanOrEqual(invalid.count, 8)
        for file in invalid {
            let name = file.lastPathComponent
            let (configuration, diagnostics) = ServeConfiguration.load(path: file.path, catalog: catalog)
            XCTAssertNil(configuration, name)
            let code = String(name.prefix(4))
            let found = diagnostics.filter { $0.code.rawValue == code }
            XCTAssertFalse(found.isEmpty, "\(name) gave \(diagnostics.map(\.code.rawValue))")
            for diagnostic in found {
                XCTAssertEqual(diagnostic.location.file, file.path, name)
                XCTAssertGreaterThan(diagnostic.location.line ?? 0, 0, name)
                XCTAssertFalse((diagnostic.hint ?? "").isEmpty, "\(name): no hint for \(diagnostic.message)")
            }
        }
    }

    func testTheSchemaShippedAndEmbeddedAreTheSame() throws {
        let shipped = try String(contentsOf: Self.repositoryRoot.appendingPathComponent("schemas/serve.schema.json"), encoding: .utf8)
        let embedded = try XCTUnwrap(EmbeddedSchemas.byKind["serve"], "run python3 scripts/embed-schemas.py")
        XCTAssertEqual(embedded.trimmingCharacters(in: .whitespacesAndNewlines), shipped.trimmingCharacters(in: .whitespacesAndNewlines),
                       "schemas/serve.schema.json changed: run python3 scripts/embed-schemas.py")
    }

    /// `medic validate medic.yaml` reads the file as a serve configuration, checks its routes
    /// against the library under --root, and reports each problem as path:line:col with its code
    /// and hint; `--config FILE` does the same for any file name.
    func testMedicValidateReportsEachProblemOfAServeConfigurationLocated() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("medic-validate-serve-\(UUID().uuidString)")
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let root = Self.repositoryRoot.path
        let config = dir.appendingPathComponent("medic.yaml")
        try """
            routes:
              - match: {alertname: DiskFull}
                playbook: no-such-playbook-001
                target_lable: instance
              - match: {code: 500}
                playbook: disk-space-cleanup-001
            """.write(to: config, atomically: true, encoding: .utf8)
        let bad = try Self.medic(["validate", "--root", root, config.path], in: dir)
        XCTAssertEqual(bad.status, 1, bad.stdout + bad.stderr)
        let path = config.path
        XCTAssertTrue(bad.stdout.contains("\(path):3:15: error[M310]"), bad.stdout)
        XCTAssertTrue(bad.stdout.contains("\(path):4:5: error[M101]") && bad.stdout.contains("target_lable"), bad.stdout)
        XCTAssertTrue(bad.stdout.contains("\(path):5:19: error[M105]"), bad.stdout)
        XCTAssertEqual(bad.stdout.components(separatedBy: "\n  hint: ").count - 1, 3, "one hint per problem: \(bad.stdout)")
        let lines = bad.stdout.split(separator: "\n")
        XCTAssertTrue(lines[0].contains(":3:15:") && lines[2].contains(":4:5:") && lines[4].contains(":5:19:"), "in reading order: \(bad.stdout)")

        let json = try Self.medic(["validate", "--root", root, "--format", "json", config.path], in: dir)
        XCTAssertEqual(json.status, 1)
        let report = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any], json.stdout)
        let codes = (report["diagnostics"] as? [[String: Any]] ?? []).compactMap { $0["code"] as? String }
        XCTAssertEqual(codes.sorted(), ["M101", "M105", "M310"], json.stdout)

        let good = dir.appendingPathComponent("serve.yaml")
        try FileManager.default.copyItem(at: Self.fixtures.appendingPathComponent("valid/medic.yaml"), to: good)
        let accepted = try Self.medic(["validate", "--root", root, "--config", good.path], in: dir)
        XCTAssertEqual(accepted.status, 0, accepted.stdout + accepted.stderr)
        XCTAssertTrue(accepted.stdout.hasPrefix("Checked 1 serve configuration.\n"), accepted.stdout)
        XCTAssertTrue(accepted.stdout.contains("No problems found."), accepted.stdout)
    }

    /// Runs the binary with its output in files (no pipe to fill up): status, stdout, stderr.
    static func medic(_ arguments: [String], in directory: URL) throws -> (status: Int32, stdout: String, stderr: String) {
        let out = directory.appendingPathComponent("out-\(UUID().uuidString)"), err = directory.appendingPathComponent("err-\(UUID().uuidString)")
        _ = FileManager.default.createFile(atPath: out.path, contents: nil)
        _ = FileManager.default.createFile(atPath: err.path, contents: nil)
        let process = Process()
        process.executableURL = ServeProcess.binary
        process.arguments = arguments
        process.currentDirectoryURL = directory
        process.standardOutput = try FileHandle(forWritingTo: out)
        process.standardError = try FileHandle(forWritingTo: err)
        process.standardInput = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        return (process.terminationStatus, (try? String(contentsOf: out, encoding: .utf8)) ?? "", (try? String(contentsOf: err, encoding: .utf8)) ?? "")
    }
}
