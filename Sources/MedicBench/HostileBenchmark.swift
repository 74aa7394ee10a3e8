import Foundation

/// `hostile`: each hostile input of the foundation issue through the medic binary, with its
/// wall time and peak memory (targets: under 1 s and under 100 MB each).
enum HostileBenchmark {
    static func aliasLayers(_ last: String) -> String {
        var lines = [#"a0: &a0 ["x", "x", "x", "x", "x", "x", "x", "x", "x", "x"]"#]
        for i in 1..<10 { lines.append("a\(i): &a\(i) [" + Array(repeating: "*a\(i - 1)", count: 10).joined(separator: ", ") + "]") }
        lines.append(last)
        return lines.joined(separator: "\n") + "\n"
    }

    static var inputs: [(name: String, bytes: [UInt8], extra: [String])] {
        let big = "playbook_id: '" + String(repeating: "x", count: 10 << 20) + "'\n"
        return [
            ("alias-bomb.yaml", Array(aliasLayers("playbook_id: *a9").utf8), []),
            ("alias-key-bomb.yaml", Array(aliasLayers("? *a9\n: 1").utf8), []),
            ("nesting-100k.yaml", Array(("a: " + String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)).utf8), []),
            ("nesting-100k.json", Array((String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)).utf8), []),
            ("scalar-10MB.yaml", Array(big.utf8), ["--max-file-size", "16MiB"]),
            ("over-size-limit.yaml", Array(big.utf8), []),
            ("nul.yaml", Array("playbook_id: a".utf8) + [0] + Array("b\n".utf8), []),
            ("invalid-utf8.yaml", Array("playbook_id: caf".utf8) + [0xE9, 0x0A], []),
            ("empty.yaml", [], []),
            ("python-tag.yaml", Array("playbook_id: !!python/object/apply:os.system ['echo hi']\n".utf8), []),
            ("trailing-comma.json", Array(#"{"playbook_id": "x",}"#.utf8), []),
        ]
    }

    static func run() throws {
        let dir = try scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        var rows: [[String: Any]] = []
        var lines = ["hostile: each input through `medic validate` (targets: < 1 s, < 100 MB)"]
        var allMet = true
        for input in inputs {
            let path = dir.appendingPathComponent(input.name).path
            _ = FileManager.default.createFile(atPath: path, contents: Data(input.bytes))
            // --root at the scratch folder: no library folders there, so only the input is read.
            guard let run = Measure.child(medicBinary, ["validate", "--quiet", "--root", dir.path] + input.extra + [path]) else { continue }
            let met = run.status == 1 && run.seconds < 1 && run.peakRSS < 100_000_000
            allMet = allMet && met
            rows.append(["input": input.name, "seconds": run.seconds, "peak_rss_bytes": run.peakRSS, "exit": run.status, "target_met": met])
            lines.append(String(format: "  %@ %6.3f s  %@  exit %d  %@", input.name.padding(toLength: 22, withPad: " ", startingAt: 0), run.seconds,
                                Measure.megabytes(run.peakRSS), run.status, met ? "ok" : "MISSED"))
        }
        report("hostile", [("inputs", rows), ("all_targets_met", allMet)], lines: lines)
    }
}
