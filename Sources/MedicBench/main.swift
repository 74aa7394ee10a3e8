import Foundation
import MedicLoader

// MedicBench: generated workloads, measured against their floor or peers in the same run.
// Usage: MedicBench SCENARIO [options]; results as text, or JSON with --json.
//   validate-10k [--count N] [--no-peers]   load N (10,000) generated playbooks; peers:
//                                           check-jsonschema and PyYAML's C loader on the same files
//   hostile                                 each hostile input through the medic binary: time, memory
//   run-100-noop [--steps N] [--rounds R]   medic run of N (100) `true` steps vs a shell loop of /bin/true
//   corpus --out DIR [--count N]            write the validate-10k files, to profile medic on them
//   nab [--nab DIR] [--folds]               NAB scores (data/nab's sample unless --nab): the published detectors reproduced, every built-in detector
//   nab [--nab DIR] --windows NAME          one row (auto, periodic, ...) at its optimal threshold: each window's first
//                                           detection or highest score, each false positive
//   detect-throughput [--series N] [--samples M]
//                                           N (10,000) series × M (1,000,000) samples through threshold, EWMA and
//                                           moving average on one thread: samples/s per core, bytes per series
//   detect-throughput --auto-rounds R [--series N] [--samples M]
//                                           auto and the same components in the general composite, alternating R
//                                           times over N (10,000) series × M (300) samples: medians and their ratio

//   rollout-1000 [--targets N] [--concurrency C] [--rounds R] [--no-shell]
//                                           a rollout of one 10 ms step over N (1,000) targets, C (50) at a time,
//                                           four stages, against the ideal; engine and the medic binary

//   watch-latency [--trials N] [--history H] [--cold]
//                                           the sample completing a rule's for -> the first step's start, p50/p99

//   run-index [--runs N] [--small S] [--rounds R] [--trials T]
//                                           medic runs, the gates and watch-latency with S (100) and N (10,000)
//                                           finished runs, interleaved: the ratios and the targets
//   run-history --out DIR [--runs N]        writes run-index's history of N (10,000) runs in DIR (not measured);
//                                           with --list-rounds R, lists DIR R times instead (the library call's median)

//   kb-append [--records N] [--batch B] [--rounds R]
//                                           N (2,000) knowledge-base appends, fsync per record and B (100) per
//                                           write+fsync, against a plain write+fsync loop of the same bytes

//   kb-stats-1m [--records N] [--rounds R]   medic kb stats's computation over N (1,000,000) incident records

//   kill-torture [--kills N] [--window S]   medic SIGKILLed at random moments (up to S (2) s into each run or
//                                           resume) until N (1,000) kills, resumed until every run finishes:
//                                           what the kills hit, what resume decided, the violations (none)

//   blocking-pool [--jobs N] [--steps M] [--rounds R]
//                                           the engine's BlockingPool against NIOThreadPool: N (50) shell steps at
//                                           once (a rollout wave), M (100) one after another

//   guard-overhead [--calls N] [--rounds R]  a call through a resilience guard (breaker closed, bulkhead free)
//   guard-executor [--calls N] [--rounds R]  an HTTP step's executor call to loopback, bare and through its guard
//                                           against the same call bare, interleaved: ns per call

//   serve-throughput [--seconds S] [--connections C] [--threads T] [--rounds R] [--baseline MEDIC]
//                                           wrk against a release medic serve: new alerts, a 50-group storm and
//                                           immune events, interleaved with a bare Hummingbird route (the floor)

//   ha-storm [--posts N] [--clients C] [--rounds R]   N (5,000) posts over 50 incidents against one server on
//                   files, one on PostgreSQL and three sharing it, interleaved; plus claim latency (needs Debian's postgresql)
//   alert-storm [--posts N] [--clients C]   N (10,000) Alertmanager posts over 50 groups, each twice and 1 in 5
//                                           three times, from C (64) clients, against a release medic serve:
//                                           runs started (50), acknowledgement p50/p99

//   select-memory [--entries N] [--incidents M]
//                                           choose the playbook for M (100) incidents with an immune memory of N
//                                           (10,000) entries: memory kept while unchanged vs read per incident

let arguments = Array(CommandLine.arguments.dropFirst())
let json = arguments.contains("--json")

func option(_ name: String) -> String? {
    guard let i = arguments.firstIndex(of: name), i + 1 < arguments.count else { return nil }
    return arguments[i + 1]
}

func report(_ scenario: String, _ fields: [(String, Any)], lines: [String]) {
    if json {
        var object: [String: Any] = ["scenario": scenario]
        for (k, v) in fields { object[k] = v }
        let data = try! JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys])
        print(String(decoding: data, as: UTF8.self))
    } else {
        lines.forEach { print($0) }
    }
}

/// The medic binary built beside this one.
let medicBinary = option("--medic")
    ?? URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("medic").path

func scratchDirectory() throws -> URL {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("medic-bench-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    return dir
}

switch arguments.first {
case "validate-10k":
    try ValidateBenchmark.run(count: Int(option("--count") ?? "") ?? 10_000, peers: !arguments.contains("--no-peers"))
case "hostile":
    try HostileBenchmark.run()
case "run-parts":
    try await MicroRun.run(count: Int(option("--count") ?? "") ?? 100)
case "run-100-noop":
    try RunBenchmark.run(steps: Int(option("--steps") ?? "") ?? 100, rounds: Int(option("--rounds") ?? "") ?? 7)
case "corpus":
    // Writes the validate-10k corpus to a folder, for profiling medic on it.
    guard let target = option("--out") else { fatalError("corpus needs --out DIR") }
    try Workloads.writeValidateCorpus(count: Int(option("--count") ?? "") ?? 10_000, to: URL(fileURLWithPath: target))
case "nab" where option("--windows") != nil:
    try NABWindowReport.run(directory: option("--nab").map { URL(fileURLWithPath: $0) } ?? NABBenchmark.defaultDirectory(),
                            name: option("--windows")!)
case "nab":
    try NABBenchmark.run(directory: option("--nab").map { URL(fileURLWithPath: $0) } ?? NABBenchmark.defaultDirectory(),
                         folds: arguments.contains("--folds"))
case "detect-throughput":
    if arguments.contains("--auto-rounds") {
        guard let rounds = option("--auto-rounds").flatMap({ Int($0) }), rounds > 0 else {
            FileHandle.standardError.write(Data("detect-throughput: --auto-rounds needs a number of rounds (1 or more)\n".utf8))
            exit(2)
        }
        DetectBenchmark.autoRounds(series: Int(option("--series") ?? "") ?? 10_000, samples: Int(option("--samples") ?? "") ?? 300,
                                   rounds: rounds)
    } else {
        DetectBenchmark.run(series: Int(option("--series") ?? "") ?? 10_000, samples: Int(option("--samples") ?? "") ?? 1_000_000)
    }
case "rollout-1000":
    try RolloutBenchmark.run(targets: Int(option("--targets") ?? "") ?? 1000, concurrency: Int(option("--concurrency") ?? "") ?? 50,
                             rounds: Int(option("--rounds") ?? "") ?? 5, shell: !arguments.contains("--no-shell"))
case "watch-latency":
    try await WatchBenchmark.run(trials: Int(option("--trials") ?? "") ?? 200, history: Int(option("--history") ?? "") ?? 1,
                                 cold: arguments.contains("--cold"))
case "run-index":
    try await RunIndexBenchmark.run(small: Int(option("--small") ?? "") ?? 100, large: Int(option("--runs") ?? "") ?? 10_000,
                                    rounds: Int(option("--rounds") ?? "") ?? 5, trials: Int(option("--trials") ?? "") ?? 100)
case "run-history":
    // Not a benchmark: a state directory of N finished runs as run-index writes them, its index
    // built, for profiling `medic runs` and timing the binary against it.
    if let rounds = option("--list-rounds").flatMap({ Int($0) }), rounds > 0 {
        try RunIndexBenchmark.listHistory(in: option("--out") ?? "run-history", rounds: rounds)
    } else {
        try RunIndexBenchmark.keepHistory(Int(option("--runs") ?? "") ?? 10_000, in: option("--out") ?? "run-history")
    }
case "kb-stats-1m":
    try KnowledgeStatsBenchmark.run(records: Int(option("--records") ?? "") ?? 1_000_000, rounds: Int(option("--rounds") ?? "") ?? 3)
case "kb-stats-child":
    // The measured part of kb-stats-1m, in a process of its own (its peak memory is the figure).
    try KnowledgeStatsBenchmark.child(directory: option("--dir") ?? "", out: option("--out") ?? "",
                                      expect: Int(option("--expect") ?? "") ?? 0)
case "rollout-child":
    // The measured part of rollout-1000, in a process of its own (its peak memory is the figure).
    try await RolloutBenchmark.child(targets: Int(option("--targets") ?? "") ?? 1000, concurrency: Int(option("--concurrency") ?? "") ?? 50,
                                     stepSeconds: (Double(option("--step-ms") ?? "") ?? 10) / 1000,
                                     state: option("--state") ?? "", out: option("--out") ?? "")
case "kill-torture":
    try KillTortureBenchmark.run(kills: Int(option("--kills") ?? "") ?? 1000, window: 0.05...(Double(option("--window") ?? "") ?? 2.0))
case "select-memory":
    try SelectionBenchmark.run(entries: Int(option("--entries") ?? "") ?? 10_000, incidents: Int(option("--incidents") ?? "") ?? 100)
case "blocking-pool":
    try await BlockingPoolBenchmark.run(jobs: Int(option("--jobs") ?? "") ?? 50, steps: Int(option("--steps") ?? "") ?? 100,
                                        rounds: Int(option("--rounds") ?? "") ?? 9)
case "serve-throughput":
    try await ServeThroughputBenchmark.run(seconds: Int(option("--seconds") ?? "") ?? 10, connections: Int(option("--connections") ?? "") ?? 64,
                                           threads: Int(option("--threads") ?? "") ?? 2, rounds: Int(option("--rounds") ?? "") ?? 3,
                                           baseline: option("--baseline"))
case "alert-storm":
    try await AlertStormBenchmark.run(posts: Int(option("--posts") ?? "") ?? 10_000, clients: Int(option("--clients") ?? "") ?? 64)
case "ha-storm":
    try await HighAvailabilityBenchmark.run(posts: Int(option("--posts") ?? "") ?? 5_000, clients: Int(option("--clients") ?? "") ?? 32,
                                            rounds: Int(option("--rounds") ?? "") ?? 2)
case "kb-append":
    try KnowledgeBenchmark.run(records: Int(option("--records") ?? "") ?? 2000, batch: Int(option("--batch") ?? "") ?? 100,
                               rounds: Int(option("--rounds") ?? "") ?? 3)
case "guard-overhead":
    try await GuardOverheadBenchmark.run(calls: Int(option("--calls") ?? "") ?? 200_000, rounds: Int(option("--rounds") ?? "") ?? 9)
case "guard-executor":
    try await GuardedExecutorBenchmark.run(calls: Int(option("--calls") ?? "") ?? 2000, rounds: Int(option("--rounds") ?? "") ?? 9)
case "kb-append-child":
    // One of the concurrent appenders of MedicKnowledgeTests, in a process of its own.
    try KnowledgeBenchmark.child(directory: option("--dir") ?? "", count: Int(option("--count") ?? "") ?? 100, tag: option("--tag") ?? "")
default:
    FileHandle.standardError.write(Data("usage: MedicBench validate-10k [--count N] [--no-peers] [--json] | hostile [--json] | run-100-noop [--steps N] [--rounds R] [--json] | corpus --out DIR | nab [--nab DIR] [--folds] [--json] | nab [--nab DIR] --windows NAME | detect-throughput [--series N] [--samples M] [--json] | detect-throughput --auto-rounds R [--series N] [--samples M] [--json] | rollout-1000 [--targets N] [--concurrency C] [--rounds R] [--no-shell] [--json] | watch-latency [--trials N] [--history H] [--cold] [--json] | run-index [--runs N] [--small S] [--rounds R] [--trials T] [--json] | run-history --out DIR [--runs N] [--list-rounds R] | kb-stats-1m [--records N] [--rounds R] [--json] | kb-append [--records N] [--batch B] [--rounds R] [--json] | select-memory [--entries N] [--incidents M] [--json] | blocking-pool [--jobs N] [--steps M] [--rounds R] [--json] | alert-storm [--posts N] [--clients C] [--json] | serve-throughput [--seconds S] [--connections C] [--threads T] [--rounds R] [--baseline MEDIC] [--json] | guard-overhead [--calls N] [--rounds R] [--json] | guard-executor [--calls N] [--rounds R] [--json] | ha-storm [--posts N] [--clients C] [--rounds R] [--json]\n".utf8))
    exit(2)
}
