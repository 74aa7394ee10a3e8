import Foundation
import XCTest

/// The JSON each command prints has the shape its schema under schemas/output/ documents: real
/// outputs of the built binary, checked with `OutputSchemaChecker`.
final class OutputSchemaTests: XCTestCase {
    private func write(_ text: String, to path: String, in directory: URL) throws {
        let url = directory.appendingPathComponent(path)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try text.write(to: url, atomically: true, encoding: .utf8)
    }

    private func checker(_ name: String) throws -> OutputSchemaChecker {
        try OutputSchemaChecker(schema: Medic.repositoryRoot.appendingPathComponent("schemas/output/\(name).schema.json"))
    }

    private func assertShape(_ text: String, _ schema: String, lines: Bool = false, _ what: String,
                             file: StaticString = #filePath, line: UInt = #line) throws {
        let checker = try checker(schema)
        let documents = lines ? text.split(separator: "\n").map(String.init) : [text]
        XCTAssertFalse(documents.isEmpty, "\(what): no output", file: file, line: line)
        for document in documents {
            let value = try JSONSerialization.jsonObject(with: Data(document.utf8), options: [.fragmentsAllowed])
            let problems = checker.problems(value)
            XCTAssertEqual(problems, [], "\(what) does not match schemas/output/\(schema).schema.json", file: file, line: line)
        }
        XCTAssertFalse(text.contains("\"_0\""), "\(what) shows Swift's internal keys", file: file, line: line)
    }

    /// A library with a playbook that has preconditions of both kinds, a verification and a rule.
    private func library() throws -> URL {
        let dir = try Medic.temporaryDirectory(self)
        try write("""
            actions:
              note:
                type: infrastructure
                risk_level: low
                parameters: {log: required}
                implementation: echo noted >> "${log}"
            """, to: "actions/a.yaml", in: dir)
        try write("""
            playbook_id: note-001
            name: Note
            version: 1.0.0
            category: infrastructure
            severity: SEV3
            pre_conditions:
              - check: writable_filesystem
              - 'disk_usage_percent{path="/"} < 101'
            parameters:
              log: {type: string, default: "\(dir.appendingPathComponent("log").path)"}
            remediation_steps:
              - {step: 1, name: note, action: note, retry: {attempts: 2, backoff: linear, initial: 1s}}
            verification:
              check: 'disk_usage_percent{path="/"} < 101'
            metadata: {}
            """, to: "playbooks/p.yaml", in: dir)
        try write("""
            rules:
              - name: disk-filling
                metric: disk_usage_percent
                detector: threshold
                params: {op: ">", value: 85}
                for: 1m
                severity: SEV3
                playbook: note-001
            """, to: "rules/r.yaml", in: dir)
        let feed = [0, 30, 60, 90].map {
            #"{"ts": \#(1_800_000_000 + $0), "metric": "disk_usage_percent", "labels": {"path": "/var"}, "value": 93}"#
        }
        try write(feed.joined(separator: "\n") + "\n", to: "feed.jsonl", in: dir)
        return dir
    }

    func testPlanPreconditionsAreWordsNotSwiftsInternalKeys() throws {
        let dir = try library()
        let result = try Medic.run(["plan", "note-001", "--root", dir.path, "--state-dir", dir.appendingPathComponent("s").path, "--json"], in: dir)
        XCTAssertEqual(result.status, 0, result.stderr)
        try assertShape(result.stdout, "plan", "plan --json")
        let plan = try Medic.json(result.stdout)
        let preconditions = try XCTUnwrap(plan["preconditions"] as? [[String: Any]])
        XCTAssertEqual(preconditions.count, 2)
        XCTAssertEqual((preconditions[0]["check"] as? [String: Any])?["name"] as? String, "writable_filesystem")
        XCTAssertEqual(preconditions[1]["condition"] as? String, #"disk_usage_percent{path="/"} < 101"#)
        XCTAssertEqual((plan["verification"] as? [String: Any])?["check"] as? String, #"disk_usage_percent{path="/"} < 101"#)
    }

    func testEveryCommandsJSONMatchesItsSchema() throws {
        let dir = try library()
        let state = dir.appendingPathComponent("state").path
        let common = ["--root", dir.path, "--state-dir", state]
        let run = try Medic.run(["run", "note-001", "--json"] + common, in: dir)
        XCTAssertEqual(run.status, 0, run.stdout + run.stderr)
        try assertShape(run.stdout, "run", "run --json")
        let runID = try XCTUnwrap(try Medic.json(run.stdout)["run_id"] as? String)
        try assertShape(try Medic.run(["run", "note-001", "--dry-run", "--json"] + common, in: dir).stdout, "plan", "run --dry-run --json")
        try assertShape(try Medic.run(["runs", "--state-dir", state, "--json"], in: dir).stdout, "runs", "runs --json")
        try assertShape(try Medic.run(["show", runID, "--state-dir", state, "--json"], in: dir).stdout, "show", "show --json")
        try assertShape(try Medic.run(["list", "--root", dir.path, "--json"], in: dir).stdout, "list", "list --json")
        try assertShape(try Medic.run(["list", "--json"]).stdout, "list", "list --json of the shipped library")
        try assertShape(try Medic.run(["validate", "--root", dir.path, "--format", "json"], in: dir).stdout, "validate", "validate --format json")
        try assertShape(try Medic.run(["validate", "--format", "json", Medic.fixtures.appendingPathComponent("invalid").path]).stdout,
                        "validate", "validate --format json of the invalid fixtures")
        try assertShape(try Medic.run(["watch", "--input", "feed.jsonl", "--dry-run", "--json"] + common, in: dir).stdout, "watch-event",
                        lines: true, "watch --dry-run --json")
        try assertShape(try Medic.run(["kb", "stats", "--state-dir", state, "--json"], in: dir).stdout, "kb-stats", "kb stats --json")
        let checks = dir.appendingPathComponent("health-checks.yaml")
        try "shallow_checks:\n  works: {command: \"true\"}\ndeep_checks:\n  fails: {command: \"false\", retry: 0}\n"
            .write(to: checks, atomically: true, encoding: .utf8)
        try assertShape(try Medic.run(["status", "--checks", checks.path, "--state-dir", state, "--json"], in: dir).stdout, "status",
                        "status --checks --json")
        for (schema, arguments) in [("kb-advise", ["kb", "advise"]), ("kb-update", ["kb", "update"]), ("breaker", ["breaker", "list"]),
                                    ("health", ["health"]), ("memory-list", ["memory", "list"]), ("report", ["report", "daily"])] {
            let output = try Medic.run(arguments + ["--state-dir", state, "--json"], in: dir).stdout
            try assertShape(output, schema, arguments.joined(separator: " ") + " --json")
        }
    }

    func testMemoryApplyJSONMatchesItsSchema() throws {
        let dir = try Medic.temporaryDirectory(self)
        let state = dir.appendingPathComponent("state").path
        try write("""
            {"experiment_id": "exp-cure", "fault_type": "plugin-crash", "components": ["edge-1"], "pattern": "plugin-crash:edge",
             "succeeded": true,
             "remediation": [
               {"playbook_id": "edge", "action": "restart cache plugin", "priority": 1, "timeout": 60, "type": "RestartPlugin",
                "parameters": {"plugin": "cache"}},
               {"playbook_id": "restart-service", "action": "restart", "priority": 0}
             ]}
            """, to: "experiment.json", in: dir)
        let learn = try Medic.run(["memory", "learn", dir.appendingPathComponent("experiment.json").path, "--state-dir", state, "--json"], in: dir)
        XCTAssertEqual(learn.status, 0, learn.stderr)
        let changes = try XCTUnwrap(try Medic.json(learn.stdout)["changes"] as? [[String: Any]])
        let id = try XCTUnwrap(changes.first?["signature_id"] as? String)
        let apply = try Medic.run(["memory", "apply", id, "--state-dir", state, "--json"], in: dir)
        XCTAssertEqual(apply.status, 0, apply.stderr)
        try assertShape(apply.stdout, "memory-apply", "memory apply --json")
        let checker = try checker("memory-apply")
        var record = try Medic.json(apply.stdout)
        record["transport"] = "carrier-pigeon"
        XCTAssertFalse(checker.problems(record).isEmpty, "a transport the schema does not name")
        record.removeValue(forKey: "skipped")
        XCTAssertTrue(checker.problems(record).contains { $0.contains("skipped") }, "\(checker.problems(record))")
    }

    func testTheCheckerRefusesWhatItsSchemaRefuses() throws {
        let list = try checker("list")
        XCTAssertEqual(list.problems(["root": ".", "playbooks": [], "actions": [], "rules": [], "policies": []]), [])
        XCTAssertFalse(list.problems(["root": ".", "playbooks": [], "actions": [], "rules": []]).isEmpty, "policies missing")
        XCTAssertFalse(list.problems(["root": 1, "playbooks": [], "actions": [], "rules": [], "policies": []]).isEmpty, "root not text")
        XCTAssertFalse(list.problems(["root": ".", "playbooks": [["id": "x"]], "actions": [], "rules": [], "policies": []]).isEmpty,
                       "a playbook without its fields")
        let plan = try checker("plan")
        let swiftKeys: [String: Any] = ["condition": ["_0": ["source": "a > 1", "expression": [:] as [String: Any]]]]
        XCTAssertTrue(plan.problems(["preconditions": [swiftKeys]]).contains { $0.contains("preconditions[0]") },
                      "\(plan.problems(["preconditions": [swiftKeys]]))")
    }
}
