import Foundation
import MedicDetect
import MedicEngine
import MedicLoader
import MedicModel

/// `run-index`: the questions about many runs, with a small history (100 finished runs) and a
/// large one (10,000), measured in the same run, interleaved: `medic runs` (the library call
/// the command makes, in a store opened afresh as by a new process, and the binary itself), the
/// ten gates of a run (evaluated against a store kept open, as by a running watch), and the
/// watch's latency from the sample that fires a rule to the first step's start. Each history
/// holds runs of ten playbooks, one every ten minutes up to an hour ago, one in eight failed.
enum RunIndexBenchmark {
    static let library = WatchBenchmark.library + [
        ("policies/p.yaml", """
            rate_limits:
              per_playbook: {scope: playbook, max_runs: 1000, window: 1h}
              per_target: {scope: target, max_runs: 1000, window: 24h}
            """),
    ]

    static func run(small: Int, large: Int, rounds: Int, trials: Int) async throws {
        let loaded = CatalogLoader().load(documents: library.map { ($0.0, Array($0.1.utf8)) })
        guard !loaded.hasErrors else { fatalError(DiagnosticRenderer.text(loaded.diagnostics)) }
        let catalog = loaded.catalog
        let dir = try scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let plan = try Planner(catalog: catalog).plan(catalog.playbook(id: "clean-001")!, given: ["path": "/seed"])
        var stores: [(runs: Int, directory: String)] = []
        for count in [small, large] {
            let directory = dir.appendingPathComponent("state-\(count)").path
            let built = try Measure.seconds { try writeHistory(count, of: plan, in: directory) }
            // The first look reads every journal and writes the index (and, as `medic runs`
            // does, each run's incident record): not measured.
            let first = try Measure.seconds { _ = try RunStore(directory: directory).list(reconcilingIncidents: true) }
            print(String(format: "  history of %d runs written in %.1f s; first look (index built) %.0f ms", count, built, first * 1000))
            stores.append((count, directory))
        }
        // The journals written out before anything is measured: `medic runs` meets a history at
        // rest, not one the kernel is still writing back (40 MB for 10,000 runs), which slowed
        // every figure taken in the first minute.
        sync()

        // medic runs: the library call, in a store opened afresh each time; and the binary.
        var listed: [Int: [Double]] = [:]
        var binary: [Int: [Double]] = [:]
        for _ in 0..<rounds {
            for (count, directory) in stores {
                var result: (runs: [RunSummary], problems: [String]) = ([], [])
                listed[count, default: []].append(try Measure.seconds { result = try RunStore(directory: directory).list(reconcilingIncidents: true) })
                guard result.runs.count == count, result.problems.isEmpty else {
                    fatalError("medic runs listed \(result.runs.count) of \(count) runs: \(result.problems.prefix(3))")
                }
                if FileManager.default.isExecutableFile(atPath: medicBinary) {
                    let child = Measure.seconds { _ = Measure.child("/usr/bin/env", ["MEDIC_HOME=\(directory)", medicBinary, "runs", "--json"]) }
                    binary[count, default: []].append(child)
                }
            }
        }

        // The gates of a run of clean-001, against a store kept open.
        var gated: [Int: [Double]] = [:]
        let open = try stores.map { try RunStore(directory: $0.directory) }
        for _ in 0..<(rounds * 20) {
            for (index, store) in open.enumerated() {
                var context = GateContext(plan: plan, catalog: catalog, mode: .automated, stateDirectory: store.directory, now: Date())
                context.stores = .files(store)
                var verdicts: [GateVerdict] = []
                let seconds = await Measure.seconds { verdicts = await GatePipeline.standard.evaluate(context) }
                guard GatePipeline.blocking(verdicts) == nil else { fatalError("the gates stopped the run: \(verdicts)") }
                gated[stores[index].runs, default: []].append(seconds)
            }
        }

        // The watch: trials alternate between the two histories, each against a store kept open.
        var latency: [Int: [Double]] = [:]
        var journalFloor: [Double] = [], spawnFloor: [Double] = []
        let watches = try stores.map { try WatchBenchmark.Trials(catalog: catalog, store: RunStore(directory: $0.directory)) }
        for trial in 0..<trials {
            for (index, watch) in watches.enumerated() {
                latency[stores[index].runs, default: []].append(try await watch.trial(trial))
                journalFloor.append(WatchBenchmark.Floor.journal(in: watch.store.directory + "/floor"))
            }
            spawnFloor.append(WatchBenchmark.Floor.spawn())
        }

        func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] * 1000 }
        func p99(_ values: [Double]) -> Double { WatchBenchmark.percentile(values.sorted(), 0.99) }
        func ratio(_ f: ([Double]) -> Double, _ table: [Int: [Double]]) -> Double {
            guard let a = table[large], let b = table[small], !a.isEmpty, !b.isEmpty else { return 0 }
            return f(a) / f(b)
        }
        let gateP99 = { (values: [Double]) in p99(values) * 1000 }
        var fields: [(String, Any)] = [("small_runs", small), ("large_runs", large), ("rounds", rounds), ("trials", trials)]
        var lines = ["run-index: \(small) and \(large) finished runs, interleaved; \(rounds) rounds of medic runs, "
            + "\(rounds * 20) gate evaluations and \(trials) watch trials per history"]
        for count in [small, large] {
            fields += [("runs_list_ms_\(count)", median(listed[count]!)), ("gates_p50_ms_\(count)", median(gated[count]!)),
                       ("gates_p99_ms_\(count)", gateP99(gated[count]!)), ("watch_p50_ms_\(count)", WatchBenchmark.percentile(latency[count]!.sorted(), 0.5)),
                       ("watch_p99_ms_\(count)", p99(latency[count]!))]
            if let b = binary[count] { fields.append(("runs_binary_ms_\(count)", median(b))) }
            let child = binary[count].map { String(format: ", binary %.1f ms", median($0)) } ?? ""
            lines.append(String(format: "  %5d runs: medic runs (library) %.1f ms", count, median(listed[count]!)) + child
                + String(format: ", gates p50 %.3f ms p99 %.3f ms, watch p50 %.2f ms p99 %.2f ms", median(gated[count]!),
                         gateP99(gated[count]!), WatchBenchmark.percentile(latency[count]!.sorted(), 0.5), p99(latency[count]!)))
        }
        let gateRatio = ratio(median, gated)
        let watchRatio = ratio(p99, latency)
        fields += [("gates_ratio", gateRatio), ("watch_p99_ratio", watchRatio)]
        lines.append(String(format: "  medic runs with %d runs %.1f ms (target < 100 ms); gates %.2fx (target <= 1.5x); watch p99 %.2fx (target <= 1.5x, p99 < 5 ms)",
                            large, median(listed[large]!), gateRatio, watchRatio))
        let floor = { (values: [Double]) in (WatchBenchmark.percentile(values.sorted(), 0.5), p99(values)) }
        let (journal50, journal99) = floor(journalFloor), (spawn50, spawn99) = floor(spawnFloor)
        fields += [("journal_floor_p50_ms", journal50), ("journal_floor_p99_ms", journal99),
                   ("spawn_floor_p50_ms", spawn50), ("spawn_floor_p99_ms", spawn99)]
        lines.append(String(format: "  floors, between the watch trials: the journal's writes and fsyncs alone p50 %.2f ms p99 %.2f ms; "
                            + "spawn of /bin/true p50 %.2f ms p99 %.2f ms", journal50, journal99, spawn50, spawn99))
        report("run-index", fields, lines: lines)
    }

    /// The history of `count` runs as `run` writes it, in `directory`, listed once (its index built).
    static func keepHistory(_ count: Int, in directory: String) throws {
        let loaded = CatalogLoader().load(documents: library.map { ($0.0, Array($0.1.utf8)) })
        guard !loaded.hasErrors else { fatalError(DiagnosticRenderer.text(loaded.diagnostics)) }
        let plan = try Planner(catalog: loaded.catalog).plan(loaded.catalog.playbook(id: "clean-001")!, given: ["path": "/seed"])
        try writeHistory(count, of: plan, in: directory)
        let listed = try RunStore(directory: directory).list(reconcilingIncidents: true)
        print("\(directory): \(listed.runs.count) runs, \(listed.problems.count) problems")
    }

    /// `medic runs`' library call on `directory`, in a store opened afresh each time, `rounds`
    /// times: the median (to profile it alone).
    static func listHistory(in directory: String, rounds: Int) throws {
        var times: [Double] = []
        for _ in 0..<rounds {
            times.append(try Measure.seconds { _ = try RunStore(directory: directory).list(reconcilingIncidents: true) })
        }
        print(String(format: "%@: medic runs (library) median of %d: %.1f ms", directory, rounds, times.sorted()[rounds / 2] * 1000))
    }

    /// `count` finished runs of ten playbooks (the plan's, renamed), one every ten minutes up
    /// to an hour ago, one in eight failed, written through the store as Medic writes them, each
    /// marked as having its incident record.
    static func writeHistory(_ count: Int, of plan: Plan, in directory: String) throws {
        let store = try RunStore(directory: directory)
        let now = Date()
        let failures = Array(repeating: false, count: 7) + [true]
        final class FirstError: @unchecked Sendable {
            let lock = NSLock()
            var error: Error?
        }
        let first = FirstError()
        DispatchQueue.concurrentPerform(iterations: 8) { worker in
            for n in stride(from: worker, to: count, by: 8) {
                let started = now.addingTimeInterval(-3600 - Double(count - n) * 600)
                var runPlan = plan
                if n % 10 != 0 { runPlan.playbookID = "other-\(n % 10)" }
                let id = RunStore.newRunID(at: started)
                do {
                    let (journal, lock) = try store.create(runID: id)
                    let start = JournalRecord.runStarted(run: id, plan: runPlan, mode: .automated, pid: getpid(), host: "bench",
                                                         seed: UInt64(n))
                    let finish = JournalRecord.runFinished(outcome: failures[(n / 10) % failures.count] ? .failed : .succeeded,
                                                           message: "done")
                    try journal.append([start], now: started)
                    try journal.append([finish], now: started.addingTimeInterval(30), durable: false)
                    withExtendedLifetime(lock) {}
                    // Its incident record taken as written (the mark Medic leaves after writing
                    // it): the knowledge base is not part of these questions.
                    _ = FileManager.default.createFile(atPath: store.runsDirectory + "/" + id + ".recorded", contents: nil)
                } catch {
                    first.lock.withLock { first.error = error }
                }
            }
        }
        if let error = first.error { throw error }
    }
}
