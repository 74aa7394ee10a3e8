import Foundation
import XCTest

/// The setting of the end-to-end run tests: a folder holding an action library and playbooks
/// (the `--root`), a state directory, and the log the tests' steps append their effects to.
struct LibraryWorkspace {
    let dir: URL
    var log: String { dir.appendingPathComponent("effects.log").path }
    var state: String { dir.appendingPathComponent("state").path }
    var runs: String { state + "/runs" }

    /// A new temporary folder (removed when `test` ends) with `actions` as actions/test.yaml and
    /// each `---`-separated document of `playbooks` as playbooks/pN.yaml.
    init(_ test: XCTestCase, actions: String, playbooks: String) throws {
        dir = try Medic.temporaryDirectory(test)
        for folder in ["actions", "playbooks"] {
            try FileManager.default.createDirectory(at: dir.appendingPathComponent(folder), withIntermediateDirectories: true)
        }
        try actions.write(to: dir.appendingPathComponent("actions/test.yaml"), atomically: true, encoding: .utf8)
        for (index, playbook) in playbooks.components(separatedBy: "---\n").enumerated() {
            try playbook.write(to: dir.appendingPathComponent("playbooks/p\(index).yaml"), atomically: true, encoding: .utf8)
        }
    }

    /// `medic ARGUMENTS` in the folder, on its state directory (and library, for run and resume).
    func arguments(_ arguments: [String]) -> [String] {
        var arguments = arguments + ["--state-dir", state]
        if ["run", "resume"].contains(arguments.first) { arguments += ["--root", dir.path] }
        return arguments
    }

    func medic(_ arguments: [String], fileSizeLimit: Int? = nil) throws -> MedicRun {
        try Medic.run(self.arguments(arguments), in: dir, fileSizeLimit: fileSizeLimit)
    }

    /// Creates `kill-NAME` in the folder: the marker the tests' killer steps look for.
    func arm(_ name: String) {
        XCTAssertTrue(FileManager.default.createFile(atPath: dir.appendingPathComponent("kill-\(name)").path, contents: nil))
    }

    /// The lines the steps appended to the log.
    var effects: [String] {
        ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
    }

    /// The state directory's files under runs/ ending in `suffix`, sorted.
    func files(_ suffix: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: runs)) ?? []).filter { $0.hasSuffix(suffix) }.sorted()
    }

    /// The id of the one run there is (a test failure when there is not exactly one).
    func onlyRun() throws -> String {
        let ids = files(".jsonl")
        XCTAssertEqual(ids.count, 1, "\(ids)")
        return String(try XCTUnwrap(ids.first).dropLast(6))
    }
}
