import Foundation
import MedicEngine
import NIOPosix

/// `blocking-pool`: the threads a shell step's process is waited on. The engine's `BlockingPool`
/// (a thread per job running at once, reused, idle ones ending after 10 s) against NIO's
/// `NIOThreadPool` (a fixed number of threads), on the two loads a run puts on it:
/// - burst: `jobs` (50) shell steps `sleep 0.01` started at once, as the 50 targets of a rollout
///   wave are (`max_concurrency: 50`); the pool is new each round, as in a `medic run` process;
/// - sequence: `steps` (100) shell steps `true` one after another, as a playbook's steps are.
/// Every variant in every round, in turn (the order rotating), median of `rounds`.
enum BlockingPoolBenchmark {
    private struct Variant {
        var name: String
        /// Makes the pool, runs the jobs through it, ends it; returns the seconds the jobs took.
        var measure: (_ jobs: Int, _ concurrent: Bool) async throws -> Double
    }

    private static let burstStep = ShellCommand(script: "sleep 0.01", timeout: 30)
    private static let sequenceStep = ShellCommand(script: "true", timeout: 30)

    private static func jobs(_ count: Int, concurrent: Bool,
                             through perform: @escaping @Sendable (@escaping @Sendable () throws -> ShellResult) async throws -> ShellResult)
        async throws -> Double
    {
        try await Measure.seconds {
            if concurrent {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for _ in 0..<count {
                        group.addTask { _ = try await perform { try ShellExecutor.run(burstStep) } }
                    }
                    try await group.waitForAll()
                }
            } else {
                for _ in 0..<count { _ = try await perform { try ShellExecutor.run(sequenceStep) } }
            }
        }
    }

    private static func nio(threads: Int) -> Variant {
        Variant(name: "NIOThreadPool, \(threads) thread(s)") { count, concurrent in
            let pool = NIOThreadPool(numberOfThreads: threads)
            pool.start()
            let seconds = try await jobs(count, concurrent: concurrent) { body in try await pool.runIfActive(body) }
            try await pool.shutdownGracefully()
            return seconds
        }
    }

    static func run(jobs burst: Int, steps: Int, rounds: Int) async throws {
        let cores = ProcessInfo.processInfo.activeProcessorCount
        let variants = [
            Variant(name: "BlockingPool (grows)") { count, concurrent in
                let pool = BlockingPool()
                return try await jobs(count, concurrent: concurrent) { body in try await pool.perform(body) }
            },
            nio(threads: cores),
            nio(threads: burst),
        ]
        var burstTimes = Array(repeating: [Double](), count: variants.count)
        var sequenceTimes = Array(repeating: [Double](), count: variants.count)
        for round in 0..<rounds {
            for turn in 0..<variants.count {
                let index = (turn + round) % variants.count
                burstTimes[index].append(try await variants[index].measure(burst, true))
                sequenceTimes[index].append(try await variants[index].measure(steps, false))
            }
        }
        func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }
        let ideal = 0.01
        var lines = ["blocking-pool: \(burst) shell steps `sleep 0.01` at once (ideal \(ideal * 1000) ms), then \(steps) steps `true` "
            + "one after another; median of \(rounds), variants interleaved; \(cores) core(s)"]
        var fields: [(String, Any)] = [("jobs", burst), ("steps", steps), ("rounds", rounds), ("cores", cores)]
        for (index, variant) in variants.enumerated() {
            let (b, s) = (median(burstTimes[index]), median(sequenceTimes[index]))
            lines.append("  " + variant.name.padding(toLength: 30, withPad: " ", startingAt: 0)
                + String(format: " burst %7.1f ms (%5.1fx ideal)   sequence %7.1f ms (%.2f ms a step)", b * 1000, b / ideal, s * 1000, s * 1000 / Double(steps)))
            fields.append((variant.name, ["burst_seconds": b, "sequence_seconds": s]))
        }
        report("blocking-pool", fields, lines: lines)
    }
}
