import Foundation
import MedicEngine
import MedicModel
import XCTest

/// Chaos experiment files (Medic's format and Chaos Toolkit's) read into experiments, and the
/// recovery of a journal a dead Medic left: real files, real shells.
final class ChaosExperimentTests: XCTestCase {
    private var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("medic-chaos-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    private func file(_ name: String, _ text: String) throws -> String {
        let path = dir.appendingPathComponent(name).path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    private func problems(_ path: String, environment: [String: String] = [:]) -> [String] {
        do {
            _ = try ChaosExperimentLoader.load(path: path, environment: environment)
            return []
        } catch let error as ChaosExperimentError {
            return error.problems
        } catch {
            return ["\(error)"]
        }
    }

    func testEveryFaultOfAMedicExperimentIsReportedAtItsPlace() throws {
        let path = try file("bad.yaml", """
            id: bad
            fault_type: x
            steady_state:
              - {name: a, shell: "true", http: {url: "http://127.0.0.1:1/"}}
              - {name: b, shell: "true", expect: {status: [two]}}
            fault:
              inject: [{name: i, shell: "true", timout: 5s}]
            detection: {rule: r, within: soon}
            """)
        let found = problems(path)
        XCTAssertTrue(found.contains { $0.hasPrefix("\(path):4:") && $0.contains("exactly one of shell, process, http") }, "\(found)")
        XCTAssertTrue(found.contains { $0.hasPrefix("\(path):5:") && $0.contains("'expect.status' must be a whole number") }, "\(found)")
        XCTAssertTrue(found.contains { $0.hasPrefix("\(path):7:") && $0.contains("unknown key 'timout'") }, "\(found)")
        XCTAssertTrue(found.contains { $0.contains("'fault.revert' must list at least one activity") }, "\(found)")
        XCTAssertTrue(found.contains { $0.hasPrefix("\(path):8:") && $0.contains("'detection.within'") }, "\(found)")
    }

    func testAMedicExperimentReadsWhole() throws {
        let experiment = try ChaosExperimentLoader.load(path: try file("ok.yaml", """
            id: ok
            fault_type: service-killed
            targets: [{name: web, labels: {chaos_allowed: "true"}}]
            steady_state: [{name: up, http: {url: "http://127.0.0.1:9/"}, expect: {status: [200, 204]}}]
            fault:
              inject: [{name: kill, process: {path: kill, arguments: ["-9", "1 2"]}, pause_after: 1s}]
              revert: [{name: start, shell: start-it, environment: {MODE: safe}, timeout: 2m}]
            detection: {rule: [a, b], playbook: p, within: 30s}
            recovery: {within: 90s}
            blast_radius: {max_incidents: 2}
            """))
        XCTAssertEqual(experiment.format, .medic)
        XCTAssertEqual(experiment.pattern, "service-killed")
        XCTAssertNil(experiment.targetRefusal)
        XCTAssertEqual(experiment.steadyState.first?.tolerance, .status([200, 204]))
        XCTAssertEqual(experiment.inject.first?.kind, .process(path: "kill", arguments: ["-9", "1 2"], argumentLine: nil))
        XCTAssertEqual(experiment.inject.first?.pauseAfter, 1)
        XCTAssertEqual(experiment.revert.first?.timeout, 120)
        XCTAssertEqual(experiment.revert.first?.environment, ["MODE": "safe"])
        XCTAssertEqual(experiment.detectionRules, ["a", "b"])
        XCTAssertEqual(experiment.recoverWithin, 90)
        XCTAssertEqual(experiment.maxIncidents, 2)
    }

    func testTargetsMustAllowChaos() throws {
        var experiment = ChaosExperiment(id: "x", title: "x", format: .medic, file: "x", faultType: "x", pattern: "x", targets: [])
        XCTAssertNotNil(experiment.targetRefusal)
        experiment.targets = [TargetSpec(name: "a", labels: ["chaos_allowed": "true"]), TargetSpec(name: "b", labels: ["chaos_allowed": "yes"])]
        XCTAssertEqual(experiment.targetRefusal?.contains("target(s) b not labelled"), true)
    }

    func testAChaosToolkitExperimentMapsItsProvidersTolerancesAndConfiguration() throws {
        let path = try file("ctk.json", """
            {"title": "Kill it", "configuration": {"port": {"type": "env", "key": "PORT"}, "who": "web"},
             "secrets": {"auth": {"token": {"type": "env", "key": "TOKEN", "default": "t0"}}},
             "controls": [{"name": "c"}],
             "steady-state-hypothesis": {"title": "t", "probes": [
               {"type": "probe", "name": "status", "tolerance": 200, "provider": {"type": "http", "url": "http://127.0.0.1:${port}/", "headers": {"A": "${token}"}, "timeout": [1, 2]}},
               {"type": "probe", "name": "range", "tolerance": {"type": "range", "range": [0, 1], "target": "status"}, "provider": {"type": "process", "path": "true"}},
               {"type": "probe", "name": "regex", "tolerance": {"type": "regex", "pattern": "^ok"}, "provider": {"type": "process", "path": "echo", "arguments": "ok ${who}"}},
               {"type": "probe", "name": "jp", "tolerance": {"type": "jsonpath", "path": "$.a"}, "provider": {"type": "process", "path": "true"}},
               {"type": "probe", "name": "py", "tolerance": true, "provider": {"type": "python", "module": "m", "func": "f"}}]},
             "method": [{"type": "action", "name": "kill", "provider": {"type": "process", "path": "pkill", "arguments": ["-f", "${who}"]}, "pauses": {"after": 2}},
                        {"ref": "kill"}],
             "rollbacks": [{"type": "action", "name": "start", "provider": {"type": "http", "url": "http://127.0.0.1:${port}/start", "method": "post", "arguments": {"n": 1}, "expected_status": 202}}]}
            """)
        let experiment = try ChaosExperimentLoader.load(path: path, environment: ["PORT": "8080"])
        XCTAssertEqual(experiment.format, .chaosToolkit)
        XCTAssertEqual(experiment.id, "kill-it")
        XCTAssertEqual(experiment.steadyState.map(\.name), ["status", "range", "regex"])
        XCTAssertEqual(experiment.steadyState[0].kind, .http(ChaosHTTPCall(url: "http://127.0.0.1:8080/", headers: ["A": "t0"])))
        XCTAssertEqual(experiment.steadyState[0].timeout, 3)
        XCTAssertEqual(experiment.steadyState[0].tolerance, .status([200]))
        XCTAssertEqual(experiment.steadyState[1].tolerance, .statusRange(0, 1))
        XCTAssertEqual(experiment.steadyState[2].tolerance, .regex("^ok"))
        XCTAssertEqual(experiment.steadyState[2].kind, .process(path: "echo", arguments: [], argumentLine: "ok web"))
        XCTAssertEqual(experiment.inject.map(\.name), ["kill", "kill"])
        XCTAssertEqual(experiment.inject[0].pauseAfter, 2)
        XCTAssertTrue(experiment.inject.allSatisfy(\.mayFail))
        XCTAssertEqual(experiment.revert.first?.kind, .http(ChaosHTTPCall(url: "http://127.0.0.1:8080/start", method: "POST", body: #"{"n":1}"#)))
        XCTAssertEqual(experiment.revert.first?.tolerance, .status([202]))
        XCTAssertEqual(experiment.unsupported.count, 3, "\(experiment.unsupported)")
        XCTAssertTrue(experiment.unsupported.contains { $0.hasPrefix("controls") })
        XCTAssertTrue(experiment.unsupported.contains { $0.contains("'jp'") && $0.contains("jsonpath") })
        XCTAssertTrue(experiment.unsupported.contains { $0.contains("'py' uses a python provider") })
        // Without the environment variable: an error that names it.
        XCTAssertTrue(problems(path).contains { $0.contains("environment variable PORT, which is not set") }, "\(problems(path))")
    }

    func testTolerancesJudgeAnswers() {
        XCTAssertTrue(ChaosTolerance.status([0]).holds(status: 0, output: "", succeeded: true))
        XCTAssertFalse(ChaosTolerance.status([0]).holds(status: nil, output: "", succeeded: false))
        XCTAssertTrue(ChaosTolerance.output("ok").holds(status: 0, output: " ok\n", succeeded: true))
        XCTAssertFalse(ChaosTolerance.regex("^ok$").holds(status: 0, output: "not ok", succeeded: true))
        XCTAssertTrue(ChaosTolerance.statusRange(200, 299).holds(status: 204, output: "", succeeded: true))
        XCTAssertTrue(ChaosTolerance.succeeded(false).holds(status: 1, output: "", succeeded: false))
        XCTAssertTrue(ChaosTolerance.anyAnswer.holds(status: 500, output: "", succeeded: false))
        XCTAssertFalse(ChaosTolerance.anyAnswer.holds(status: nil, output: "", succeeded: false))
    }

    /// A journal as a Medic SIGKILLed after the injection leaves it: the recovery runs the
    /// journaled revert and teardown once, closes the journal, and the next recovery finds nothing.
    func testRecoveryRevertsWhatADeadMedicInjectedOnceAndOnlyThen() async throws {
        let state = dir.appendingPathComponent("state").path
        let effects = dir.appendingPathComponent("effects").path
        func journal(_ name: String, injected: Bool, reverted: Bool) throws {
            let journal = try ChaosJournal.create(in: state, experiment: name, at: Date())
            var start = ChaosJournalRecord(event: .started, at: Date(), experiment: name)
            start.revert = [ChaosActivity(name: "revert", kind: .shell(script: "echo \"revert $WHO\" >> '\(effects)'"), environment: ["WHO": name])]
            start.teardown = [ChaosActivity(name: "teardown", kind: .shell(script: "echo \"teardown $WHO\" >> '\(effects)'"), environment: ["WHO": name])]
            start.workdir = dir.path
            try journal.append(start)
            if injected { try journal.append(ChaosJournalRecord(event: .injectStarted, at: Date(), experiment: name)) }
            if reverted {
                var done = ChaosJournalRecord(event: .revertFinished, at: Date(), experiment: name)
                done.succeeded = true
                try journal.append(done)
            }
            // A record torn by the crash: never whole, so its side effect never began.
            let handle = try XCTUnwrap(FileHandle(forWritingAtPath: journal.path))
            try handle.seekToEnd()
            try handle.write(contentsOf: Data(#"{"event":"teardown_star"#.utf8))
            try handle.close()
        }
        try journal("a", injected: true, reverted: false)
        try journal("b", injected: true, reverted: true)
        try journal("c", injected: false, reverted: false)
        let runner = { (workdir: String?) in ChaosActivityRunner(shell: ShellStepExecutor(workingDirectory: workdir), http: HTTPExecutor()) }
        let recovered = await ChaosRecovery.recover(stateDirectory: state, now: { Date() }, activities: runner)
        XCTAssertEqual(recovered.map(\.experiment).sorted(), ["a", "b", "c"])
        XCTAssertTrue(recovered.allSatisfy { $0.reverted && $0.cleanedUp })
        let lines = try String(contentsOfFile: effects, encoding: .utf8).split(separator: "\n").sorted()
        // c never injected nor set up: nothing to revert or tear down.
        XCTAssertEqual(lines, ["revert a", "teardown a", "teardown b"])
        let again = await ChaosRecovery.recover(stateDirectory: state, now: { Date() }, activities: runner)
        XCTAssertTrue(again.isEmpty)
        XCTAssertEqual(ChaosJournal.unfinished(in: state).count, 0)
    }
}
