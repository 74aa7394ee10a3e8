import Foundation
import XCTest

/// `medic memory apply|cures` through the built binary (docs/knowledge.md, "Carrying out a
/// cure"): a cure learned from a chaos experiment is published action by action to a real
/// consumer on loopback (`LoopbackBusConsumer`) that carries out some actions, refuses one and
/// never answers another; the record counts them, with durations and errors.
final class ImmuneCureCommandTests: XCTestCase {
    /// A cure of four typed actions (priorities 1-4) and one playbook step (priority 0).
    private static let experiment = """
        {"experiment_id": "exp-cure", "fault_type": "plugin-crash", "components": ["edge-1"], "pattern": "plugin-crash:edge",
         "succeeded": true,
         "remediation": [
           {"playbook_id": "edge", "action": "notify", "priority": 4, "timeout": 60, "type": "NotifyOperator"},
           {"playbook_id": "edge", "action": "restart cache plugin", "priority": 1, "timeout": 60, "type": "RestartPlugin",
            "parameters": {"plugin": "cache"}},
           {"playbook_id": "edge", "action": "reroute", "priority": 3, "timeout": 2, "type": "RerouteTraffic"},
           {"playbook_id": "edge", "action": "drain pool", "priority": 2, "timeout": 60, "type": "DrainConnections"},
           {"playbook_id": "restart-service", "action": "restart", "priority": 0}
         ]}
        """

    /// A state directory whose memory learned `experiment` through `medic memory learn`; the entry's id.
    private func learned(_ experiment: String = ImmuneCureCommandTests.experiment) throws -> (state: URL, id: String) {
        let dir = try Medic.temporaryDirectory(self)
        let file = dir.appendingPathComponent("experiment.json")
        try experiment.write(to: file, atomically: true, encoding: .utf8)
        let state = dir.appendingPathComponent("state")
        let learn = try Medic.run(["memory", "learn", file.path, "--state-dir", state.path, "--json"])
        XCTAssertEqual(learn.status, 0, learn.stderr)
        let changes = try XCTUnwrap(try Medic.json(learn.stdout)["changes"] as? [[String: Any]])
        return (state, try XCTUnwrap(changes.first?["signature_id"] as? String))
    }

    func testACureReachesItsOwnersWhoAcknowledgeRefuseOrNeverAnswer() throws {
        let consumer = try LoopbackBusConsumer { topic in
            switch topic {
            case "connectivity.drain": .status(500, "drain refused: pool busy")
            case "loadbalancer.reroute": .never
            default: .status(202, "done")
            }
        }
        addTeardownBlock { consumer.stop() }
        let (state, id) = try learned()

        let show = try Medic.run(["memory", "show", id, "--state-dir", state.path])
        XCTAssertTrue(show.stdout.contains("restart cache plugin  timeout 60.0s  RestartPlugin on plugin.lifecycle.restart"), show.stdout)

        let apply = try Medic.run(["memory", "apply", String(id.prefix(12)), "--bus", "webhook:" + consumer.url,
                                   "--state-dir", state.path, "--json"])
        XCTAssertEqual(apply.status, 1, "two actions did not succeed: \(apply.stderr)")
        XCTAssertTrue(apply.stderr.contains("2 of 4 actions of cure cure-"), apply.stderr)
        let record = try Medic.json(apply.stdout)
        XCTAssertEqual(record["signature_id"] as? String, id)
        XCTAssertEqual(record["transport"] as? String, "webhook")
        XCTAssertEqual(record["total"] as? Int, 4)
        XCTAssertEqual(record["succeeded"] as? Int, 2)
        XCTAssertEqual(record["failed"] as? Int, 2)
        let actions = try XCTUnwrap(record["actions"] as? [[String: Any]])
        XCTAssertEqual(actions.map { $0["type"] as? String }, ["RestartPlugin", "DrainConnections", "RerouteTraffic", "NotifyOperator"],
                       "priority order; the failure and the timeout do not stop the actions after them")
        XCTAssertEqual(actions.map { $0["topic"] as? String },
                       ["plugin.lifecycle.restart", "connectivity.drain", "loadbalancer.reroute", "observability.alert.operator"])
        XCTAssertEqual(actions.map { $0["status"] as? String }, ["succeeded", "failed", "timed_out", "succeeded"])
        XCTAssertEqual(actions.map { $0["acknowledged"] as? Bool }, [true, true, false, true])
        let drainError = actions[1]["error"] as? String ?? ""
        XCTAssertTrue(drainError.contains("HTTP 500") && drainError.contains("drain refused: pool busy"), drainError)
        XCTAssertNotNil(actions[2]["error"] as? String)
        XCTAssertGreaterThanOrEqual(actions[2]["seconds"] as? Double ?? 0, 1.9, "it waited for its own timeout, 2 s")
        XCTAssertNil(actions[0]["error"] as? String)
        let skipped = try XCTUnwrap(record["skipped"] as? [[String: Any]])
        XCTAssertEqual(skipped.map { $0["playbook_id"] as? String }, ["restart-service"])

        // What the owners received: CloudEvents on the actions' topics, with the cure and the
        // action's own parameters in their data. (Under heavy load the 2 s action may time out
        // before its event is even sent: it is only checked when it arrived.)
        let cureID = try XCTUnwrap(record["cure_id"] as? String)
        let events = consumer.events
        XCTAssertEqual(events.map { $0["type"] as? String }.filter { $0 != "loadbalancer.reroute" },
                       ["plugin.lifecycle.restart", "connectivity.drain", "observability.alert.operator"])
        let restart = try XCTUnwrap(events.first)
        XCTAssertEqual(restart["specversion"] as? String, "1.0")
        XCTAssertEqual(restart["source"] as? String, "medic/runs/\(cureID)")
        XCTAssertEqual(restart["id"] as? String, actions[0]["event_id"] as? String)
        let data = try XCTUnwrap(restart["data"] as? [String: String])
        XCTAssertEqual(data["plugin"], "cache")
        XCTAssertEqual(data["cure_id"], cureID)
        XCTAssertEqual(data["action_type"], "RestartPlugin")
        XCTAssertEqual(data["signature_id"], id)
        XCTAssertEqual(data["components"], "edge-1")
        XCTAssertEqual(data["timeout"], "60.0")

        // The record is kept.
        let cures = try Medic.run(["memory", "cures", String(id.prefix(8)), "--state-dir", state.path, "--json"])
        XCTAssertEqual(cures.status, 0, cures.stderr)
        let kept = try XCTUnwrap(try Medic.json(cures.stdout)["cures"] as? [[String: Any]])
        XCTAssertEqual(kept.count, 1)
        XCTAssertEqual(kept.first?["cure_id"] as? String, cureID)
        XCTAssertEqual((kept.first?["actions"] as? [[String: Any]])?.map { $0["status"] as? String },
                       ["succeeded", "failed", "timed_out", "succeeded"])
        let text = try Medic.run(["memory", "cures", "--state-dir", state.path])
        XCTAssertTrue(text.stdout.contains("4 actions, 2 succeeded, 2 failed"), text.stdout)
        XCTAssertTrue(text.stdout.contains("DrainConnections  connectivity.drain  failed (acknowledged)"), text.stdout)
    }

    func testAnOwnerThatIsNotThereFailsEveryActionAndTheRecordSaysWhy() throws {
        let consumer = try LoopbackBusConsumer { _ in .status(200, "") }
        let url = consumer.url
        consumer.stop()  // nothing listens on the port any more
        let (state, id) = try learned()
        let apply = try Medic.run(["memory", "apply", id, "--bus", "webhook:" + url, "--state-dir", state.path, "--json"])
        XCTAssertEqual(apply.status, 1, apply.stderr)
        let record = try Medic.json(apply.stdout)
        XCTAssertEqual(record["total"] as? Int, 4)
        XCTAssertEqual(record["succeeded"] as? Int, 0)
        XCTAssertEqual(record["failed"] as? Int, 4)
        for action in try XCTUnwrap(record["actions"] as? [[String: Any]]) {
            XCTAssertEqual(action["acknowledged"] as? Bool, false)
            XCTAssertTrue((action["error"] as? String ?? "").contains("cannot publish"), "\(action)")
        }
    }

    func testTheOutboxTakesTheCureUnacknowledged() throws {
        let (state, id) = try learned()
        let apply = try Medic.run(["memory", "apply", id, "--state-dir", state.path])
        XCTAssertEqual(apply.status, 0, apply.stderr)
        XCTAssertTrue(apply.stdout.contains("4 actions, 4 succeeded, 0 failed"), apply.stdout)
        let outbox = try String(contentsOf: state.appendingPathComponent("outbox.jsonl"), encoding: .utf8)
        let types = outbox.split(separator: "\n").compactMap { (try? Medic.json(String($0)))?["type"] as? String }
        XCTAssertEqual(types.filter { $0 != "chaos.immune-memory.changed" },
                       ["plugin.lifecycle.restart", "connectivity.drain", "loadbalancer.reroute", "observability.alert.operator"])
        let cures = try Medic.run(["memory", "cures", "--state-dir", state.path, "--json"])
        let kept = try XCTUnwrap(try Medic.json(cures.stdout)["cures"] as? [[String: Any]])
        XCTAssertEqual((kept.first?["actions"] as? [[String: Any]])?.map { $0["acknowledged"] as? Bool }, [false, false, false, false])
    }

    func testACureWithoutBusActionsAndBadTypesAreClearErrors() throws {
        let (state, id) = try learned("""
            {"fault_type": "oom", "components": [], "pattern": "oom", "succeeded": true,
             "remediation": [{"playbook_id": "restart-service", "action": "restart"}]}
            """)
        let apply = try Medic.run(["memory", "apply", id, "--state-dir", state.path])
        XCTAssertEqual(apply.status, 1)
        XCTAssertTrue(apply.stderr.contains("no action carried out on the bus") && apply.stderr.contains("restart-service"), apply.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: state.appendingPathComponent("knowledge/immune-cures.jsonl").path))

        let dir = try Medic.temporaryDirectory(self)
        for (remediation, expected) in [
            (#"{"playbook_id": "p", "action": "a", "type": "RebootPlanet"}"#, "'type' 'RebootPlanet' is not one of RestartPlugin"),
            (#"{"playbook_id": "p", "action": "a", "type": "ScaleDown", "parameters": {"cure_id": "x"}}"#, "parameter 'cure_id'"),
            (#"{"playbook_id": "p", "action": "a", "parameters": {"n": "1"}}"#, "'parameters' are for an action with a 'type'"),
        ] {
            let file = dir.appendingPathComponent("bad.json")
            try #"{"fault_type": "f", "components": [], "pattern": "f", "succeeded": true, "remediation": [\#(remediation)]}"#
                .write(to: file, atomically: true, encoding: .utf8)
            let learn = try Medic.run(["memory", "learn", file.path, "--state-dir", dir.appendingPathComponent("s").path])
            XCTAssertEqual(learn.status, 1, remediation)
            XCTAssertTrue(learn.stderr.contains(expected), learn.stderr)
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir.appendingPathComponent("s/knowledge/immune-memory.json").path))
    }

    /// A playbook whose step is a bus action on a cure's topic, run in a chaos experiment: the
    /// memory remembers that step as its typed action, and the cure can then be carried out by
    /// the system owning the topic, without the playbook.
    func testARunsBusStepIsRememberedAsATypedActionAndCarriedOutAgain() throws {
        let dir = try Medic.temporaryDirectory(self)
        func write(_ path: String, _ text: String) throws {
            let url = dir.appendingPathComponent(path)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try text.write(to: url, atomically: true, encoding: .utf8)
        }
        try write("actions/a.yaml", """
            actions:
              restart_plugin:
                type: application
                executor: bus
                risk_level: low
                parameters: {plugin: required}
                topic: plugin.lifecycle.restart
              log:
                type: application
                risk_level: low
                implementation: echo logged
            """)
        try write("playbooks/restart-plugin-001.yaml", """
            playbook_id: restart-plugin-001
            name: restart a plugin
            version: 1.0.0
            category: application
            severity: SEV3
            parameters:
              plugin: {type: string, required: true}
            remediation_steps:
              - {step: 1, name: log it, action: log}
              - {step: 2, name: restart, action: restart_plugin, timeout: 45s}
            metadata: {}
            """)
        let state = dir.appendingPathComponent("state").path
        let run = try Medic.run(["run", "restart-plugin-001", "--param", "plugin=cache", "--chaos-experiment", "exp-1",
                                 "--fault-type", "plugin-crash", "--component", "edge-1", "--pattern", "plugin-crash:edge",
                                 "--state-dir", state], in: dir)
        XCTAssertEqual(run.status, 0, run.stdout + run.stderr)
        let list = try Medic.json(try Medic.run(["memory", "list", "--state-dir", state, "--json"]).stdout)
        let entry = try XCTUnwrap((list["entries"] as? [[String: Any]])?.first)
        let actions = try XCTUnwrap(entry["actions"] as? [[String: Any]])
        XCTAssertEqual(actions.map { $0["action"] as? String }, ["log it", "restart"])
        XCTAssertEqual(actions.map { $0["type"] as? String }, [nil, "RestartPlugin"], "the bus step on plugin.lifecycle.restart is typed")
        XCTAssertEqual(actions.last?["timeout"] as? Double, 45)

        let consumer = try LoopbackBusConsumer { _ in .status(200, "restarted") }
        addTeardownBlock { consumer.stop() }
        let id = try XCTUnwrap((entry["signature"] as? [String: Any])?["id"] as? String)
        let apply = try Medic.run(["memory", "apply", id, "--bus", "webhook:" + consumer.url, "--state-dir", state, "--json"])
        XCTAssertEqual(apply.status, 0, apply.stderr)
        let record = try Medic.json(apply.stdout)
        XCTAssertEqual(record["total"] as? Int, 1)
        XCTAssertEqual(record["succeeded"] as? Int, 1)
        XCTAssertEqual((record["skipped"] as? [[String: Any]])?.map { $0["action"] as? String }, ["log it"])
        XCTAssertEqual(consumer.events.map { $0["type"] as? String }, ["plugin.lifecycle.restart"])
        XCTAssertEqual((consumer.events.first?["data"] as? [String: String])?["action"], "restart")
    }
}
