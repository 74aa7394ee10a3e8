import Foundation
import XCTest

/// `medic watch` writes a run's first records into a journal file made ahead, then renames it to
/// the run's journal. Killed between the two (the fault library SIGKILLs it at the rename), the
/// run is not lost: the next `medic runs` puts its journal back under its name and lists it
/// interrupted, and `medic resume` finishes it.
final class SpareJournalKillTests: XCTestCase {
    private func workspace() throws -> WatchCommandTests.Workspace {
        let ws = try WatchCommandTests.workspace(for: self)
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

private extension WatchCommandTests.Workspace {
    var runs: String { state + "/runs" }

    func names() -> [String] { ((try? FileManager.default.contentsOfDirectory(atPath: runs)) ?? []).sorted() }
}
