import Foundation
import XCTest

/// `medic watch` writes a run's first records into a journal file made ahead, then renames it to
/// the run's journal. Killed between the two (the fault library SIGKILLs it at the rename), the
/// run is not lost: the next `medic runs` puts its journal back under its name and lists it
/// interrupted, and `medic resume` finishes it.
final class SpareJournalKillTests: XCTestCase {
    private struct Workspace {
        var dir: URL
        var effects: String { dir.appendingPathComponent("effects").path }
        var state: String { dir.appendingPathComponent("state").path }
        var runs: String { state + "/runs" }

        func write(_ path: String, _ text: String) throws {
            let url = dir.appendingPathComponent(path)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try text.write(to: url, atomically: true, encoding: .utf8)
        }

        var lines: [String] {
            ((try? String(contentsOfFile: effects, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
        }

        func names() -> [String] { ((try? FileManager.default.contentsOfDirectory(atPath: runs)) ?? []).sorted() }
    }

    private func workspace() throws -> Workspace {
        let ws = Workspace(dir: try Medic.temporaryDirectory(self))
        try ws.write("actions/a.yaml", """
            actions:
              clean:
                type: infrastructure
                risk_level: low
                parameters: {path: required, log: required}
                implementation: echo "cleaned ${path}" >> "${log}"
            """)
        try ws.write("playbooks/p.yaml", """
            playbook_id: clean-001
            name: Clean
            version: 1.0.0
            category: infrastructure
            severity: SEV3
            parameters:
              path: {type: string, required: true}
              log: {type: string, default: "\(ws.effects)"}
            remediation_steps:
              - {step: 1, name: clean, action: clean}
            metadata: {}
            """)
        try ws.write("rules/r.yaml", """
            rules:
              - name: disk-filling
                metric: disk_usage_percent
                detector: threshold
                params: {op: ">", value: 85}
                for: 1m
                severity: SEV3
                playbook: clean-001
                parameters_from_labels: {path: path}
                group_by: [path]
            """)
        try ws.write("feed.jsonl", [0, 30, 60, 90].map {
            #"{"ts": \#(1_800_000_000 + $0), "metric": "disk_usage_percent", "labels": {"path": "/var"}, "value": 93}"#
        }.joined(separator: "\n") + "\n")
        return ws
    }

    func testAWatchKilledBetweenTheFirstRecordsAndTheRenameLeavesARunTheNextListingPutsBack() throws {
        let ws = try workspace()
        let options = ["--root", ws.dir.path, "--state-dir", ws.state]
        // One manual run first: safe mode lets an automated run of a playbook that has succeeded here go.
        XCTAssertEqual(try Medic.run(["run", "clean-001", "--param", "path=/seed"] + options, in: ws.dir).status, 0)
        let before = Set(ws.names().filter { $0.hasSuffix(".jsonl") })
        let watch = try FaultInjection.medic(["watch", "--input", "feed.jsonl"] + options, in: ws.dir,
                                             faults: ["MEDIC_FAULT_KILL_RENAME": "/.spare-"])
        XCTAssertEqual(watch.status, SIGKILL, "killed at the spare's rename: " + watch.stdout + watch.stderr)
        XCTAssertEqual(ws.lines, ["cleaned /seed"], "no step of the watch's run started")
        XCTAssertEqual(Set(ws.names().filter { $0.hasSuffix(".jsonl") }), before, "the run's journal is still under the spare's name")
        XCTAssertFalse(ws.names().filter { $0.hasPrefix(".spare-") }.isEmpty)

        let listed = try Medic.run(["runs", "--json", "--state-dir", ws.state], in: ws.dir)
        XCTAssertEqual(listed.status, 0, listed.stderr)
        let runs = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(listed.stdout.utf8)) as? [[String: Any]])
        XCTAssertEqual(runs.count, 2, listed.stdout)
        let watched = try XCTUnwrap(runs.first { !before.contains(($0["id"] as? String ?? "") + ".jsonl") })
        XCTAssertEqual(watched["status"] as? String, "interrupted")
        let id = try XCTUnwrap(watched["id"] as? String)
        XCTAssertTrue(listed.stderr.contains("the journal of run \(id) was found under .spare-"), listed.stderr)
        XCTAssertEqual(ws.names().filter { $0.hasPrefix(".spare-") }, [], "the spare holding the run and the unused one are gone")

        let resumed = try Medic.run(["resume", id, "--yes", "--state-dir", ws.state, "--root", ws.dir.path], in: ws.dir)
        XCTAssertEqual(resumed.status, 0, resumed.stdout + resumed.stderr)
        XCTAssertEqual(ws.lines, ["cleaned /seed", "cleaned /var"])
    }
}
