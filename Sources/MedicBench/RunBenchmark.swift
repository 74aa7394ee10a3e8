import Foundation

/// `run-100-noop`: a playbook of 100 shell steps running `true`, carried out by `medic run`
/// (process start, catalog load, plan, safety gates, 100 journaled steps with their fsyncs, verification-free
/// end), against its floor: a plain shell loop starting `/bin/true` 100 times. Both are measured
/// in the same run, medians of `rounds` runs each, alternating so that noise hits both alike.
enum RunBenchmark {
    static func run(steps: Int, rounds: Int) throws {
        let dir = try scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("actions"), withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("playbooks"), withIntermediateDirectories: true)
        try """
            actions:
              noop:
                type: infrastructure
                risk_level: low
                implementation: "true"
            """.write(to: dir.appendingPathComponent("actions/noop.yaml"), atomically: true, encoding: .utf8)
        var playbook = """
            playbook_id: noop-\(steps)
            name: \(steps) steps of true
            version: 1.0.0
            category: infrastructure
            severity: SEV3
            remediation_steps:

            """
        for n in 1...steps { playbook += "  - {step: \(n), name: noop \(n), action: noop}\n" }
        playbook += "metadata: {}\n"
        try playbook.write(to: dir.appendingPathComponent("playbooks/noop.yaml"), atomically: true, encoding: .utf8)

        let loop = "i=0; while [ $i -lt \(steps) ]; do /bin/true; i=$((i+1)); done"
        var floors: [Double] = [], medics: [Double] = []
        var peak = 0
        for round in 0..<rounds {
            guard let floor = Measure.child("/bin/sh", ["-c", loop]), floor.status == 0 else { fatalError("the shell loop failed") }
            let state = dir.appendingPathComponent("state-\(round)").path
            guard let medic = Measure.child(medicBinary, ["run", "noop-\(steps)", "--root", dir.path, "--state-dir", state]) else {
                fatalError("cannot run \(medicBinary)")
            }
            guard medic.status == 0 else { fatalError("medic run failed (exit \(medic.status)); the benchmark is invalid") }
            let journal = try FileManager.default.contentsOfDirectory(atPath: state + "/runs").first { $0.hasSuffix(".jsonl") }
            let records = try String(contentsOfFile: state + "/runs/" + (journal ?? ""), encoding: .utf8).split(separator: "\n").count
            // run_started, gates_evaluated, each step's step_started, step_process and step_finished, run_finished.
            precondition(records == 3 * steps + 3, "expected \(3 * steps + 3) journal records, found \(records)")
            floors.append(floor.seconds)
            medics.append(medic.seconds)
            peak = max(peak, medic.peakRSS)
        }
        let floor = floors.sorted()[rounds / 2], medic = medics.sorted()[rounds / 2]
        report("run-100-noop", [
            ("steps", steps), ("rounds", rounds), ("floor_seconds", floor), ("medic_seconds", medic),
            ("ratio_to_floor", medic / floor), ("medic_peak_rss_bytes", peak),
        ], lines: [
            "run-100-noop: \(steps) shell steps running `true`, median of \(rounds) runs each",
            String(format: "  floor: sh loop of /bin/true  %7.3f s", floor),
            String(format: "  medic run (journaled)        %7.3f s  peak %@  = %.2fx the floor (target <= 1.5x)", medic,
                   Measure.megabytes(peak), medic / floor),
        ])
    }
}
