import Foundation
import XCTest

/// Playbook selection through the binary: `medic plan --incident` ranks a rule's candidates with
/// each score's parts, `medic memory learn` teaches the memory a chaos experiment's cure (which
/// the next plan proposes first), an incident nothing can take says it would escalate.
final class SelectionCommandTests: XCTestCase {
    private struct Workspace {
        var dir: URL
        var state: String { dir.appendingPathComponent("state").path }

        func write(_ path: String, _ text: String) throws {
            let url = dir.appendingPathComponent(path)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try text.write(to: url, atomically: true, encoding: .utf8)
        }

        func medic(_ arguments: [String]) throws -> MedicRun {
            try Medic.run(arguments + ["--state-dir", state], in: dir)
        }
    }

    private func workspace() throws -> Workspace {
        let ws = Workspace(dir: try Medic.temporaryDirectory(self))
        try ws.write("actions/a.yaml", """
            actions:
              clean:
                type: infrastructure
                risk_level: low
                parameters: {path: required}
                implementation: echo clean
            """)
        for id in ["clean-001", "archive-001"] {
            try ws.write("playbooks/\(id).yaml", """
                playbook_id: \(id)
                name: \(id)
                version: 1.0.0
                category: infrastructure
                severity: SEV3
                parameters:
                  path: {type: string, required: true}
                remediation_steps:
                  - {step: 1, name: clean, action: clean}
                metadata: {}
                """)
        }
        try ws.write("rules/r.yaml", """
            rules:
              - name: disk-filling
                metric: disk_usage_percent
                detector: threshold
                params: {op: ">", value: 85}
                severity: SEV3
                playbook: [clean-001, archive-001]
                parameters_from_labels: {path: path}
              - name: orphan
                metric: queue_depth
                detector: threshold
                params: {op: ">", value: 100}
                severity: SEV2
            """)
        return ws
    }

    func testPlanRanksTheCandidatesAndTheMemoryLearnedFromAnExperimentGoesFirst() throws {
        let ws = try workspace()
        let text = try ws.medic(["plan", "--incident", "disk-filling", "--label", "path=/var"])
        XCTAssertEqual(text.status, 0, text.stderr)
        XCTAssertTrue(text.stdout.hasPrefix("Plan for clean-001"), "a tie keeps the rule's order:\n" + text.stdout)
        XCTAssertTrue(text.stdout.contains("among 2 candidate(s) ranked by success_rate 0.4, avg_execution_time 0.2, blast_radius_match 0.3, recency 0.1"), text.stdout)
        XCTAssertTrue(text.stdout.contains("  2. archive-001  score 0.600"), text.stdout)
        XCTAssertTrue(text.stdout.contains("success_rate       0.4 x 0.500 = 0.200  no run recorded and none declared: 0.5"), text.stdout)
        XCTAssertTrue(text.stdout.contains("path='/var'"), "the label became the parameter:\n" + text.stdout)
        XCTAssertTrue(text.stdout.contains("safe_mode: needs_approval — a new incident type"),
                      "the gates as an automated run meets them:\n" + text.stdout)

        // A chaos experiment found that archive-001 cures exactly this fault.
        let signature = try XCTUnwrap(try Medic.json(try ws.medic(["plan", "--incident", "disk-filling", "--label", "path=/var", "--json"]).stdout)["selection"]
                                          as? [String: Any])["signature"] as? [String: Any]
        XCTAssertEqual(signature?["fault_type"] as? String, "disk-filling")
        XCTAssertEqual(signature?["components"] as? [String], ["path=/var"])
        XCTAssertEqual(signature?["pattern"] as? String, "disk_usage_percent:sev3")
        try ws.write("experiment.json", """
            {"experiment_id": "exp-1", "fault_type": "disk-filling", "components": ["path=/var"],
             "pattern": "disk_usage_percent:sev3", "succeeded": true,
             "remediation": [{"playbook_id": "archive-001", "action": "clean", "timeout": 20}]}
            """)
        let learn = try ws.medic(["memory", "learn", "experiment.json", "--json"])
        XCTAssertEqual(learn.status, 0, learn.stderr)
        let learned = try Medic.json(learn.stdout)
        let changes = try XCTUnwrap(learned["changes"] as? [[String: Any]])
        XCTAssertEqual(changes.map { $0["kind"] as? String }, ["learned"])
        XCTAssertEqual(changes.first?["signature_id"] as? String, signature?["id"] as? String)
        XCTAssertEqual((learned["event_ids"] as? [String])?.count, 1)
        let outbox = try String(contentsOfFile: ws.state + "/outbox.jsonl", encoding: .utf8)
        XCTAssertTrue(outbox.contains("\"type\":\"chaos.immune-memory.changed\""), outbox)

        let json = try ws.medic(["plan", "--incident", "disk-filling", "--label", "path=/var", "--json"])
        XCTAssertEqual(json.status, 0, json.stderr)
        let plan = try Medic.json(json.stdout)
        XCTAssertEqual(plan["playbook_id"] as? String, "archive-001", "the remembered cure goes first")
        let selection = try XCTUnwrap(plan["selection"] as? [String: Any])
        XCTAssertEqual((selection["remembered"] as? [String: Any])?["match"] as? String, "exact")
        let ranking = try XCTUnwrap(selection["ranking"] as? [[String: Any]])
        XCTAssertEqual(ranking.map { $0["playbook_id"] as? String }, ["archive-001", "clean-001"])
        XCTAssertEqual(ranking.first?["remembered"] as? Bool, true)
        XCTAssertEqual((ranking.first?["parts"] as? [[String: Any]])?.map { $0["criterion"] as? String },
                       ["success_rate", "avg_execution_time", "blast_radius_match", "recency"])
        XCTAssertNotNil(plan["gates"], "still through the gates")
        // Planning only reads the memory: nothing more was published.
        XCTAssertEqual(try String(contentsOfFile: ws.state + "/outbox.jsonl", encoding: .utf8), outbox)
    }

    func testAnIncidentNoPlaybookCanTakeWouldBeEscalated() throws {
        let ws = try workspace()
        let run = try ws.medic(["plan", "--incident", "orphan"])
        XCTAssertEqual(run.status, 1)
        XCTAssertTrue(run.stdout.contains("No applicable remediation playbook: rule 'orphan' names no playbook"), run.stdout)
        XCTAssertTrue(run.stdout.contains("would escalate"), run.stdout)
        let json = try Medic.json(try ws.medic(["plan", "--incident", "orphan", "--json"]).stdout)
        XCTAssertEqual(json["unmatched"] as? Bool, true)
    }

    func testMistakesAreUsageErrorsAndABadExperimentChangesNothing() throws {
        let ws = try workspace()
        XCTAssertEqual(try ws.medic(["plan", "--incident", "disk-filing"]).status, 2)
        XCTAssertTrue(try ws.medic(["plan", "--incident", "disk-filing"]).stderr.contains("did you mean 'disk-filling'"))
        XCTAssertEqual(try ws.medic(["plan", "clean-001", "--incident", "disk-filling"]).status, 2)
        XCTAssertEqual(try ws.medic(["plan", "clean-001", "--label", "path=/var"]).status, 2)
        XCTAssertEqual(try ws.medic(["plan", "--incident", "disk-filling", "--label", "novalue"]).status, 2)

        try ws.write("bad.jsonl", """
            {"fault_type": "f", "components": [], "pattern": "p:q", "succeeded": false}
            {"fault_type": "f", "components": [], "pattern": "p:q", "succeeded": 1, "remediation": [{"playbook_id": "x", "action": "y"}]}
            """)
        let bad = try ws.medic(["memory", "learn", "bad.jsonl"])
        XCTAssertEqual(bad.status, 1)
        XCTAssertTrue(bad.stderr.contains("bad.jsonl:2: 'succeeded' must be true or false"), bad.stderr)
        try ws.write("typo.json", #"{"fault_type": "f", "components": [], "pattern": "p", "succeded": true}"#)
        XCTAssertTrue(try ws.medic(["memory", "learn", "typo.json"]).stderr.contains("unknown field 'succeded'"))
        let list = try ws.medic(["memory", "list"])
        XCTAssertTrue(list.stdout.contains("The immune memory is empty."), list.stdout)
        XCTAssertFalse(FileManager.default.fileExists(atPath: ws.state + "/outbox.jsonl"), "nothing was published")
    }

    func testARunInAChaosExperimentIsCountedApartAndTeachesTheMemory() throws {
        let ws = try workspace()
        XCTAssertEqual(try ws.medic(["run", "clean-001", "--param", "path=/x", "--fault-type", "f", "--pattern", "p:q"]).status, 2,
                       "a fault without --chaos-experiment")
        XCTAssertEqual(try ws.medic(["run", "clean-001", "--param", "path=/x", "--chaos-experiment", "e", "--fault-type", "f"]).status, 2,
                       "--fault-type without --pattern")
        let run = try ws.medic(["run", "archive-001", "--param", "path=/var", "--chaos-experiment", "exp-9",
                                "--fault-type", "disk-filling", "--component", "path=/var", "--pattern", "disk_usage_percent:sev3"])
        XCTAssertEqual(run.status, 0, run.stdout + run.stderr)
        let stats = try Medic.json(try ws.medic(["kb", "stats", "--json"]).stdout)
        let kpis = try XCTUnwrap(stats["kpis"] as? [String: Any])
        XCTAssertEqual(kpis["incidents"] as? Int, 0, "a chaos run is no incident")
        XCTAssertEqual(kpis["chaos_runs"] as? Int, 1)
        let text = try ws.medic(["kb", "stats"]).stdout
        XCTAssertTrue(text.hasPrefix("Incidents: 0 (0 attempted); and 1 chaos experiment run(s), in the playbooks' figures only"), text)
        let playbooks = try XCTUnwrap(stats["playbooks"] as? [[String: Any]])
        XCTAssertEqual(playbooks.first?["playbook_id"] as? String, "archive-001")
        XCTAssertEqual(playbooks.first?["runs"] as? Int, 1)
        // The fault it named is the one disk-filling on path=/var is: the next plan proposes the cure.
        let plan = try Medic.json(try ws.medic(["plan", "--incident", "disk-filling", "--label", "path=/var", "--json"]).stdout)
        XCTAssertEqual(plan["playbook_id"] as? String, "archive-001")
        XCTAssertEqual(((plan["selection"] as? [String: Any])?["remembered"] as? [String: Any])?["match"] as? String, "exact")
        let show = try ws.medic(["memory", "list"])
        XCTAssertTrue(show.stdout.contains("disk-filling  disk_usage_percent:sev3  1 obs  100.0%"), show.stdout)
    }

    /// Eight processes learning at once (each its own fault): the memory's lock keeps every lesson.
    func testConcurrentLearnersNeverLoseAChange() throws {
        let ws = try workspace()
        var processes: [Process] = []
        for n in 0..<8 {
            try ws.write("e\(n).json", """
                {"fault_type": "fault-\(n)", "components": ["c"], "pattern": "p:\(n)", "succeeded": true,
                 "remediation": [{"playbook_id": "clean-001", "action": "clean"}]}
                """)
            let process = Process()
            process.executableURL = Medic.binary
            process.arguments = ["memory", "learn", "e\(n).json", "--state-dir", ws.state]
            process.currentDirectoryURL = ws.dir
            process.standardOutput = FileHandle.nullDevice
            processes.append(process)
        }
        for process in processes { try process.run() }
        for process in processes {
            process.waitUntilExit()
            XCTAssertEqual(process.terminationStatus, 0)
        }
        let list = try Medic.json(try ws.medic(["memory", "list", "--json"]).stdout)
        let entries = try XCTUnwrap(list["entries"] as? [[String: Any]])
        XCTAssertEqual(Set(entries.compactMap { ($0["signature"] as? [String: Any])?["fault_type"] as? String }),
                       Set((0..<8).map { "fault-\($0)" }))
        let outbox = try String(contentsOfFile: ws.state + "/outbox.jsonl", encoding: .utf8)
        XCTAssertEqual(outbox.split(separator: "\n").count, 8, "one change event each")
    }
}
