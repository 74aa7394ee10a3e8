import Foundation
import MedicTestSupport

/// `hostile`: each hostile input of the foundation issue through the medic binary, with its
/// wall time and peak memory (targets: under 1 s and under 100 MB each).
enum HostileBenchmark {
    static func run() throws {
        let dir = try scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        var rows: [[String: Any]] = []
        var lines = ["hostile: each input through `medic validate` (targets: < 1 s, < 100 MB)"]
        var allMet = true
        for input in HostileInput.all {
            let path = dir.appendingPathComponent(input.name).path
            _ = FileManager.default.createFile(atPath: path, contents: Data(input.bytes))
            // --root at the scratch folder: no library folders there, so only the input is read.
            guard let run = Measure.child(medicBinary, ["validate", "--quiet", "--root", dir.path] + input.arguments + [path]) else { continue }
            let met = run.status == 1 && run.seconds < 1 && run.peakRSS < 100_000_000
            allMet = allMet && met
            rows.append(["input": input.name, "seconds": run.seconds, "peak_rss_bytes": run.peakRSS, "exit": run.status, "target_met": met])
            lines.append(String(format: "  %@ %6.3f s  %@  exit %d  %@", input.name.padding(toLength: 22, withPad: " ", startingAt: 0), run.seconds,
                                Measure.megabytes(run.peakRSS), run.status, met ? "ok" : "MISSED"))
        }
        report("hostile", [("inputs", rows), ("all_targets_met", allMet)], lines: lines)
    }
}
