import Foundation
import MedicEngine
import MedicLoader
import MedicModel

/// `rollout-1000`: a rollout of one 10 ms step over 1,000 targets, at most 50 at a time, in four
/// stages (1%, 10%, 50%, 100%) with no wait, against its ideal: the sum over stages of
/// ceil(stage's targets / 50) x 10 ms (210 ms). Two measurements:
/// - engine: the interpreter in a child process (this binary, `rollout-child`), with a step
///   executor that sleeps 10 ms in place of a process, and the real journal (one record per
///   transition, group-committed fsyncs): the rollout machinery's own cost. Peak memory is the
///   child's whole-process peak RSS.
/// - binary: `medic run` with a shell step `sleep 0.01` per target (targets from
///   `--targets-command`), so process start, catalog, gates and 1,000 x 2 process spawns
///   (`sh` + `sleep`) on this machine are in it; against its peer, `xargs -P 50` starting the
///   same processes with no stages, journal or checks.
enum RolloutBenchmark {
    static let stages = "[1%, 10%, 50%, 100%]"

    static func ideal(targets: Int, concurrency: Int, step: Double) -> Double {
        var covered = 0
        var total = 0.0
        for share in [1.0, 10, 50, 100] {
            let upTo = min(targets, max(1, Int((share / 100 * Double(targets) - 1e-9).rounded(.up))))
            guard upTo > covered else { continue }
            total += (Double(upTo - covered) / Double(concurrency)).rounded(.up) * step
            covered = upTo
        }
        return total
    }

    static func playbook(targets: Int?, concurrency: Int, script: String) -> (actions: String, playbook: String) {
        let actions = """
            actions:
              pause:
                type: infrastructure
                risk_level: low
                implementation: \(script)
            """
        var playbook = """
            playbook_id: rollout-bench
            name: Rollout benchmark
            version: 1.0.0
            category: infrastructure
            severity: SEV3

            """
        if let targets {
            playbook += "targets:\n" + (1...targets).map { "  - h\(String(format: "%04d", $0))" }.joined(separator: "\n") + "\n"
        }
        playbook += """
            rollout:
              stages: \(stages)
              max_concurrency: \(concurrency)
            remediation_steps:
              - {step: 1, name: pause, action: pause}
            metadata: {}

            """
        return (actions, playbook)
    }

    static func run(targets: Int, concurrency: Int, rounds: Int, shell: Bool) throws {
        let ideal = ideal(targets: targets, concurrency: concurrency, step: 0.010)
        var engine: [Double] = [], peaks: [Int] = [], binary: [Double] = [], xargs: [Double] = []
        let dir = try scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let me = CommandLine.arguments[0]
        for round in 0..<rounds {
            let result = dir.appendingPathComponent("child-\(round).txt").path
            guard let child = Measure.child(me, ["rollout-child", "--targets", "\(targets)", "--concurrency", "\(concurrency)",
                                                 "--state", dir.appendingPathComponent("engine-\(round)").path, "--out", result]),
                  child.status == 0, let text = try? String(contentsOfFile: result, encoding: .utf8), let seconds = Double(text) else {
                fatalError("the rollout child failed; the benchmark is invalid")
            }
            engine.append(seconds)
            peaks.append(child.peakRSS)
        }
        if shell {
            let (actions, playbook) = Self.playbook(targets: nil, concurrency: concurrency, script: "sleep 0.01")
            try FileManager.default.createDirectory(at: dir.appendingPathComponent("actions"), withIntermediateDirectories: true)
            try FileManager.default.createDirectory(at: dir.appendingPathComponent("playbooks"), withIntermediateDirectories: true)
            try actions.write(to: dir.appendingPathComponent("actions/a.yaml"), atomically: true, encoding: .utf8)
            try playbook.write(to: dir.appendingPathComponent("playbooks/p.yaml"), atomically: true, encoding: .utf8)
            for _ in 0..<rounds {
                // The peer: the same processes, 50 at a time, with no stages, journal or checks.
                guard let peer = Measure.child("/bin/sh", ["-c", "seq \(targets) | xargs -P \(concurrency) -I{} sh -c 'sleep 0.01'"]),
                      peer.status == 0 else { fatalError("the xargs peer failed") }
                xargs.append(peer.seconds)
            }
            for round in 0..<rounds {
                guard let run = Measure.child(medicBinary, [
                    "run", "rollout-bench", "--root", dir.path, "--state-dir", dir.appendingPathComponent("binary-\(round)").path,
                    "--targets-command", "seq -f h%04g \(targets)",
                ]), run.status == 0 else { fatalError("medic run failed; the benchmark is invalid") }
                binary.append(run.seconds)
            }
        }
        let median = { (values: [Double]) in values.sorted()[values.count / 2] }
        let e = median(engine), peak = peaks.max() ?? 0
        var fields: [(String, Any)] = [
            ("targets", targets), ("max_concurrency", concurrency), ("rounds", rounds), ("ideal_seconds", ideal),
            ("engine_seconds", e), ("engine_ratio_to_ideal", e / ideal), ("engine_peak_rss_bytes", peak),
        ]
        var lines = [
            "rollout-\(targets): \(targets) targets, one 10 ms step each, at most \(concurrency) at a time, stages \(stages), no wait; median of \(rounds)",
            String(format: "  ideal (sum of ceil(stage / %d) x 10 ms)       %7.3f s", concurrency, ideal),
            String(format: "  engine (10 ms sleep executor, real journal) %7.3f s  = %.3fx ideal (target <= 1.15x), peak %@ (target < 100 MB)",
                   e, e / ideal, Measure.megabytes(peak)),
        ]
        if !binary.isEmpty {
            let b = median(binary), x = median(xargs)
            fields += [("binary_seconds", b), ("binary_ratio_to_ideal", b / ideal), ("xargs_seconds", x), ("binary_ratio_to_xargs", b / x)]
            lines.append(String(format: "  peer: xargs -P %d sh -c 'sleep 0.01'         %7.3f s  (the same processes, no stages)", concurrency, x))
            lines.append(String(format: "  medic run (sh -c 'sleep 0.01' per target)   %7.3f s  = %.2fx the xargs peer, %.2fx ideal", b, b / x, b / ideal))
        }
        report("rollout-\(targets)", fields, lines: lines)
    }

    /// The measured part, in its own process: plan (not timed), then the run.
    static func child(targets: Int, concurrency: Int, stepSeconds: Double, state: String, out: String) async throws {
        let (actions, playbook) = Self.playbook(targets: targets, concurrency: concurrency, script: "\"true\"")
        let loaded = CatalogLoader().load(documents: [("actions/a.yaml", Array(actions.utf8)), ("playbooks/p.yaml", Array(playbook.utf8))])
        guard !loaded.hasErrors, let chosen = loaded.catalog.playbooks.first else { fatalError(DiagnosticRenderer.text(loaded.diagnostics)) }
        let plan = try Planner(catalog: loaded.catalog).plan(chosen)
        let sleeper = SleepExecutor(seconds: stepSeconds)
        let clock = SystemClock()
        let interpreter = Interpreter(
            executors: ExecutorSet(shell: sleeper, bus: sleeper, http: sleeper),
            verifier: Verifier(evaluator: ConditionEvaluator(metrics: MetricRegistry(sources: [])), clock: clock), clock: clock)
        let store = try RunStore(directory: state)
        var report: RunReport?
        let seconds = try await Measure.seconds { report = try await interpreter.start(plan, in: store) }
        guard report?.outcome == .succeeded, report?.rollout?.targets.allSatisfy({ $0.status == "succeeded" }) == true else {
            fatalError("the rollout did not succeed: \(report?.message ?? "?")")
        }
        let records = try await store.read(runID: report!.runID).records
        precondition(records.filter { $0.event == .targetFinished }.count == targets, "every target journaled")
        try String(seconds).write(toFile: out, atomically: true, encoding: .utf8)
    }
}

/// A step that takes `seconds` and succeeds, without a process: the rollout's own overhead.
struct SleepExecutor: StepExecutor {
    let seconds: Double

    func execute(_ request: ExecutionRequest) async throws -> ExecutionResult {
        try await Task.sleep(nanoseconds: UInt64(seconds * 1e9))
        return ExecutionResult(succeeded: true, exitStatus: 0, seconds: seconds, summary: "slept")
    }
}
