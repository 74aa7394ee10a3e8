import Foundation
import MedicDetect
import MedicEngine
import MedicEngineTestKit
import MedicLoader
import MedicModel
import XCTest

/// `medic watch` without a feed, through the library: rounds of sampling on the injected clock,
/// driven by a `ManualClock` so that no test waits for real time.
final class LiveWatchTests: XCTestCase {
    private let library = CleanLibrary.files()

    /// Collects what the loop and the watcher say, from any task.
    final class Lines: @unchecked Sendable {
        private let lock = NSLock()
        private var all: [String] = []
        func add(_ line: String) { lock.withLock { all.append(line) } }
        var lines: [String] { lock.withLock { all } }
    }

    /// A dry-run watcher over the library, reporting event kinds (and planned playbooks) to `events`.
    private func watcher(clock: ManualClock, events: Lines) throws -> Watcher {
        let loaded = CatalogLoader().load(documents: library.map { ($0.0, Array($0.1.utf8)) })
        XCTAssertFalse(loaded.hasErrors, DiagnosticRenderer.text(loaded.diagnostics))
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("medic-live-\(UUID().uuidString)")
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        let interpreter = Interpreter(executors: ExecutorSet(shell: RecordingExecutor(), bus: RecordingExecutor(), http: RecordingExecutor()),
                                      verifier: Verifier(evaluator: ConditionEvaluator(metrics: MetricRegistry(sources: [])), clock: clock),
                                      clock: clock)
        return Watcher(engine: RuleEngine(catalog: loaded.catalog), catalog: loaded.catalog, interpreter: interpreter,
                       stores: try .files(in: dir.path, clock: clock), stateDirectory: dir.path, options: Watcher.Options(dryRun: true)) { event in
            switch event {
            case .pending: events.add("pending")
            case .incident(let incident): events.add("incident at \(incident.firedAt)")
            case .planned(_, let plan): events.add("planned \(plan.playbookID)")
            default: events.add("other")
            }
        }
    }

    func testEachRoundIsStampedWithTheClockAndTheWaitBetweenRoundsIsTheClocksSleep() async throws {
        let clock = ManualClock()
        let start = clock.now.timeIntervalSince1970
        let events = Lines(), rounds = Lines()
        let live = LiveWatch(clock: clock, interval: 30, round: { time in
            rounds.add("\(time - start)")
            return ([Sample(metric: "disk_usage_percent", labels: ["path": "/var"], time: time, value: 90)], [])
        }, note: { events.add("note: \($0)") })
        try await live.run(try watcher(clock: clock, events: events), rounds: 3)

        XCTAssertEqual(rounds.lines, ["0.0", "30.0", "60.0"])
        XCTAssertEqual(clock.slept, [30, 30], "one wait between two rounds, on the injected clock")
        // The rule's `for: 60s` passes on the clock's time alone: the third round fires it.
        XCTAssertEqual(events.lines, ["pending", "incident at \(start + 60)", "planned clean-001"])
    }

    func testWhatCannotBeSampledIsNotedWhenItStartsAndEndsAndTheLoopGoesOn() async throws {
        let clock = ManualClock()
        let events = Lines()
        let problem = "disk_usage_percent{path=\"/var\"}: no source serves it"
        let start = clock.now.timeIntervalSince1970
        // Rounds 1-3 cannot sample the series, round 4 can, round 5 cannot again.
        let live = LiveWatch(clock: clock, interval: 15, round: { time in
            let round = Int((time - start) / 15) + 1
            return ([], round == 4 ? [] : [problem])
        }, note: { events.add("note: \($0)") })
        try await live.run(try watcher(clock: clock, events: events), rounds: 5)
        XCTAssertEqual(events.lines, ["note: cannot sample: \(problem)", "note: sampling again: \(problem)", "note: cannot sample: \(problem)"],
                       "a problem is noted when it starts and when it ends, not every round")
        XCTAssertEqual(clock.slept, [15, 15, 15, 15])
    }

    func testTheLoopStopsWhenItsTaskIsCancelled() async throws {
        let clock = ManualClock()
        let events = Lines()
        let watcher = try watcher(clock: clock, events: events)
        let started = Lines()
        let task = Task {
            try await LiveWatch(clock: clock, interval: 15, round: { _ in
                started.add("round")
                // Cancel from inside the fifth round: the wait after it throws.
                if started.lines.count == 5 { withUnsafeCurrentTask { $0?.cancel() } }
                return ([], [])
            }, note: { _ in }).run(watcher)
        }
        do {
            try await task.value
            XCTFail("the loop ended without being cancelled")
        } catch is CancellationError {}
        XCTAssertEqual(started.lines.count, 5)
        XCTAssertEqual(clock.slept.count, 4)
    }
}
