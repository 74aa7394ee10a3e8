import Foundation
import MedicDetect
import MedicEngine
import MedicEngineTestKit
import MedicLoader
import MedicModel

/// `watch-latency`: from the sample that completes a rule's `for` to the first step's start
/// (its `step_started` record on disk), in process: the rule engine, planning, the ten safety
/// gates against the state directory, the run's journal (created, fsync'ed) and the executor
/// call. Each trial uses a state directory holding `history` earlier runs of the playbook
/// (safe mode needs one success); the step executor records and returns at once.
enum WatchBenchmark {
    static let library = CleanLibrary.files(rules: CleanLibrary.rules(forDuration: "1m", groupByPath: false))

    /// Collects when the first step started, per run.
    final class StepClock: @unchecked Sendable {
        private let lock = NSLock()
        private var firstStep: UInt64?
        func reset() { lock.withLock { firstStep = nil } }
        func mark() { lock.withLock { if firstStep == nil { firstStep = DispatchTime.now().uptimeNanoseconds } } }
        var value: UInt64? { lock.withLock { firstStep } }
    }

    /// Trials against one state directory, kept open as by a running watch: each feeds a new
    /// watcher the samples of a rule's `for`, then times the last one to the first step.
    final class Trials: Sendable {
        let catalog: Catalog
        let store: RunStore
        let interpreter: Interpreter
        let stepClock = StepClock()

        init(catalog: Catalog, store: RunStore) {
            self.catalog = catalog
            self.store = store
            let clock = SystemClock()
            let recorder = RecordingExecutor()
            interpreter = Interpreter(executors: ExecutorSet(shell: recorder, bus: recorder, http: recorder),
                                      verifier: Verifier(evaluator: ConditionEvaluator(metrics: MetricRegistry(sources: [])), clock: clock),
                                      clock: clock)
        }

        /// Milliseconds from the sample completing the rule's `for` to the first step's start.
        func trial(_ trial: Int) async throws -> Double {
            let stepClock = stepClock
            let watcher = Watcher(engine: RuleEngine(catalog: catalog), catalog: catalog, interpreter: interpreter,
                                  stores: .files(store), stateDirectory: store.directory,
                                  observeRun: { record in if record.event == .stepStarted { stepClock.mark() } }, report: { _ in })
            let t0 = 1_800_000_000.0 + Double(trial) * 1000
            for t in stride(from: 0.0, to: 60, by: 10) {
                await watcher.ingest(Sample(metric: "disk_usage_percent", labels: ["path": "/var"], time: t0 + t, value: 93))
            }
            stepClock.reset()
            let start = DispatchTime.now().uptimeNanoseconds
            await watcher.ingest(Sample(metric: "disk_usage_percent", labels: ["path": "/var"], time: t0 + 60, value: 93))
            let outcomes = await watcher.drain()
            guard outcomes.count == 1, outcomes.values.first == .succeeded, let stepped = stepClock.value else {
                fatalError("trial \(trial): the rule did not start a run that succeeded (\(outcomes))")
            }
            return Double(stepped - start) / 1e6
        }
    }

    static func percentile(_ sorted: [Double], _ p: Double) -> Double {
        sorted[min(sorted.count - 1, Int((p * Double(sorted.count)).rounded(.up)) - 1)]
    }

    static func run(trials: Int, history: Int, cold: Bool) async throws {
        let loaded = CatalogLoader().load(documents: library.map { ($0.0, Array($0.1.utf8)) })
        guard !loaded.hasErrors else { fatalError(DiagnosticRenderer.text(loaded.diagnostics)) }
        let catalog = loaded.catalog
        let dir = try scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        var latencies: [Double] = []
        for trial in 0..<trials {
            let store = try RunStore(directory: dir.appendingPathComponent("state-\(trial)").path)
            let watch = Trials(catalog: catalog, store: store)
            let plan = try Planner(catalog: catalog).plan(catalog.playbook(id: "clean-001")!, given: ["path": "/seed"])
            for _ in 0..<max(1, history) { _ = try await watch.interpreter.start(plan, in: store) }
            // A watch that has been running has read the history at its earlier evaluations
            // (its store's index); `--cold` opens a store that never has.
            let measured = cold ? Trials(catalog: catalog, store: try RunStore(directory: store.directory)) : watch
            if !cold { store.refresh() }
            latencies.append(try await measured.trial(trial))
        }
        latencies.sort()
        let (p50, p99, worst) = (percentile(latencies, 0.50), percentile(latencies, 0.99), latencies.last ?? 0)
        report("watch-latency", [
            ("trials", trials), ("history_runs", history), ("cold", cold), ("p50_ms", p50), ("p99_ms", p99), ("max_ms", worst),
        ], lines: [
            "watch-latency: the sample completing a rule's for -> the first step's step_started on disk; \(trials) trials, "
                + "\(history) earlier run(s) in the state directory" + (cold ? ", never read before (cold)" : ", read once before (a running watch)"),
            String(format: "  p50 %.2f ms, p99 %.2f ms (target < 5 ms), max %.2f ms", p50, p99, worst),
        ])
    }
}
