import Foundation
import MedicLoader

/// `validate-10k`: the whole validation of 10,000 playbooks of about 40 lines plus the action
/// library, through the medic binary (process start, reading, parsing, decoding, linting,
/// printing), against check-jsonschema and a bare PyYAML C parse of the same files.
enum ValidateBenchmark {
    static func run(count: Int, peers: Bool) throws {
        let dir = try scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let paths = try Workloads.writeValidateCorpus(count: count, to: dir)
        let root = dir.path

        // Warm the page cache so every tool reads from memory.
        _ = Measure.child("cat", paths)

        // The median of five runs (medic takes under a second; the peers run once).
        var runs: [Measure.ChildRun] = []
        for _ in 0..<5 {
            guard let run = Measure.child(medicBinary, ["validate", "--quiet", "--root", root]) else {
                fatalError("cannot run \(medicBinary)")
            }
            guard run.status == 0 else {
                fatalError("medic validate found problems in the generated corpus (exit \(run.status)); the benchmark is invalid")
            }
            runs.append(run)
        }
        let medic = runs.sorted { $0.seconds < $1.seconds }[2]
        // In-process, to separate loading from process start-up.
        var inProcess = 0.0
        var loaded = 0
        inProcess = Measure.seconds {
            let result = CatalogLoader().load(paths: [root + "/playbooks", root + "/actions"])
            loaded = result.catalog.playbooks.count
            precondition(!result.hasErrors)
        }
        precondition(loaded == count)

        var fields: [(String, Any)] = [
            ("files", count + 1), ("medic_seconds", medic.seconds), ("medic_files_per_second", Double(count + 1) / medic.seconds),
            ("medic_peak_rss_bytes", medic.peakRSS), ("in_process_seconds", inProcess),
        ]
        var lines = [
            "validate-10k: \(count) playbooks + 1 action library",
            String(format: "  medic validate (process)   %7.3f s  %9.0f files/s  peak %@  (median of 5)", medic.seconds,
                   Double(count + 1) / medic.seconds, Measure.megabytes(medic.peakRSS)),
            String(format: "  medic loader (in process)  %7.3f s  %9.0f files/s", inProcess, Double(count + 1) / inProcess),
        ]
        if peers {
            let schema = FileManager.default.currentDirectoryPath + "/schemas/playbook.schema.json"
            if let check = Measure.child("check-jsonschema", ["--schemafile", schema] + paths) {
                fields += [("check_jsonschema_seconds", check.seconds), ("check_jsonschema_status", check.status),
                           ("speedup_vs_check_jsonschema", check.seconds / medic.seconds)]
                lines.append(String(format: "  check-jsonschema           %7.3f s  (exit %d)  medic is %.1fx faster", check.seconds,
                                    check.status, check.seconds / medic.seconds))
            } else {
                lines.append("  check-jsonschema: not installed (pip install check-jsonschema)")
            }
            let script = """
                import glob, sys, yaml
                for f in sorted(glob.glob(sys.argv[1] + '/playbooks/*.yaml')):
                    with open(f, 'rb') as h: yaml.load(h, Loader=yaml.CSafeLoader)
                """
            if let pyyaml = Measure.child("python3", ["-c", script, root]), pyyaml.status == 0 {
                fields += [("pyyaml_c_seconds", pyyaml.seconds), ("speedup_vs_pyyaml_c", pyyaml.seconds / medic.seconds)]
                lines.append(String(format: "  PyYAML CSafeLoader parse   %7.3f s  medic is %.1fx faster", pyyaml.seconds, pyyaml.seconds / medic.seconds))
            } else {
                lines.append("  PyYAML with libyaml: not available")
            }
        }
        lines.append("  reproduce: swift build -c release && (cd <repo> && .build/release/MedicBench validate-10k)")
        report("validate-10k", fields, lines: lines)
    }
}
