import Foundation
import MedicEngine
import MedicEngineTestKit
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
                // Healthy readings, so that a rollout's checks pass and every target runs.
                verifier: Verifier(evaluator: ConditionEvaluator(metrics: MetricRegistry(sources: [], host: InMemoryMetricSource(
                    ["http_error_rate": [.number(0)], "error_rate": [.number(0)], "process_resident_memory_bytes": [.number(1e9)]]))),
                                   clock: clock),
                clock: clock)
            let report = try await interpreter.start(plan, in: store)
            XCTAssertNotNil(report.outcome, playbook.id)

            let executed = recorder.requests.filter { $0.purpose == .step }
            // With targets: the steps for each target, targets in the plan's rollout order (the
            // shipped rollouts take one target at a time).
            let targets: [TargetSpec?] = plan.rollout.map { rollout in
                rollout.targets.map { name in plan.targets.first { $0.name == name } }
            } ?? [nil]
            XCTAssertEqual(plan.rollout.map { $0.maxConcurrency } ?? 1, 1, playbook.id)
            let expectedSteps = targets.flatMap { target in plan.steps.map { (target, $0) } }
            XCTAssertEqual(executed.map(\.stepNumber), expectedSteps.map(\.1.number), "\(playbook.id): the steps, in the plan's order")
            XCTAssertEqual(executed.map { $0.parameters["target"] }, expectedSteps.map { $0.0?.name }, playbook.id)
            var outputs: [String: String] = [:]
            for (request, (target, step)) in zip(executed, expectedSteps) {
                let context = "\(playbook.id) step \(step.number) \(target?.name ?? "")"
                XCTAssertEqual(request.action, step.action, context)
                XCTAssertEqual(request.executor, step.executor, context)
                XCTAssertEqual(request.script, step.script, context)
                XCTAssertEqual(request.topic, step.topic, context)
                XCTAssertEqual(request.request, step.request, context)
                XCTAssertEqual(request.timeout, step.timeout.seconds, context)
                // The environment is the plan's, with values from earlier outputs filled in.
                var expected: [String: String] = [:]
                for p in step.environment {
                    expected[p.name] = p.source.isStepOutput ? outputs[p.name] : p.value
                }
                if let target {
                    expected["target"] = target.name
                    for (label, value) in target.labels { expected["target_" + label] = value }
                }
                XCTAssertEqual(request.parameters, expected, context)
                for name in step.outputs { outputs[name] = "out-\(step.number)-\(name)" }
            }
            // Action verifications run exactly for the steps whose action has one.
            XCTAssertEqual(recorder.requests.filter { $0.purpose == .verification }.map(\.stepNumber),
                           targets.flatMap { _ in plan.steps.filter { $0.verificationScript != nil }.map(\.number) }, playbook.id)
            XCTAssertNil(report.rollout?.aborted, "\(playbook.id): every stage's checks pass on healthy readings")
        }
    }
}
