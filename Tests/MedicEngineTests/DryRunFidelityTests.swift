import Foundation
import MedicEngine
import MedicLoader
import MedicModel
import XCTest

/// `medic plan` / `--dry-run` show a `Plan`; a real run must do exactly that. Every shipped
/// playbook is run for real against recording executors that succeed, and what the executors
/// were asked to do is compared with the plan, step by step.
final class DryRunFidelityTests: XCTestCase {
    private static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    func testEveryShippedPlaybookRunsExactlyItsPlan() async throws {
        let result = CatalogLoader().load(paths: CatalogLoader.libraryFolders.map { Self.root.appendingPathComponent($0).path })
        XCTAssertFalse(result.hasErrors)
        let catalog = result.catalog
        XCTAssertGreaterThanOrEqual(catalog.playbooks.count, 20)
        let state = FileManager.default.temporaryDirectory.appendingPathComponent("medic-fidelity-\(UUID().uuidString)")
        addTeardownBlock { try? FileManager.default.removeItem(at: state) }
        let store = try RunStore(directory: state.path)

        for playbook in catalog.playbooks {
            var given: [String: String] = [:]
            for spec in playbook.parameters where spec.required && spec.defaultValue == nil {
                given[spec.name] = spec.allowedValues?.first ?? (spec.type == .integer || spec.type == .number ? "3" : "sample-\(spec.name)")
            }
            let plan = try Planner(catalog: catalog).plan(playbook, given: given)
            // Each step answers with a value for every output its action declares.
            let outputsByStep = Dictionary(uniqueKeysWithValues: plan.steps.map { ($0.number, $0.outputs) })
            let recorder = RecordingExecutor { request in
                let outputs = request.purpose == .step
                    ? Dictionary(uniqueKeysWithValues: (outputsByStep[request.stepNumber] ?? []).map { ($0, "out-\(request.stepNumber)-\($0)") })
                    : [:]
                return ExecutionResult(succeeded: true, exitStatus: 0, outputs: outputs, summary: "recorded")
            }
            let clock = ManualClock()
            let interpreter = Interpreter(
                executors: ExecutorSet(shell: recorder, bus: recorder, http: recorder),
                verifier: Verifier(evaluator: ConditionEvaluator(metrics: MetricRegistry(sources: [], host: InMemoryMetricSource())), clock: clock),
                clock: clock)
            let report = try await interpreter.start(plan, in: store)
            XCTAssertNotNil(report.outcome, playbook.id)

            let executed = recorder.requests.filter { $0.purpose == .step }
            XCTAssertEqual(executed.map(\.stepNumber), plan.steps.map(\.number), "\(playbook.id): the steps, in the plan's order")
            var outputs: [String: String] = [:]
            for (request, step) in zip(executed, plan.steps) {
                let context = "\(playbook.id) step \(step.number)"
                XCTAssertEqual(request.action, step.action, context)
                XCTAssertEqual(request.executor, step.executor, context)
                XCTAssertEqual(request.script, step.script, context)
                XCTAssertEqual(request.topic, step.topic, context)
                XCTAssertEqual(request.request, step.request, context)
                XCTAssertEqual(request.timeout, step.timeout.seconds, context)
                // The environment is the plan's, with values from earlier outputs filled in.
                var expected: [String: String] = [:]
                for p in step.environment {
                    expected[p.name] = p.source.hasPrefix("output of") ? outputs[p.name] : p.value
                }
                XCTAssertEqual(request.parameters, expected, context)
                for name in step.outputs { outputs[name] = "out-\(step.number)-\(name)" }
            }
            // Action verifications run exactly for the steps whose action has one.
            XCTAssertEqual(recorder.requests.filter { $0.purpose == .verification }.map(\.stepNumber),
                           plan.steps.filter { $0.verificationScript != nil }.map(\.number), playbook.id)
        }
    }
}
