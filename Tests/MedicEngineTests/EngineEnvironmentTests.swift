import Foundation
import MedicEngine
import MedicEngineTestKit
import MedicLoader
import MedicModel
import XCTest

/// Two engines in one process, each with its own environment (clock, running steps, HTTP client,
/// blocking pool) and its own state directory: neither sees the other's steps, runs or time.
final class EngineEnvironmentTests: XCTestCase {
    private let actions = """
        actions:
          hold:
            type: infrastructure
            risk_level: low
            parameters:
              marker: required
              release: required
            implementation: 'touch "${marker}"; while [ ! -e "${release}" ]; do sleep 0.05; done'
        """

    private func plan(marker: URL, release: URL) throws -> Plan {
        let playbook = """
            playbook_id: hold-001
            name: Hold
            version: 1.0.0
            category: infrastructure
            severity: SEV3
            remediation_steps:
              - {step: 1, name: hold, action: hold, parameters: {marker: "\(marker.path)", release: "\(release.path)"}}
            metadata: {}
            """
        let result = CatalogLoader().load(documents: [("actions/a.yaml", Array(actions.utf8)), ("playbooks/p.yaml", Array(playbook.utf8))])
        XCTAssertFalse(result.hasErrors, DiagnosticRenderer.text(result.diagnostics))
        return try Planner(catalog: result.catalog).plan(try XCTUnwrap(result.catalog.playbooks.first))
    }

    private struct Engine {
        var environment: EngineEnvironment
        var interpreter: Interpreter
        var store: RunStore
        var folder: URL
    }

    private func engine(_ name: String, clock: ManualClock) throws -> Engine {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("medic-engine-\(name)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: folder) }
        let state = folder.appendingPathComponent("state").path
        let environment = EngineEnvironment(stateDirectory: state, clock: clock)
        let executors = ExecutorSet(shell: ShellStepExecutor(environment: environment, gracePeriod: 1),
                                    bus: BusExecutor(transport: .outbox(path: state + "/outbox.jsonl"), environment: environment),
                                    http: HTTPExecutor(client: environment.http))
        let verifier = Verifier(evaluator: ConditionEvaluator(metrics: MetricRegistry(sources: [])), clock: clock)
        var interpreter = Interpreter(executors: executors, verifier: verifier, environment: environment)
        interpreter.recordsIncidents = false
        return Engine(environment: environment, interpreter: interpreter, store: try RunStore(directory: state), folder: folder)
    }

    /// Polls `condition` for up to a minute (a slow machine may take seconds to start a shell).
    private func eventually(_ what: String, _ condition: () -> Bool) async throws {
        for _ in 0..<1200 where !condition() { try await Task.sleep(nanoseconds: 50_000_000) }
        XCTAssertTrue(condition(), what)
    }

    func testTwoEnginesInOneProcessKeepTheirStepsRunsAndClocksApart() async throws {
        let first = try engine("first", clock: ManualClock(start: Date(timeIntervalSince1970: 1_800_000_000)))
        let second = try engine("second", clock: ManualClock(start: Date(timeIntervalSince1970: 2_000_000_000)))
        let (firstMarker, firstRelease) = (first.folder.appendingPathComponent("started"), first.folder.appendingPathComponent("release"))
        let (secondMarker, secondRelease) = (second.folder.appendingPathComponent("started"), second.folder.appendingPathComponent("release"))
        let firstPlan = try plan(marker: firstMarker, release: firstRelease)
        let secondPlan = try plan(marker: secondMarker, release: secondRelease)

        let (a, b) = (first, second)
        async let firstReport = a.interpreter.start(firstPlan, in: a.store)
        async let secondReport = b.interpreter.start(secondPlan, in: b.store)
        try await eventually("both engines' steps are running") {
            FileManager.default.fileExists(atPath: firstMarker.path) && FileManager.default.fileExists(atPath: secondMarker.path)
                && first.environment.runningSteps.all.count == 1 && second.environment.runningSteps.all.count == 1
        }
        let secondGroup = try XCTUnwrap(second.environment.runningSteps.all.first)
        XCTAssertNotEqual(first.environment.runningSteps.all, second.environment.runningSteps.all)

        // Stopping the first engine ends its step and leaves the second's running.
        first.environment.runningSteps.stop(grace: 0.2)
        let stopped = try await firstReport
        XCTAssertEqual(stopped.outcome, .failed, "the first engine's step was ended by its stop")
        XCTAssertEqual(second.environment.runningSteps.all, [secondGroup], "the second engine's step is still running")
        XCTAssertEqual(kill(secondGroup, 0), 0, "the second engine's step process is alive")

        XCTAssertTrue(FileManager.default.createFile(atPath: secondRelease.path, contents: nil))
        let finished = try await secondReport
        XCTAssertEqual(finished.outcome, .succeeded)

        // Each state directory holds its own run, journaled on its own engine's clock.
        XCTAssertEqual(first.store.runIDs(), [stopped.runID])
        XCTAssertEqual(second.store.runIDs(), [finished.runID])
        let firstRecords = try await first.store.read(runID: stopped.runID).records
        let secondRecords = try await second.store.read(runID: finished.runID).records
        XCTAssertTrue(firstRecords.allSatisfy { $0.at.hasPrefix("2027-01-15") }, firstRecords.map(\.at).joined(separator: " "))
        XCTAssertTrue(secondRecords.allSatisfy { $0.at.hasPrefix("2033-05-18") }, secondRecords.map(\.at).joined(separator: " "))
        XCTAssertTrue(first.environment.runningSteps.all.isEmpty)
        XCTAssertTrue(second.environment.runningSteps.all.isEmpty)
        try await first.environment.shutdown()
        try await second.environment.shutdown()
    }
}
