import Foundation
import MedicEngine
import MedicEngineTestKit
import MedicLoader

/// `run-parts`: where the time of a journaled shell step goes, in process (for profiling
/// run-100-noop): a bare spawn of `sh -c true`, the shell step executor, a journal append.
enum MicroRun {
    static func run(count: Int) async throws {
        let dir = try scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let spawn = try Measure.seconds { for _ in 0..<count { _ = try ShellExecutor.run(ShellCommand(script: "true")) } }
        let executor = ShellStepExecutor()
        let start = DispatchTime.now().uptimeNanoseconds
        for n in 0..<count {
            _ = try await executor.execute(ExecutionRequest(runID: "r", stepNumber: n, stepName: "s", action: "a", purpose: .step,
                                                            executor: .shell, script: "true", timeout: 10))
        }
        let stepped = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        let store = try RunStore(directory: dir.path)
        let (journal, lock) = try store.create(runID: "bench")
        let appended = try Measure.seconds {
            for n in 0..<count {
                try journal.append(.stepStarted(step: n, phase: .step, attempt: 1, item: nil, idempotent: false))
            }
        }
        withExtendedLifetime(lock) {}

        // The interpreter alone: a plan of `count` steps against an executor that runs nothing.
        var playbook = "playbook_id: noop-\(count)\nname: noop\nversion: 1.0.0\ncategory: infrastructure\nseverity: SEV3\nremediation_steps:\n"
        for n in 1...count { playbook += "  - {step: \(n), name: noop \(n), action: noop}\n" }
        playbook += "metadata: {}\n"
        let actions = "actions:\n  noop:\n    type: infrastructure\n    risk_level: low\n    implementation: \"true\"\n"
        let loaded = CatalogLoader().load(documents: [("a.yaml", Array(actions.utf8)), ("p.yaml", Array(playbook.utf8))])
        precondition(!loaded.hasErrors)
        let plan = try Planner(catalog: loaded.catalog).plan(loaded.catalog.playbooks[0])
        let recorder = RecordingExecutor()
        let interpreter = Interpreter(executors: ExecutorSet(shell: recorder, bus: recorder, http: recorder),
                                      verifier: Verifier(evaluator: ConditionEvaluator(metrics: MetricRegistry(sources: [])), clock: SystemClock()))
        let interpreted = try await Measure.seconds { _ = try await interpreter.start(plan, in: store) }
        report("run-parts", [("count", count), ("shell_executor_seconds", spawn), ("step_executor_seconds", stepped),
                             ("journal_append_seconds", appended),
                             ("interpreter_seconds", interpreted)], lines: [
            "run-parts: \(count) of each, in process",
            String(format: "  ShellExecutor.run(sh -c true)   %7.3f s  %6.2f ms each", spawn, spawn * 1000 / Double(count)),
            String(format: "  ShellStepExecutor (own thread)  %7.3f s  %6.2f ms each", stepped, stepped * 1000 / Double(count)),
            String(format: "  journal append + fsync          %7.3f s  %6.2f ms each", appended, appended * 1000 / Double(count)),
            String(format: "  interpreter, recording executor %7.3f s  %6.2f ms a step", interpreted, interpreted * 1000 / Double(count)),
        ])
    }
}
