import Foundation
import XCTest

/// Journals an earlier Medic wrote, before journal lines carried checksums: read and counted
/// (a state directory does not stop working on upgrade), never continued or appended to.
final class LegacyJournalTests: XCTestCase {
    private func workspace() throws -> URL {
        let dir = try Medic.temporaryDirectory(self)
        for folder in ["actions", "playbooks"] {
            try FileManager.default.createDirectory(at: dir.appendingPathComponent(folder), withIntermediateDirectories: true)
        }
        try """
            actions:
              note:
                type: infrastructure
                risk_level: low
                parameters: {tag: required}
                implementation: echo "${tag}"
            """.write(to: dir.appendingPathComponent("actions/a.yaml"), atomically: true, encoding: .utf8)
        try """
            playbook_id: two-001
            name: Two steps
            version: 1.0.0
            category: infrastructure
            severity: SEV3
            remediation_steps:
              - {step: 1, name: one, action: note, tag: one}
              - {step: 2, name: two, action: note, tag: two}
            metadata: {}
            """.write(to: dir.appendingPathComponent("playbooks/p.yaml"), atomically: true, encoding: .utf8)
        return dir
    }

    private func medic(_ arguments: [String], _ dir: URL) throws -> MedicRun {
        try Medic.run(arguments + ["--state-dir", dir.path + "/state"] + (["run", "plan"].contains(arguments[0]) ? ["--root", dir.path] : []),
                      in: dir)
    }

    /// The run's journal as an earlier Medic wrote it: each line without its seal; `keep` lines.
    private func unseal(_ dir: URL, keep: Int? = nil) throws -> String {
        let runs = dir.path + "/state/runs"
        let name = try XCTUnwrap(try FileManager.default.contentsOfDirectory(atPath: runs).first { $0.hasSuffix(".jsonl") })
        let path = runs + "/" + name
        var lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map { line -> String in
            let text = String(line)
            guard let seal = text.range(of: #","crc":""#, options: .backwards) else { return text }
            return String(text[..<seal.lowerBound]) + "}"
        }
        if let keep { lines = Array(lines.prefix(keep)) }
        try (lines.joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8)
        try? FileManager.default.removeItem(atPath: runs + "/" + name.dropLast(6) + ".recorded")
        return path
    }

    func testAFinishedRunOfAnEarlierMedicIsListedAndCountedNotDamaged() throws {
        let dir = try workspace()
        XCTAssertEqual(try medic(["run", "two-001"], dir).status, 0)
        _ = try unseal(dir)
        let runs = try medic(["runs", "--json"], dir)
        XCTAssertEqual(runs.status, 0, runs.stderr)
        XCTAssertTrue(runs.stdout.contains(#""outcome":"succeeded""#) || runs.stdout.contains(#""outcome" : "succeeded""#), runs.stdout)
        XCTAssertFalse(runs.stdout.contains("damaged"), runs.stdout)
        XCTAssertTrue(runs.stderr.contains("1 journal(s)") && runs.stderr.contains("written by an earlier Medic"), runs.stderr)
        let plan = try medic(["plan", "two-001"], dir)
        XCTAssertTrue(plan.stdout.contains("breaker: pass"), "an earlier Medic's journal does not stop the breaker: \(plan.stdout)")
    }

    func testAnUnfinishedRunOfAnEarlierMedicIsNeverAppendedTo() throws {
        let dir = try workspace()
        XCTAssertEqual(try medic(["run", "two-001"], dir).status, 0)
        // As a kill would have left it: run_started, gates_evaluated, step 1's intent.
        let path = try unseal(dir, keep: 3)
        let before = try Data(contentsOf: URL(fileURLWithPath: path))
        let runs = try medic(["runs"], dir)
        XCTAssertTrue(runs.stdout.contains("interrupted"), runs.stdout + runs.stderr)
        let id = URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent
        let resumed = try medic(["resume", id], dir)
        XCTAssertEqual(resumed.status, 1)
        XCTAssertTrue(resumed.stderr.contains("written by an earlier Medic"), resumed.stderr)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: path)), before, "nothing was appended")
    }
}
