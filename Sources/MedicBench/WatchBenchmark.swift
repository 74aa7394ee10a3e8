import Foundation
import MedicDetect
import MedicEngine
import MedicEngineTestKit
import MedicLoader
import MedicModel

#if canImport(Glibc)
import Glibc
#endif

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

    /// Floors for the watch's latency, measured between its trials on the same disk and cores:
    /// what the path cannot avoid (the journal made durable before the first step, as Medic
    /// makes it), and what a step that is a process would add (a bare spawn of `/bin/true`).
    enum Floor {
        /// Milliseconds to do the durable part of the path alone: a new file with 300 bytes,
        /// `fsync`, `rename`, the directory `fsync`ed (a run's journal created), then 200 bytes
        /// appended and `fsync`ed (the first step's `step_started`).
        /// `directory` (made if missing) is beside the runs' journals, on the same disk.
        static func journal(in directory: String) -> Double {
            mkdir(directory, 0o700)
            let temporary = directory + "/.floor.tmp", path = directory + "/floor.jsonl"
            let first = [UInt8](repeating: UInt8(ascii: "a"), count: 300), second = [UInt8](repeating: UInt8(ascii: "b"), count: 200)
            let start = DispatchTime.now().uptimeNanoseconds
            let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0o600)
            guard fd >= 0, write(fd, first, first.count) == first.count, fsync(fd) == 0, rename(temporary, path) == 0 else {
                fatalError("the journal floor cannot write in \(directory)")
            }
            let folder = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
            guard folder >= 0, fsync(folder) == 0, write(fd, second, second.count) == second.count, fsync(fd) == 0 else {
                fatalError("the journal floor cannot write in \(directory)")
            }
            let end = DispatchTime.now().uptimeNanoseconds
            close(folder)
            close(fd)
            unlink(path)
            return Double(end - start) / 1e6
        }

        /// Milliseconds to `posix_spawn` `/bin/true` and reap it.
        static func spawn() -> Double {
            var pid: pid_t = 0
            let argv: [UnsafeMutablePointer<CChar>?] = [strdup("/bin/true"), nil]
            defer { free(argv[0]) }
            let start = DispatchTime.now().uptimeNanoseconds
            guard posix_spawn(&pid, "/bin/true", nil, nil, argv, environ) == 0 else { fatalError("cannot spawn /bin/true") }
            var status: Int32 = 0
            while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
            return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6
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
        var latencies: [Double] = [], journalFloor: [Double] = [], spawnFloor: [Double] = []
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
            journalFloor.append(Floor.journal(in: store.directory + "/floor"))
            spawnFloor.append(Floor.spawn())
        }
        latencies.sort()
        journalFloor.sort()
        spawnFloor.sort()
        let (p50, p99, worst) = (percentile(latencies, 0.50), percentile(latencies, 0.99), latencies.last ?? 0)
        let floors = (journal50: percentile(journalFloor, 0.5), journal99: percentile(journalFloor, 0.99),
                      spawn50: percentile(spawnFloor, 0.5), spawn99: percentile(spawnFloor, 0.99))
        report("watch-latency", [
            ("trials", trials), ("history_runs", history), ("cold", cold), ("p50_ms", p50), ("p99_ms", p99), ("max_ms", worst),
            ("journal_floor_p50_ms", floors.journal50), ("journal_floor_p99_ms", floors.journal99),
            ("spawn_floor_p50_ms", floors.spawn50), ("spawn_floor_p99_ms", floors.spawn99),
        ], lines: [
            "watch-latency: the sample completing a rule's for -> the first step's step_started on disk; \(trials) trials, "
                + "\(history) earlier run(s) in the state directory" + (cold ? ", never read before (cold)" : ", read once before (a running watch)"),
            String(format: "  p50 %.2f ms, p99 %.2f ms (target < 5 ms), max %.2f ms", p50, p99, worst),
            String(format: "  floors, between the trials: the journal's writes and fsyncs alone p50 %.2f ms p99 %.2f ms; spawn of /bin/true p50 %.2f ms p99 %.2f ms",
                   floors.journal50, floors.journal99, floors.spawn50, floors.spawn99),
        ])
    }
}
