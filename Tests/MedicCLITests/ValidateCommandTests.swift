import Foundation
import XCTest

final class ValidateCommandTests: XCTestCase {
    private var valid: String { Medic.fixtures.appendingPathComponent("valid").path }
    private var validActions: String { Medic.fixtures.appendingPathComponent("valid/actions.yaml").path }

    func testHelpTeachesTheCommandsAndExitCodes() throws {
        let top = try Medic.run(["--help"])
        XCTAssertEqual(top.status, 0)
        XCTAssertTrue(top.stdout.contains("validate"), top.stdout)
        XCTAssertTrue(top.stdout.contains("Exit codes"), top.stdout)
        let sub = try Medic.run(["validate", "--help"])
        XCTAssertEqual(sub.status, 0)
        XCTAssertTrue(sub.stdout.contains("--format"), sub.stdout)
        XCTAssertTrue(sub.stdout.contains("Exit status"), sub.stdout)
    }

    func testUsageErrorsExitWithTwo() throws {
        for arguments in [["validate", "--format", "xml"], ["frobnicate"], ["schema", "nope"], ["validate", "--max-file-size", "lots"]] {
            let run = try Medic.run(arguments)
            XCTAssertEqual(run.status, 2, "\(arguments): \(run.stderr)")
            XCTAssertFalse(run.stderr.isEmpty, "\(arguments) explains itself on stderr")
        }
    }

    func testValidFilesExitZeroWithASummary() throws {
        let run = try Medic.run(["validate", valid])
        XCTAssertEqual(run.status, 0, run.stdout)
        XCTAssertTrue(run.stdout.contains("No problems found."), run.stdout)
        XCTAssertTrue(run.stdout.contains("Checked 7 files"), run.stdout)
    }

    /// Every check, through the binary: each fixture fails with its code at `path:line:col`.
    func testEveryInvalidFixtureFailsWithItsCodeAndPlace() throws {
        let invalid = Medic.fixtures.appendingPathComponent("invalid")
        for name in try FileManager.default.contentsOfDirectory(atPath: invalid.path).sorted() {
            let code = String(name.prefix(4))
            let path = invalid.appendingPathComponent(name).path
            let run = try Medic.run(["validate", "--strict", "--format", "json", path, validActions])
            XCTAssertEqual(run.status, 1, "\(name): \(run.stdout)\(run.stderr)")
            let document = try Medic.json(run.stdout)
            let diagnostics = try XCTUnwrap(document["diagnostics"] as? [[String: Any]])
            let matching = diagnostics.filter { $0["code"] as? String == code }
            XCTAssertFalse(matching.isEmpty, "\(name): \(run.stdout)")
            for diagnostic in matching {
                XCTAssertTrue((diagnostic["file"] as? String)?.contains(name) == true, "\(name): \(diagnostic)")
                XCTAssertNotNil(diagnostic["message"] as? String)
                if !["M001"].contains(code) && !(name.hasSuffix("M301-duplicate-id")) {
                    XCTAssertNotNil(diagnostic["line"] as? Int, "\(name) has a line")
                    XCTAssertNotNil(diagnostic["column"] as? Int, "\(name) has a column")
                }
            }
        }
    }

    func testTextFormatIsPathLineColumnCodeMessageThenHint() throws {
        let path = Medic.fixtures.appendingPathComponent("invalid/M302-unknown-action.yaml").path
        let run = try Medic.run(["validate", "--quiet", path, validActions])
        XCTAssertEqual(run.status, 1)
        let lines = run.stdout.split(separator: "\n").map(String.init)
        let first = try XCTUnwrap(lines.first)
        let pattern = #"^.+M302-unknown-action\.yaml:\d+:\d+: error\[M302\]: .+"#
        XCTAssertNotNil(first.range(of: pattern, options: .regularExpression), first)
        XCTAssertTrue(lines.count > 1 && lines[1].hasPrefix("  hint: did you mean"), run.stdout)
    }

    func testWarningsAloneExitZeroUnlessStrict() throws {
        let path = Medic.fixtures.appendingPathComponent("invalid/M314-unknown-check.yaml").path
        let lenient = try Medic.run(["validate", path, validActions])
        XCTAssertEqual(lenient.status, 0, lenient.stdout)
        XCTAssertTrue(lenient.stdout.contains("warning[M314]"), lenient.stdout)
        let strict = try Medic.run(["validate", "--strict", path, validActions])
        XCTAssertEqual(strict.status, 1)
    }

    func testSARIFOutputIsSARIF210WithEveryRule() throws {
        let path = Medic.fixtures.appendingPathComponent("invalid/M101-unknown-key.yaml").path
        let run = try Medic.run(["validate", "--format", "sarif", path, validActions])
        XCTAssertEqual(run.status, 1)
        let sarif = try Medic.json(run.stdout)
        XCTAssertEqual(sarif["version"] as? String, "2.1.0")
        let runs = try XCTUnwrap(sarif["runs"] as? [[String: Any]])
        let driver = try XCTUnwrap((runs.first?["tool"] as? [String: Any])?["driver"] as? [String: Any])
        let rules = try XCTUnwrap(driver["rules"] as? [[String: Any]])
        XCTAssertTrue(rules.contains { $0["id"] as? String == "M101" })
        let results = try XCTUnwrap(runs.first?["results"] as? [[String: Any]])
        let result = try XCTUnwrap(results.first)
        XCTAssertEqual(result["ruleId"] as? String, "M101")
        XCTAssertEqual(result["level"] as? String, "error")
        let ruleIndex = try XCTUnwrap(result["ruleIndex"] as? Int)
        XCTAssertEqual(rules[ruleIndex]["id"] as? String, "M101")
        let location = try XCTUnwrap((result["locations"] as? [[String: Any]])?.first?["physicalLocation"] as? [String: Any])
        let uri = try XCTUnwrap((location["artifactLocation"] as? [String: Any])?["uri"] as? String)
        XCTAssertEqual(uri, "Tests/MedicLoaderTests/Fixtures/invalid/M101-unknown-key.yaml", "relative to the working directory")
        XCTAssertNotNil((location["region"] as? [String: Any])?["startLine"] as? Int)
    }

    func testWithoutPathsItReadsTheLibraryFoldersUnderRoot() throws {
        let root = try Medic.temporaryDirectory(self)
        for folder in ["playbooks", "actions"] {
            try FileManager.default.createDirectory(at: root.appendingPathComponent(folder), withIntermediateDirectories: true)
        }
        try FileManager.default.copyItem(atPath: validActions, toPath: root.appendingPathComponent("actions/actions.yaml").path)
        try FileManager.default.copyItem(atPath: Medic.fixtures.appendingPathComponent("valid/minimal-playbook.yaml").path,
                                         toPath: root.appendingPathComponent("playbooks/minimal.yaml").path)
        let run = try Medic.run(["validate", "--root", root.path])
        XCTAssertEqual(run.status, 0, run.stdout)
        XCTAssertTrue(run.stdout.contains("Checked 2 files"), run.stdout)
        // A named file still resolves its actions from the library under --root.
        let one = try Medic.run(["validate", "--root", root.path, root.appendingPathComponent("playbooks/minimal.yaml").path])
        XCTAssertEqual(one.status, 0, one.stdout)
        // Named relative to the working directory, the same files are not loaded twice.
        let relative = try Medic.run(["validate", "--root", ".", "playbooks"], in: root)
        XCTAssertEqual(relative.status, 0, relative.stdout)
        XCTAssertTrue(relative.stdout.contains("Checked 1 file: 1 playbook,"), relative.stdout)
        let empty = try Medic.temporaryDirectory(self)
        let none = try Medic.run(["validate", "--root", empty.path])
        XCTAssertEqual(none.status, 2, none.stderr)
    }

    /// A file named on the command line that clashes with the library under --root is the one reported.
    func testAClashWithTheLibraryIsReportedOnTheNamedFile() throws {
        let root = try Medic.temporaryDirectory(self)
        try FileManager.default.createDirectory(at: root.appendingPathComponent("playbooks"), withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: root.appendingPathComponent("actions"), withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: validActions, toPath: root.appendingPathComponent("actions/actions.yaml").path)
        let playbook = Medic.fixtures.appendingPathComponent("valid/minimal-playbook.yaml").path
        try FileManager.default.copyItem(atPath: playbook, toPath: root.appendingPathComponent("playbooks/minimal.yaml").path)
        let copy = root.appendingPathComponent("copy.yaml")
        try FileManager.default.copyItem(atPath: playbook, toPath: copy.path)
        let run = try Medic.run(["validate", "--root", root.path, copy.path])
        XCTAssertEqual(run.status, 1, run.stdout)
        XCTAssertTrue(run.stdout.contains("copy.yaml:") && run.stdout.contains("error[M301]"), run.stdout)
    }

    func testAMissingPathIsReported() throws {
        let run = try Medic.run(["validate", "/nonexistent/medic/playbook.yaml"])
        XCTAssertEqual(run.status, 1)
        XCTAssertTrue(run.stdout.contains("error[M001]"), run.stdout)
    }

    func testSchemaCommandPrintsTheShippedSchema() throws {
        for kind in ["playbook", "actions", "rules", "policies"] {
            let run = try Medic.run(["schema", kind])
            XCTAssertEqual(run.status, 0)
            let shipped = try String(contentsOf: Medic.repositoryRoot.appendingPathComponent("schemas/\(kind).schema.json"), encoding: .utf8)
            XCTAssertEqual(run.stdout.trimmingCharacters(in: .whitespacesAndNewlines), shipped.trimmingCharacters(in: .whitespacesAndNewlines))
        }
    }
}
