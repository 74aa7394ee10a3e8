import Foundation
import MedicTestSupport

/// `kill-torture`: the medic binary SIGKILLed at random moments until `kills` kills, resumed
/// until each run finishes, and every run checked from its steps' side effects (`KillTorture`).
/// Not a speed figure: counts of what the kills hit and what resume decided, and the violations
/// (none expected).
enum KillTortureBenchmark {
    static func run(kills target: Int, window: ClosedRange<Double>) throws {
        let dir = try scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        var total = KillTorture.Report()
        let start = Date()
        var batch = 0
        while total.kills < target {
            batch += 1
            let folder = dir.appendingPathComponent("batch-\(batch)")
            let part = try KillTorture(medic: medicBinary, directory: folder).run(runs: 5, maxKills: 12, killWindow: window)
            total.add(part)
            if !json {
                FileHandle.standardError.write(Data("  \(total.kills) kills, \(total.runs) runs, \(total.violations.count) violations\n".utf8))
            }
            try? FileManager.default.removeItem(at: folder)
        }
        let seconds = Date().timeIntervalSince(start)
        report("kill-torture", [
            ("runs", total.runs), ("kills", total.kills), ("kills_during_resume", total.killsDuringResume),
            ("kills_before_run_started", total.killsBeforeStart), ("orphans_found", total.orphansFound),
            ("orphans_stopped_at_timeout", total.orphansStopped), ("in_flight_verified", total.verified),
            ("in_flight_rerun", total.rerun), ("outcomes", total.outcomes), ("violations", total.violations),
            ("seconds", seconds),
        ], lines: summary(total, seconds: seconds))
    }

    private static func summary(_ total: KillTorture.Report, seconds: Double) -> [String] {
        var lines = ["kill-torture: \(total.kills) SIGKILLs over \(total.runs) runs of 20 steps (half not idempotent) in \(Int(seconds)) s"]
        lines.append("  kills during resume \(total.killsDuringResume), before run_started \(total.killsBeforeStart)")
        lines.append("  resumes that found a killed Medic's step still running: \(total.orphansFound) (stopped at its timeout: \(total.orphansStopped))")
        lines.append("  steps in flight: counted done after their verification \(total.verified), run again \(total.rerun)")
        let outcomes = total.outcomes.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
        lines.append("  outcomes: \(outcomes)")
        lines.append("  violations: \(total.violations.count)")
        return lines + total.violations.map { "    \($0)" }
    }
}
