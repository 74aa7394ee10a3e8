import Foundation
import MedicEngine
import MedicEngineTestKit
import MedicLoader
import MedicModel
import XCTest

/// The stages every front end shares, through the library: load, plan, gate, execute.
final class StageTests: XCTestCase {
    private let action = CleanLibrary.action
    private let playbook = CleanLibrary.playbook

    /// A library folder with the action and `playbooks` written as given; removed after the test.
    private func library(playbooks: [String: String]) throws -> String {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("medic-stages-\(UUID().uuidString)")
        addTeardownBlock { try? FileManager.default.removeItem(at: root) }
        for folder in ["actions", "playbooks"] {
            try FileManager.default.createDirectory(at: root.appendingPathComponent(folder), withIntermediateDirectories: true)
        }
        try action.write(to: root.appendingPathComponent("actions/a.yaml"), atomically: true, encoding: .utf8)
        for (name, text) in playbooks {
            try text.write(to: root.appendingPathComponent("playbooks/\(name)"), atomically: true, encoding: .utf8)
        }
        return root.path
    }

    private func stateDirectory() -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("medic-stages-state-\(UUID().uuidString)")
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        return dir.path
    }

    func testTheCatalogStageLoadsTheLibraryUnderTheRoot() throws {
        let catalog = try CatalogStage().run(root: try library(playbooks: ["p.yaml": playbook]))
        XCTAssertEqual(catalog.playbooks.map(\.id), ["clean-001"])
        XCTAssertEqual(catalog.actions.map(\.name), ["clean"])
    }

    func testTheCatalogStageRefusesALibraryWithErrorsAndReturnsTheErrors() throws {
        let root = try library(playbooks: ["p.yaml": playbook, "broken.yaml": "playbook_id: broken-001\nname: Broken\n"])
        do {
            _ = try CatalogStage().run(root: root)
            XCTFail("a catalog with errors was returned")
        } catch let failure as CatalogStage.Failure {
            XCTAssertFalse(failure.errors.isEmpty)
            XCTAssertTrue(failure.errors.allSatisfy { $0.severity == .error })
            XCTAssertTrue(failure.errors.contains { $0.location.file.hasSuffix("broken.yaml") }, "\(failure.errors)")
        }
    }

    func testThePlanStageFindsAPlaybookByIdOrFileAndSaysWhyWhenItCannot() throws {
        let root = try library(playbooks: ["p.yaml": playbook])
        let catalog = try CatalogStage().run(root: root)
        let stage = PlanStage(catalog: catalog)
        XCTAssertEqual(try stage.playbook(.id("clean-001")).id, "clean-001")
        XCTAssertEqual(try stage.playbook(.file(root + "/playbooks/p.yaml")).id, "clean-001")
        XCTAssertThrowsError(try stage.playbook(.id("clean-002"))) {
            XCTAssertEqual($0 as? PlanStage.Failure, .unknownPlaybook("clean-002", known: ["clean-001"]))
        }
        XCTAssertThrowsError(try stage.playbook(.id("missing/clean.yaml"))) {
            XCTAssertEqual($0 as? PlanStage.Failure, .noSuchFile("missing/clean.yaml"))
        }
        XCTAssertEqual(PlaybookReference(root + "/playbooks/p.yaml"), .file(root + "/playbooks/p.yaml"))
        XCTAssertEqual(PlaybookReference("clean-001"), .id("clean-001"))
    }

    func testThePlanStagePlansWithTheParametersAndRefusesAMissingOne() throws {
        let catalog = try CatalogStage().run(root: try library(playbooks: ["p.yaml": playbook]))
        let stage = PlanStage(catalog: catalog)
        let chosen = try stage.playbook(.id("clean-001"))
        let plan = try stage.run(PlanRequest(playbook: chosen, parameters: ["path": "/var/log"]))
        XCTAssertEqual(plan.playbookID, "clean-001")
        XCTAssertEqual(plan.steps.map(\.action), ["clean"])
        XCTAssertTrue(plan.gates.isEmpty, "the plan stage never gates")
        XCTAssertThrowsError(try stage.run(PlanRequest(playbook: chosen))) { error in
            guard case .invalid(let reason)? = error as? PlanStage.Failure else { return XCTFail("\(error)") }
            XCTAssertTrue(reason.description.contains("path"), reason.description)
        }
    }

    func testTheGateStageRefusesAnAutomatedRunWhilePausedAndLetsAForcedManualOneThrough() async throws {
        let catalog = try CatalogStage().run(root: try library(playbooks: ["p.yaml": playbook]))
        let plan = try PlanStage(catalog: catalog).run(PlanRequest(playbook: try XCTUnwrap(catalog.playbook(id: "clean-001")),
                                                                   parameters: ["path": "/var/log"]))
        let state = stateDirectory()
        try FileManager.default.createDirectory(atPath: state, withIntermediateDirectories: true)
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        try await OperatorSwitch.killSwitch(stateDirectory: state).turnOn(by: "ops", reason: "incident review", now: now)
        let stage = GateStage(catalog: catalog, stateDirectory: state, evaluator: nil)

        let automated = await stage.run(plan, GateRequest(mode: .automated), now: now)
        XCTAssertEqual(automated.gates.count, GatePipeline.standard.gates.count)
        XCTAssertEqual(GatePipeline.blocking(automated.gates)?.gate, .killSwitch)
        XCTAssertEqual(GatePipeline.blocking(automated.gates)?.decision, .refuse)

        let forced = await stage.run(plan, GateRequest(mode: .manual, force: true), now: now)
        XCTAssertEqual(forced.gates.first { $0.gate == .killSwitch }?.decision, .pass)
    }

    func testTheExecutionStageRunsAGatedPlanInTheStoreAndReportsItsOutcome() async throws {
        let catalog = try CatalogStage().run(root: try library(playbooks: ["p.yaml": playbook]))
        let ungated = try PlanStage(catalog: catalog).run(PlanRequest(playbook: try XCTUnwrap(catalog.playbook(id: "clean-001")),
                                                                      parameters: ["path": "/var/log"]))
        let store = try RunStore(directory: stateDirectory())
        let clock = ManualClock()
        let plan = await GateStage(catalog: catalog, stateDirectory: store.directory, evaluator: nil)
            .run(ungated, GateRequest(mode: .manual), now: clock.now)
        let shell = RecordingExecutor()
        let interpreter = Interpreter(executors: ExecutorSet(shell: shell, bus: RecordingExecutor(), http: RecordingExecutor()),
                                      verifier: Verifier(evaluator: ConditionEvaluator(metrics: MetricRegistry(sources: [])), clock: clock),
                                      clock: clock)
        let report = try await ExecutionStage(interpreter: interpreter, stores: .files(store))
            .run(plan, RunRequest(mode: .manual, runID: "stage-run-1", seed: 7))
        XCTAssertEqual(report.runID, "stage-run-1")
        XCTAssertEqual(report.outcome, .succeeded)
        XCTAssertEqual(shell.requests.map(\.action), ["clean"])
        let records = try await store.read(runID: "stage-run-1").records
        XCTAssertEqual(records.first?.event, .runStarted)
        XCTAssertEqual(records.first?.seed, 7)
        XCTAssertTrue(records.contains { $0.event == .gatesEvaluated })
    }
}
