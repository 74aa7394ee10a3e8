import Foundation
import XCTest

/// `medic memory list|show|forget` through the built binary. The state directory is seeded with
/// an `immune-memory.json` as `ImmuneMemoryDocument.save` writes it (this test target does not
/// link MedicKnowledge); its signature ids were computed independently (Python's hashlib over
/// the documented netstring framing), so loading it also checks the id.
final class MemoryCommandTests: XCTestCase {
    private static let partition = "c6e2333374a5a3d11dcf1b2fe0ba3cb93fe95e1a88fcd3a256c29b5aa29bf539"
    private static let oom = "d33fff1cd72893990147cf794dc9bd91c5b6236a319327b039f2ae37b1297053"

    private static let document = """
        {
          "entries" : [
            {
              "actions" : [
                { "action" : "reroute", "playbook_id" : "pb-1", "priority" : 1, "timeout" : 12.5 }
              ],
              "first_seen" : "2027-01-15T08:00:00.000Z",
              "last_applied" : "2027-01-15T08:00:00.250Z",
              "last_origin" : "run",
              "last_origin_id" : "run-1",
              "last_seen" : "2027-01-15T08:00:00.250Z",
              "observations" : 2,
              "origin" : "chaos_experiment",
              "signature" : {
                "components" : [ "api", "storage" ],
                "fault_type" : "network-partition",
                "id" : "\(partition)",
                "pattern" : "network-partition:storage:3-nodes"
              },
              "success_rate" : 0.7
            },
            {
              "actions" : [ { "action" : "restart", "playbook_id" : "pb-2", "priority" : 0, "timeout" : 30 } ],
              "first_seen" : "2027-01-15T08:01:00.000Z",
              "last_applied" : "2027-01-15T08:01:00.000Z",
              "last_origin" : "run",
              "last_seen" : "2027-01-15T08:01:00.000Z",
              "observations" : 1,
              "origin" : "run",
              "signature" : { "components" : [], "fault_type" : "oom", "id" : "\(oom)", "pattern" : "oom" },
              "success_rate" : 1
            }
          ],
          "format" : 1
        }
        """

    private func seededState() throws -> URL {
        let state = try Medic.temporaryDirectory(self).appendingPathComponent("state")
        let knowledge = state.appendingPathComponent("knowledge")
        try FileManager.default.createDirectory(at: knowledge, withIntermediateDirectories: true)
        try Self.document.write(to: knowledge.appendingPathComponent("immune-memory.json"), atomically: true, encoding: .utf8)
        return state
    }

    func testListShowsEveryEntry() throws {
        let state = try seededState()
        let run = try Medic.run(["memory", "list", "--state-dir", state.path, "--json"])
        XCTAssertEqual(run.status, 0, run.stderr)
        let entries = try XCTUnwrap(try Medic.json(run.stdout)["entries"] as? [[String: Any]])
        XCTAssertEqual(entries.compactMap { ($0["signature"] as? [String: Any])?["id"] as? String }, [Self.partition, Self.oom])
        XCTAssertEqual(entries.first?["success_rate"] as? Double, 0.7)
        let text = try Medic.run(["memory", "list", "--state-dir", state.path])
        XCTAssertEqual(text.status, 0, text.stderr)
        XCTAssertTrue(text.stdout.contains("network-partition:storage:3-nodes  2 obs  70.0%"), text.stdout)
    }

    func testListOfAnEmptyStateDirectory() throws {
        let state = try Medic.temporaryDirectory(self)
        let run = try Medic.run(["memory", "list", "--state-dir", state.path, "--json"])
        XCTAssertEqual(run.status, 0, run.stderr)
        XCTAssertEqual((try Medic.json(run.stdout)["entries"] as? [Any])?.count, 0)
    }

    func testShowByPrefix() throws {
        let state = try seededState()
        let run = try Medic.run(["memory", "show", String(Self.partition.prefix(10)), "--state-dir", state.path, "--json"])
        XCTAssertEqual(run.status, 0, run.stderr)
        let entry = try Medic.json(run.stdout)
        XCTAssertEqual(entry["observations"] as? Int, 2)
        XCTAssertEqual(entry["last_applied"] as? String, "2027-01-15T08:00:00.250Z")
        let actions = try XCTUnwrap(entry["actions"] as? [[String: Any]])
        XCTAssertEqual(actions.first?["playbook_id"] as? String, "pb-1")
        let text = try Medic.run(["memory", "show", Self.oom, "--state-dir", state.path])
        XCTAssertTrue(text.stdout.contains("Pattern       oom"), text.stdout)
        let missing = try Medic.run(["memory", "show", "ffff", "--state-dir", state.path])
        XCTAssertEqual(missing.status, 1)
        XCTAssertTrue(missing.stderr.contains("no immune-memory entry has the signature id 'ffff'"), missing.stderr)
    }

    func testForgetRemovesTheEntryAndPublishesTheChange() throws {
        let state = try seededState()
        let run = try Medic.run(["memory", "forget", Self.oom, "--state-dir", state.path, "--json"])
        XCTAssertEqual(run.status, 0, run.stderr)
        let output = try Medic.json(run.stdout)
        let change = try XCTUnwrap(output["change"] as? [String: Any])
        XCTAssertEqual(change["kind"] as? String, "forgotten")
        XCTAssertEqual(change["signature_id"] as? String, Self.oom)
        let eventID = try XCTUnwrap(output["event_id"] as? String)

        let outbox = try String(contentsOf: state.appendingPathComponent("outbox.jsonl"), encoding: .utf8)
        let lines = outbox.split(separator: "\n")
        XCTAssertEqual(lines.count, 1)
        let event = try Medic.json(String(lines[0]))
        XCTAssertEqual(event["type"] as? String, "chaos.immune-memory.changed")
        XCTAssertEqual(event["id"] as? String, eventID)
        XCTAssertEqual(event["data"] as? [String: String], ["kind": "forgotten", "signature_id": Self.oom])

        let list = try Medic.run(["memory", "list", "--state-dir", state.path, "--json"])
        let entries = try XCTUnwrap(try Medic.json(list.stdout)["entries"] as? [[String: Any]])
        XCTAssertEqual(entries.compactMap { ($0["signature"] as? [String: Any])?["id"] as? String }, [Self.partition])

        let again = try Medic.run(["memory", "forget", Self.oom, "--state-dir", state.path])
        XCTAssertEqual(again.status, 1)
    }

    func testCorruptMemoryIsAClearErrorAndIsKept() throws {
        let state = try seededState()
        let file = state.appendingPathComponent("knowledge/immune-memory.json")
        try "{\"format\": 1, \"entries\": [".write(to: file, atomically: true, encoding: .utf8)
        for arguments in [["list"], ["forget", Self.oom]] {
            let run = try Medic.run(["memory"] + arguments + ["--state-dir", state.path])
            XCTAssertEqual(run.status, 1)
            XCTAssertTrue(run.stderr.contains("is corrupt"), run.stderr)
        }
        XCTAssertEqual(try String(contentsOf: file, encoding: .utf8), "{\"format\": 1, \"entries\": [")
    }
}
